// journald source for `backend = systemd` jails: a `journalctl -o json --follow` child process
// whose entries become syslog-style lines (see journal-format.ts) in line-aligned chunks.
// The cursor of the last entry handed on is kept so a restart (of journalctl or of logban)
// resumes right after it.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Chunk } from '../types.js';
import { UserError } from '../errors.js';
import { formatJournalEntry, journalMatchArgs, type JournalEntry } from './journal-format.js';

export interface JournalSourceOptions {
  /** jail name: the chunk source is `journal:<jail>` */
  jail: string;
  /** journalmatch lines of the filter/jail */
  journalmatch: readonly string[];
  /** journalctl, as a path or as an argument vector prefix (tests use a stand-in script) */
  journalctl?: string | readonly string[];
  /** resume after this cursor (from the store); otherwise start with new entries only */
  cursor?: string;
  /** 'start': with no cursor, read the whole journal (replay); default 'end' */
  start?: 'end' | 'start';
  /** false: read what is there and stop (replay); default true */
  follow?: boolean;
  /** extra journalctl arguments, e.g. ['--directory', DIR] or ['--system'] */
  extraArgs?: readonly string[];
  /** first delay before restarting a journalctl that died (doubles up to 30 s) */
  restartDelayMs?: number;
  onChunk: (c: Chunk) => Promise<void> | void;
  onWarning?: (msg: string) => void;
  onError?: (err: Error) => void;
}

export interface JournalStats {
  entries: number;
  /** JSON lines journalctl printed that were not an entry */
  badEntries: number;
  restarts: number;
}

/** Fields the line needs; journalctl always adds __CURSOR and the timestamps. */
const OUTPUT_FIELDS = [
  'MESSAGE', '_HOSTNAME', 'SYSLOG_IDENTIFIER', '_COMM', 'SYSLOG_PID', '_PID',
  '_SOURCE_REALTIME_TIMESTAMP', '_SOURCE_MONOTONIC_TIMESTAMP',
].join(',');
/** A JSON line longer than this is dropped instead of buffered (journald caps entries far lower). */
const MAX_JSON_LINE = 16 * 1024 * 1024;
const MAX_RESTART_DELAY_MS = 30_000;

export class JournalSource {
  private child: ChildProcess | null = null;
  private lastCursor: string | undefined;
  private partial: Buffer[] = [];
  private partialLen = 0;
  private emitted = 0;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private delay: number;
  private exitWaiters: Array<() => void> = [];
  private chain: Promise<void> = Promise.resolve();
  private readonly counters: JournalStats = { entries: 0, badEntries: 0, restarts: 0 };
  private readonly source: string;
  private finished!: Promise<void>;
  private finish!: () => void;

  constructor(private readonly opts: JournalSourceOptions) {
    this.lastCursor = opts.cursor;
    this.delay = opts.restartDelayMs ?? 1000;
    this.source = `journal:${opts.jail}`;
    this.finished = new Promise((r) => (this.finish = r));
  }

  /** The journalctl argument vector for the next start. */
  args(): string[] {
    const a = ['-o', 'json', '--no-pager', `--output-fields=${OUTPUT_FIELDS}`];
    if (this.opts.follow !== false) a.push('--follow');
    if (this.lastCursor) a.push('--after-cursor', this.lastCursor);
    else if (this.opts.start !== 'start') a.push('--lines=0');
    a.push(...(this.opts.extraArgs ?? []), ...journalMatchArgs(this.opts.journalmatch));
    return a;
  }

  /** Starts journalctl. In follow mode it keeps running (restarted if it dies) until stop();
   * with follow: false, done() resolves when it has printed everything. */
  start(): void {
    this.spawnChild();
  }

  /** Resolves when a non-following source has read everything, or after stop(). */
  done(): Promise<void> {
    return this.finished;
  }

  /** Cursor of the last entry handed on (and acknowledged by onChunk), for persistence. */
  cursor(): string | undefined {
    return this.lastCursor;
  }

