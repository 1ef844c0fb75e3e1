// Running nft: one process per transaction (`nft -j -f -`, for bulk) and a long-lived
// `nft -j -i` session (for small batches: a fresh process costs ~10 ms, a line on an open
// session well under 1 ms). Always an argument vector, never a shell.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** nft failed; the message carries nft's own words. */
export class NftError extends Error {
  override readonly name = 'NftError';
  constructor(message: string, readonly stderr: string, readonly exitCode: number | null) {
    super(message);
  }
}

export interface NftInvocation {
  /** nft binary; default `nft` from PATH */
  nftPath?: string;
  /** run inside this network namespace through `ip netns exec` (tests) */
  netns?: string;
}

function commandFor(inv: NftInvocation, args: string[]): [string, string[]] {
  const nft = inv.nftPath ?? 'nft';
  return inv.netns ? ['ip', ['netns', 'exec', inv.netns, nft, ...args]] : [nft, args];
}

const clip = (s: string, n = 2000): string => (s.length > n ? `${s.slice(0, n)}…` : s).trim();

/**
 * Run `nft ARGS` once. With `input`, the `-` after `-f` is replaced by a private temporary file
 * holding it: nft opens `/dev/stdin` for `-f -`, which fails on the socket node gives a child
 * as its stdin. Rejects with NftError on a non-zero exit.
 */
export async function runNft(inv: NftInvocation, args: string[], input?: string, timeoutMs = 300_000): Promise<{ stdout: string; stderr: string }> {
  if (input === undefined) return runOnce(inv, args, timeoutMs);
  const dir = await mkdtemp(path.join(tmpdir(), 'logban-nft-'));
  try {
    const file = path.join(dir, 'batch');
    await writeFile(file, input, { mode: 0o600 });
    const i = args.indexOf('-f');
    const withFile = i >= 0 && args[i + 1] === '-' ? [...args.slice(0, i + 1), file, ...args.slice(i + 2)] : args;
    return await runOnce(inv, withFile, timeoutMs, args);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runOnce(inv: NftInvocation, args: string[], timeoutMs: number, shown = args): Promise<{ stdout: string; stderr: string }> {
  const [cmd, argv] = commandFor(inv, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new NftError(`cannot run ${cmd}: ${e.message}`, '', null));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout, stderr });
      else reject(new NftError(`nft ${shown.join(' ')} failed (${signal ?? `exit ${code}`}): ${clip(stderr) || 'no message'}`, stderr, code));
    });
  });
}

interface Pending {
  marker: string;
  errLines: string[];
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface NftSessionOptions {
  /** restart the process after this many requests (nft keeps every line in memory) */
  recycleAfter?: number;
  timeoutMs?: number;
}

/**
 * A long-lived `nft -j -i`. Each request is one line (a JSON document = one transaction, or a
 * text command) followed by a marker line that is a deliberate syntax error: nft reports it on
 * stderr, after any error of the request itself, so stderr alone tells where a request ends
 * and whether it failed. Requests run one at a time.
 */
export class NftSession {
  private proc: ChildProcess | null = null;
  private seq = 0;
  private served = 0;
  private current: Pending | null = null;
  private skipCaret = false;
  private partial = '';
  private chain: Promise<void> = Promise.resolve();
  private readonly recycleAfter: number;
  private readonly timeoutMs: number;

  constructor(private readonly inv: NftInvocation, opts: NftSessionOptions = {}) {
    this.recycleAfter = opts.recycleAfter ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** pid of the running nft (or `ip netns exec`) process, if any */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Send one single-line request; resolves when nft has processed it, rejects with its error. */
  run(line: string): Promise<void> {
    if (line.includes('\n')) return Promise.reject(new Error('nft session request must be one line'));
    const p = this.chain.then(() => this.runNow(line));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async runNow(line: string): Promise<void> {
    if (this.proc && this.served >= this.recycleAfter) await this.shutdown();
    const proc = this.proc ?? this.spawn();
    this.served++;
    const marker = `logban-batch-done-${++this.seq}`;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new NftError(`nft session gave no answer within ${this.timeoutMs} ms`, '', null));
        proc.kill('SIGKILL');
      }, this.timeoutMs);
      this.current = { marker, errLines: [], resolve, reject, timer };
      proc.stdin?.write(`${line}\n${marker}\n`);
    });
  }

  private spawn(): ChildProcess {
    // nft -i appends every line to $HOME/.nft.history. HOME=/dev/null makes that path
    // impossible to create, so nothing is written and nothing is left behind; the in-memory
    // history is bounded by recycling the process.
    const [cmd, argv] = commandFor(this.inv, ['-j', '-i']);
    const proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: '/dev/null' } });
    this.proc = proc;
    this.served = 0;
    this.partial = '';
    this.skipCaret = false;
    proc.stdout?.resume(); // output of text `get`/`list` requests is not needed
    proc.stdin?.on('error', () => undefined);
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (s: string) => this.onStderr(s));
    proc.on('error', (e) => this.fail(new NftError(`cannot run ${cmd}: ${e.message}`, '', null)));
    proc.on('close', (code, signal) => {
      if (this.proc !== proc) return; // an old process we already replaced
      this.proc = null;
      this.fail(new NftError(`nft session ended (${signal ?? `exit ${code}`})`, '', code));
    });
    return proc;
  }

  private onStderr(s: string): void {
    const lines = (this.partial + s).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const cur = this.current;
      if (this.skipCaret && /^\s*\^+\s*$/.test(line)) {
        this.skipCaret = false;
        continue;
      }
      this.skipCaret = false;
      if (!cur) continue;
      if (line === cur.marker) {
        // the marker's own report is "Error: syntax error ..." on the line before it
        if (cur.errLines.length > 0 && /^Error: syntax error/.test(cur.errLines[cur.errLines.length - 1])) cur.errLines.pop();
        this.skipCaret = true;
        this.current = null;
        clearTimeout(cur.timer);
        const text = cur.errLines.join('\n').trim();
        if (text === '') cur.resolve();
        else cur.reject(new NftError(`nft failed: ${clip(text)}`, text, 1));
      } else {
        cur.errLines.push(line);
      }
    }
  }

  private fail(e: Error): void {
    const cur = this.current;
    if (!cur) return;
    this.current = null;
    clearTimeout(cur.timer);
    const text = cur.errLines.join('\n').trim();
    cur.reject(text ? new NftError(`${e.message}: ${clip(text)}`, text, null) : e);
  }

  private async shutdown(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    await new Promise<void>((resolve) => {
      proc.once('close', () => resolve());
      proc.stdin?.end();
      setTimeout(() => proc.kill('SIGKILL'), 2000).unref();
    });
  }

  /** End the process (a later run() starts a new one). */
  async close(): Promise<void> {
    await this.chain;
    await this.shutdown();
  }
}
