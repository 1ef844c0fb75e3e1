// One open log file (one inode) read into line-aligned chunks. The tailer decides which file a
// path currently means; this class only knows how to read its own inode forward.
import { promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import { takeChunkBuffer } from './chunk-buffers.js';

/** How much of the start of a file identifies it (fail2ban hashes the first line too). */
const FIRST_LINE_PROBE = 4096;
const NL = 0x0a;
/** room for an incomplete last line carried into the next read, so recycled buffers fit */
const CARRY_SLACK = 64 * 1024;

export type EmitFn = (buf: Buffer, endOffset: number) => Promise<void>;

export interface FirstLine {
  /** sha1 hex of the first line including its '\n' (or of the first 4096 bytes); '' if incomplete */
  hash: string;
  /** bytes covered by the hash */
  len: number;
}

export async function readFirstLine(handle: fsp.FileHandle): Promise<FirstLine> {
  const probe = Buffer.allocUnsafe(FIRST_LINE_PROBE);
  const { bytesRead } = await handle.read(probe, 0, FIRST_LINE_PROBE, 0);
  return firstLineOf(probe.subarray(0, bytesRead));
}

/** The first line of a file from its first bytes (up to FIRST_LINE_PROBE of them). */
function firstLineOf(start: Buffer): FirstLine {
  const head = start.subarray(0, FIRST_LINE_PROBE);
  const nl = head.indexOf(NL);
  let len: number;
  if (nl >= 0) len = nl + 1;
  else if (head.length === FIRST_LINE_PROBE) len = FIRST_LINE_PROBE;
  else return { hash: '', len: 0 };
  return { hash: createHash('sha1').update(head.subarray(0, len)).digest('hex'), len };
}

export class FollowedFile {
  /** where the next read starts; bytes before it were read (some may wait in `pending`) */
  private readOffset = 0;
  /** offset just after the last line handed on: what is safe to persist */
  committed = 0;
  /** reading started at offset 0 (the first line is then learnt from what is read) */
  private readsFromZero = true;
  /** an incomplete last line, waiting for its newline; owned exclusively */
  private pending: Buffer | null = null;
  /** skipping the rest of a line we cut, or the tail of a line we started inside of */
  private discarding = false;
  firstLine: FirstLine = { hash: '', len: 0 };
  /** Date.now() of the last read that returned data (or of opening) */
  lastGrowthAt = Date.now();
  /** lines longer than the cut limit, emitted cut */
  cutLines = 0;
  closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: fsp.FileHandle,
    readonly dev: number,
    readonly ino: number,
    /** creation time (statx), 0 where the filesystem does not record it */
    readonly birthtimeMs: number,
  ) {}

  /** `name` is the log path the file stands for when `path` is another way to it (/proc/self/fd/N). */
  static async open(path: string, name = path): Promise<FollowedFile> {
    const handle = await fsp.open(path, 'r');
    try {
      // both at once: each is a trip through libuv's thread pool, and this is on the way to a
      // replay's (or a new log's) first line
      const [st, firstLine] = await Promise.all([handle.stat(), readFirstLine(handle)]);
      const f = new FollowedFile(name, handle, st.dev, st.ino, st.birthtimeMs);
      f.firstLine = firstLine;
      return f;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  /** Start reading at `offset`. If that is not a line start, skip to the next line so that the
   * tail of a line is never taken for a whole line (log lines are attacker-controlled). */
  async startAt(offset: number): Promise<void> {
    this.readsFromZero = offset === 0;
    this.readOffset = offset;
    this.committed = offset;
    this.pending = null;
    this.discarding = false;
    if (offset > 0) {
      const b = Buffer.allocUnsafe(1);
      const { bytesRead } = await this.handle.read(b, 0, 1, offset - 1);
      this.discarding = bytesRead === 1 && b[0] !== NL;
    }
  }

  /** True when the file was rewritten under the same inode (copytruncate, then refilled past
   * our offset before we looked): its first line changed. Reading then restarts at 0. A file
   * that merely shrank is reported by readAvailable. */
  async checkRewritten(): Promise<boolean> {
    if (this.firstLine.hash === '') {
      // a file read from its start learns its first line from the bytes it reads (readAvailable):
      // learnt here, it could be the first line of what replaced the file since, and the check
      // would then pass a copytruncate-and-refill by
      if (!this.readsFromZero) this.firstLine = await readFirstLine(this.handle);
      return false;
    }
    const len = this.firstLine.len;
    const probe = Buffer.allocUnsafe(len);
    const { bytesRead } = await this.handle.read(probe, 0, len, 0);
    if (bytesRead === len && createHash('sha1').update(probe).digest('hex') === this.firstLine.hash) return false;
    await this.restartFromZero();
    return true;
  }

  /** Reads the first line if it was not complete when the file was opened (a file found
   * empty): what identifies the file once it is closed (FileTailer's retired files). */
  async learnFirstLine(): Promise<void> {
    if (this.firstLine.hash === '' && !this.closed) this.firstLine = await readFirstLine(this.handle);
  }

  async restartFromZero(): Promise<void> {
    await this.startAt(0);
    this.firstLine = await readFirstLine(this.handle);
  }

  /** Read everything up to the current end of file, handing on line-aligned chunks. A line
   * without newline longer than `cutLimit` is emitted cut (with a '\n' added) and the rest of
   * it skipped. Returns the number of bytes read; -1 if the file shrank (caller decides).
   * Reads up to the size seen at the start: appends after that are for the next call. */
  async readAvailable(
    emit: EmitFn, maxChunkBytes: number, cutLimit: number, stopped: () => boolean,
  ): Promise<number> {
    let total = 0;
    const size = await this.size();
    if (size < this.readOffset) return -1;
    while (!stopped() && !this.closed) {
      const avail = size - this.readOffset;
      if (avail <= 0) break;
      const n = Math.min(avail, maxChunkBytes);
      const pend = this.pending ? this.pending.length : 0;
      // memory of our own (never a slice of Node's shared pool), because the consumer may
      // transfer the chunk's ArrayBuffer to a worker; recycled when it comes back from there.
      // +1 leaves room for the '\n' of a cut line.
      const buf = takeChunkBuffer(pend + n + 1, maxChunkBytes + CARRY_SLACK + 1);
      if (this.pending) this.pending.copy(buf, 0);
      this.pending = null;
      const { bytesRead } = await this.handle.read(buf, pend, n, this.readOffset);
      if (bytesRead === 0) {
        if (pend) this.pending = buf.subarray(0, pend);
        break;
      }
      this.readOffset += bytesRead;
      this.lastGrowthAt = Date.now();
      total += bytesRead;
      const end = pend + bytesRead;
      const base = this.readOffset - end; // file offset of buf[0]
      if (base === 0 && this.firstLine.hash === '') this.firstLine = firstLineOf(buf.subarray(0, end));
      let start = 0;
      if (this.discarding) {
        const nl = buf.indexOf(NL);
        if (nl < 0 || nl >= end) continue;
        start = nl + 1;
        this.discarding = false;
        this.committed = base + start;
      }
      const lastNl = start < end ? buf.lastIndexOf(NL, end - 1) : -1;
      if (lastNl < start) {
        if (end - start >= cutLimit) {
          buf[end] = NL;
          this.cutLines++;
          this.discarding = true;
          // committed stays at the line's start: a restart re-reads the cut line, never its tail
          await emit(buf.subarray(start, end + 1), base + end);
        } else if (end > start) this.pending = buf.subarray(start, end);
        continue;
      }
      const chunkEnd = lastNl + 1;
      if (chunkEnd < end) {
        // copy the partial line out before the chunk (and its ArrayBuffer) is handed on
        const rest = Buffer.allocUnsafeSlow(end - chunkEnd);
        buf.copy(rest, 0, chunkEnd, end);
        this.pending = rest;
      }
      const endOffset = base + chunkEnd;
      await emit(buf.subarray(start, chunkEnd), endOffset);
      this.committed = endOffset;
    }
    return total;
  }

  /** At EOF of a file we will not read again (replay, or a rotated file we let go of): hand on
   * the unterminated last line as it is. */
  async flushPending(emit: EmitFn): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (!p || p.length === 0 || this.discarding) return;
    await emit(p, this.readOffset);
    this.committed = this.readOffset;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => undefined);
  }
}