  stats(): JournalStats {
    return { ...this.counters };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => this.exitWaiters.push(r));
      child.kill('SIGTERM');
      await exited;
    }
    await this.chain;
    this.finish();
  }

  private spawnChild(): void {
    if (this.stopped) return;
    const j = this.opts.journalctl ?? 'journalctl';
    const [cmd, ...pre] = typeof j === 'string' ? [j] : j;
    if (!cmd) throw new Error('journalctl command is empty');
    const child = spawn(cmd, [...pre, ...this.args()], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.partial = [];
    this.partialLen = 0;
    const startedAt = Date.now();
    let stderr = '';
    let spawnFailed = false;
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        spawnFailed = true;
        this.opts.onError?.(new UserError(
          `jail ${this.opts.jail} uses backend = systemd, but ${cmd} was not found; install systemd's journalctl or use a file backend`,
        ));
      } else this.opts.onWarning?.(`journal source for jail ${this.opts.jail}: ${err.message}`);
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    child.stdout!.on('data', (d: Buffer) => this.onData(child, d));
    child.on('close', (code, signal) => {
      const waiters = this.exitWaiters;
      this.exitWaiters = [];
      for (const w of waiters) w();
      if (this.child === child) this.child = null;
      if (this.stopped) return;
      if (this.opts.follow === false) {
        if (code !== 0) {
          this.opts.onWarning?.(`journalctl for jail ${this.opts.jail} exited (${signal ?? `code ${code}`})${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
        }
        void this.chain.then(() => this.finish());
        return;
      }
      if (spawnFailed) {
        this.finish();
        return;
      }
      // journalctl that ran for a while and then died: start again promptly
      if (Date.now() - startedAt > 60_000) this.delay = this.opts.restartDelayMs ?? 1000;
      const why = signal ? `signal ${signal}` : `code ${code}`;
      this.opts.onWarning?.(
        `journalctl for jail ${this.opts.jail} exited (${why})${stderr.trim() ? `: ${stderr.trim()}` : ''}; restarting in ${this.delay} ms`,
      );
      this.counters.restarts++;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        void this.chain.then(() => this.spawnChild());
      }, this.delay);
      this.delay = Math.min(this.delay * 2, MAX_RESTART_DELAY_MS);
    });
  }

  private onData(child: ChildProcess, d: Buffer): void {
    if (this.stopped) return;
    let start = 0;
    let nl = d.indexOf(0x0a);
    if (nl < 0) {
      this.keepPartial(d);
      return;
    }
    const lines: Buffer[] = [];
    while (nl >= 0) {
      let line = d.subarray(start, nl);
      if (this.partialLen) {
        line = Buffer.concat([...this.partial, line]);
        this.partial = [];
        this.partialLen = 0;
      }
      if (line.length) lines.push(line);
      start = nl + 1;
      nl = d.indexOf(0x0a, start);
    }
    if (start < d.length) this.keepPartial(d.subarray(start));
    const out = this.convert(lines);
    if (!out) return;
    // Backpressure: no more journal output is read while the consumer works on this chunk.
    child.stdout!.pause();
    this.chain = this.chain.then(async () => {
      try {
        this.emitted += out.buf.length;
        await this.opts.onChunk({ source: this.source, buf: out.buf, endOffset: this.emitted, arrival: Date.now() / 1000 });
        if (out.cursor) this.lastCursor = out.cursor;
      } catch (err) {
        this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
      } finally {
        child.stdout!.resume();
      }
    });
  }

  private keepPartial(b: Buffer): void {
    if (this.partialLen + b.length > MAX_JSON_LINE) {
      this.counters.badEntries++;
      this.partial = [];
      this.partialLen = 0;
      return;
    }
    this.partial.push(Buffer.from(b)); // copy: the stream may reuse its buffer
    this.partialLen += b.length;
  }

  /** JSON lines to one line-aligned chunk, and the cursor of its last entry. */
  private convert(lines: Buffer[]): { buf: Buffer; cursor: string | undefined } | null {
    const parts: Buffer[] = [];
    let total = 0;
    let cursor: string | undefined;
    const nowUsec = BigInt(Date.now()) * 1000n;
    for (const l of lines) {
      let e: JournalEntry;
      try {
        const v: unknown = JSON.parse(l.toString('utf8'));
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        e = v as JournalEntry;
      } catch {
        this.counters.badEntries++;
        continue;
      }
      const c = e.__CURSOR;
      if (typeof c === 'string') cursor = c;
      const line = formatJournalEntry(e, nowUsec);
      parts.push(line, NEWLINE);
      total += line.length + 1;
      this.counters.entries++;
    }
    if (!parts.length) return null;
    // One exclusively owned buffer (never from Node's shared pool): the consumer may transfer it.
    const buf = Buffer.allocUnsafeSlow(total);
    let off = 0;
    for (const p of parts) off += p.copy(buf, off);
    return { buf, cursor };
  }
}

const NEWLINE = Buffer.from('\n');
