// Runs a program (argument vector, never a shell), timing it and optionally reading its peak
// resident set size.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** read the process's peak RSS (VmHWM) */
  measureRss?: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** wall-clock seconds from spawn to exit */
  seconds: number;
  /** peak RSS in bytes, when asked for and readable */
  peakRssBytes?: number;
  /** how peakRssBytes was obtained */
  rssMethod?: 'time -f %M' | 'VmHWM polling';
}

const GNU_TIME = '/usr/bin/time';
const MAX_CAPTURE = 64 << 20;

export function hasProgram(name: string): boolean {
  const dirs = (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  return dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function readHwmBytes(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  // GNU time reports the child's peak RSS from wait4() exactly; polling /proc can miss a
  // peak in the last few milliseconds, so it is only the fallback.
  const useTime = opts.measureRss === true && fs.existsSync(GNU_TIME);
  const timeFile = useTime ? path.join(os.tmpdir(), `logban-bench-time-${process.pid}-${Date.now()}`) : '';
  const argv = useTime ? ['-f', '%M', '-o', timeFile, cmd, ...args] : [...args];
  const program = useTime ? GNU_TIME : cmd;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(program, argv, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on('data', (b: Buffer) => {
      if ((outLen += b.length) < MAX_CAPTURE) out.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      if ((errLen += b.length) < MAX_CAPTURE) err.push(b);
    });
    let hwm: number | undefined;
    const poll = opts.measureRss && !useTime && child.pid !== undefined
      ? setInterval(() => {
        const v = readHwmBytes(child.pid!);
        if (v !== undefined) hwm = Math.max(hwm ?? 0, v);
      }, 20)
      : undefined;
    const timer = opts.timeoutMs
      ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
      : undefined;
    child.on('error', (e) => {
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
      reject(e);
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // the child may exit without reading everything
      child.stdin.end(opts.input);
    }
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
      const result: RunResult = {
        code, signal, seconds,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (useTime) {
        try {
          const text = fs.readFileSync(timeFile, 'latin1');
          fs.rmSync(timeFile, { force: true });
          // with a failing command GNU time writes "Command exited with non-zero status N" first
          const kb = Number(text.trim().split('\n').pop());
          if (Number.isFinite(kb) && kb > 0) {
            result.peakRssBytes = kb * 1024;
            result.rssMethod = 'time -f %M';
          }
          if (code !== 0 && /Command (exited|terminated)/.test(text)) result.stderr += text;
        } catch {
          // no report: leave peakRssBytes undefined
        }
      } else if (hwm !== undefined) {
        result.peakRssBytes = hwm;
        result.rssMethod = 'VmHWM polling';
      }
      resolve(result);
    });
  });
}

/** First line of stderr/stdout, for error messages about a failed child. */
export function failureText(r: RunResult): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join(' | ');
  return `exit ${r.code ?? r.signal}: ${text.slice(0, 500)}`;
}
