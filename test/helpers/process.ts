/**
 * Runs a command to completion for tests and collects what it printed: no shell, an argument
 * vector, SIGKILL after an optional timeout. Never rejects on a non-zero exit (the test checks
 * `code`); rejects only when the command cannot be started.
 *
 *   import { logbanCli, runProcess } from '../helpers/process.js';
 *   const r = await logbanCli(['status', '--socket', socket]);      // { code, stdout, stderr }
 *   const f = await runProcess('fail2ban-regex', [log, filter], { timeoutMs: 60_000 });
 */
import { spawn } from 'node:child_process';
import { cliPath } from './paths.js';

export interface ProcessResult {
  /** exit code; null when killed by a signal (the timeout's SIGKILL included) */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunProcessOptions {
  /** the child's whole environment; default: this process's */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** written to stdin, which is then closed; without it stdin is /dev/null */
  input?: string;
  /** SIGKILL the command after this long; default: no limit */
  timeoutMs?: number;
}

/** Run `cmd args` and resolve with its exit code and output once it has exited. */
export function runProcess(cmd: string, args: readonly string[], opts: RunProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const withInput = opts.input !== undefined;
    const p = spawn(cmd, args, { stdio: [withInput ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (withInput) {
      // a command that exits without reading its input must not fail the run with EPIPE
      p.stdin!.on('error', () => undefined);
      p.stdin!.end(opts.input);
    }
  });
}

/**
 * Run the `logban` command line as a user runs it: `env -u NODE_OPTIONS node bin/logban.js ARGS`.
 * Default timeout 30 s.
 */
export function logbanCli(args: readonly string[], opts: RunProcessOptions = {}): Promise<ProcessResult> {
  // `env -u NODE_OPTIONS`: the test runner puts its TypeScript and coverage hooks in NODE_OPTIONS,
  // which makes every `node` we start several times slower; the CLI runs as a user runs it.
  return runProcess('env', ['-u', 'NODE_OPTIONS', process.execPath, cliPath, ...args], { ...opts, timeoutMs: opts.timeoutMs ?? 30_000 });
}
