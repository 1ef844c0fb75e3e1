// Follows the files named by logpath patterns and hands on line-aligned chunks.
// Which inode a path means can change under us (rotation), so each path keeps its current file
// plus the rotated-away files it is still draining: a writer keeps appending to the old inode
// until it reopens its log, and those lines must not be lost.
import { closeSync, fstatSync, openSync, promises as fsp, watch, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import type { Chunk, FilePosition } from '../types.js';
import { FollowedFile, type EmitFn } from './followed-file.js';
import { expandGlob, globBaseDir, hasGlobMagic, segmentMatches, segmentToRegExp } from './glob.js';

/** Saved positions, e.g. the StateStore. */
export interface PositionLookup {
  position(path: string): FilePosition | undefined;
}

export interface FileTailerOptions {
  /** logpath entries: absolute paths or globs (`*`, `?`, `[...]`) */
  logpaths: readonly string[];
  /** 'end': files present at start resume from their saved position when it still matches
   * the file (same device, inode and first line), else start at their end. 'start': every file
   * is read from its first byte, saved positions ignored (replay). Files appearing later are
   * always read from their first byte. */
  start: 'end' | 'start';
  /** false: read every file to its end once (replay); start() resolves when done */
  follow: boolean;
  positions?: PositionLookup;
  /** stat polling period, also the fallback when inotify misses something (default 1000) */
  pollIntervalMs?: number;
  /** how often globs are expanded again to find new files (default 5000) */
  rescanIntervalMs?: number;
  /** how long a rotated-away file is still read after it stopped growing (default 5000) */
  rotateGraceMs?: number;
  /** read block size (default 4 MiB) */
  maxChunkBytes?: number;
  /** a line without newline longer than this is emitted cut (default 2 × maxChunkBytes) */
  maxLineBytes?: number;
  /** use fs.watch (inotify) besides polling (default true) */
  watch?: boolean;
  /** awaited: while it runs, this source reads nothing more (backpressure) */
  onChunk: (c: Chunk) => Promise<void> | void;
  onWarning?: (msg: string) => void;
  onError?: (err: Error) => void;
}

export interface FileTailerStats {
  chunks: number;
  bytes: number;
  /** lines longer than maxLineBytes, emitted cut */
  cutLines: number;
  /** rename rotations seen (a path started to mean another inode) */
  rotations: number;
  /** files truncated or rewritten in place (copytruncate) */
  truncations: number;
  /** rotated files found in the directory after being renamed away before we opened them */
  recovered: number;
}

interface TrackedPath {
  path: string;
  fromGlob: boolean;
  /** seen by the first scan at start(): may resume from a saved position or start at the end */
  initial: boolean;
  current: FollowedFile | null;
  /** rotated-away files still being read, oldest first */
  draining: FollowedFile[];
  missingWarned: boolean;
  running: Promise<void> | null;
  again: boolean;
  /** rotated-away files may have grown (poll tick or an inotify event for another name) */
  drainOld: boolean;
  /** creation time of the newest file followed for this path, to spot skipped rotations */
  lastBirthMs: number;
  /** descriptors opened the moment inotify reported a new file at the path, so that a file
   * rotated away again before process() ran is not lost; oldest first */
  pins: Pin[];
}

interface Pin {
  fd: number;
  dev: number;
  ino: number;
}

interface Retired {
  offset: number;
  hash: string;
}

const MAX_DRAINING = 16;
const MAX_PINS = 64;
const MAX_RETIRED = 1024;
const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|lzma|Z|zip)$/;

export class FileTailer {
  private readonly tracked = new Map<string, TrackedPath>();
  private readonly globs: { pattern: string; baseDir: string; lastSegment: string; lastRe: RegExp }[] = [];
  private readonly explicit: string[] = [];
  private readonly watchers = new Map<string, FSWatcher>();
  /** files we let go of, by dev:ino, so a glob that matches a rotated name does not re-read them */
  private readonly retired = new Map<string, Retired>();
  private readonly warned = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private lastRescan = 0;
  private rescanning: Promise<void> | null = null;
  private rescanQueued = false;
  private stopped = false;
  private readonly counters: FileTailerStats = { chunks: 0, bytes: 0, cutLines: 0, rotations: 0, truncations: 0, recovered: 0 };
  private readonly maxChunk: number;
  private readonly cutLimit: number;
  private readonly pollMs: number;
  private readonly rescanMs: number;
  private readonly graceMs: number;

  constructor(private readonly opts: FileTailerOptions) {
    this.maxChunk = opts.maxChunkBytes ?? 4 * 1024 * 1024;
    this.cutLimit = opts.maxLineBytes ?? 2 * this.maxChunk;
    this.pollMs = opts.pollIntervalMs ?? 1000;
    this.rescanMs = opts.rescanIntervalMs ?? 5000;
    this.graceMs = opts.rotateGraceMs ?? 5000;
    for (const p of opts.logpaths) {
      const abs = path.resolve(p);
      if (hasGlobMagic(abs)) {
        const lastSegment = path.basename(abs);
        this.globs.push({ pattern: abs, baseDir: globBaseDir(abs), lastSegment, lastRe: segmentToRegExp(lastSegment) });
      } else this.explicit.push(abs);
    }
  }

  /** Follow mode: resolves once every existing file has its start position (reading goes on in
   * the background). Replay mode (follow: false): resolves when every file was read to its end. */
  async start(): Promise<void> {
    for (const p of this.explicit) this.track(p, false, true);
    for (const g of this.globs) {
      const found = await expandGlob(g.pattern);
      if (found.length === 0) this.warn(`logpath ${g.pattern} matches no file yet${this.opts.follow ? '; waiting for one' : ''}`);
      for (const p of found) this.track(p, true, true);
    }
    this.lastRescan = Date.now();
    const all = [...this.tracked.values()];
    if (!this.opts.follow) {
      await Promise.all(all.map((tp) => this.replay(tp)));
      return;
    }
    await Promise.all(all.map((tp) => this.establish(tp)));
    this.ensureWatchers();
    this.timer = setInterval(() => this.tick(), this.pollMs);
    for (const tp of all) this.kick(tp);
  }

  /** Positions of the files currently followed, for persistence. */
  positions(): FilePosition[] {
    const out: FilePosition[] = [];
    for (const tp of this.tracked.values()) {
      const f = tp.current;
      if (!f) continue;
      out.push({ path: tp.path, dev: f.dev, ino: f.ino, offset: f.committed, firstLineHash: f.firstLine.hash });
    }
    return out;
  }

  stats(): FileTailerStats {
    let cut = this.counters.cutLines;
    for (const tp of this.tracked.values()) {
      if (tp.current) cut += tp.current.cutLines;
      for (const d of tp.draining) cut += d.cutLines;
    }
    return { ...this.counters, cutLines: cut };
  }

  /** Paths currently tracked (existing or waited for). */
  paths(): string[] {
    return [...this.tracked.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await Promise.all([...this.tracked.values()].map((tp) => tp.running));
    await this.rescanning;
    for (const tp of this.tracked.values()) {
      await tp.current?.close();
      for (const d of tp.draining) await d.close();
      for (const p of tp.pins.splice(0)) closeSync(p.fd);
    }
  }

  // ---- tracking -------------------------------------------------------------------------

  private track(p: string, fromGlob: boolean, initial: boolean): TrackedPath {
    let tp = this.tracked.get(p);
    if (tp) return tp;
    tp = {
      path: p, fromGlob, initial, current: null, draining: [], missingWarned: false, running: null, again: false,
      drainOld: false, lastBirthMs: 0, pins: [],
    };
    this.tracked.set(p, tp);
    return tp;
  }

  private warn(msg: string): void {
    this.opts.onWarning?.(msg);
  }

  private warnOnce(msg: string): void {
    if (this.warned.has(msg)) return;
    this.warned.add(msg);
    this.warn(msg);
  }

  /** Where to start reading a file we just opened for this path. */
  private async startOffset(tp: TrackedPath, f: FollowedFile): Promise<number> {
    const initial = tp.initial;
    tp.initial = false;
    if (initial && this.opts.start === 'start') return 0;
    if (initial) {
      const saved = this.opts.positions?.position(tp.path);
      if (saved) {
        const size = await f.size();
        const same = saved.dev === f.dev && saved.ino === f.ino && size >= saved.offset
          && (saved.firstLineHash === '' || saved.firstLineHash === f.firstLine.hash);
        // Not the same file: it was rotated while we were down, so all of it is new.
        return same ? saved.offset : 0;
      }
      if (this.opts.start === 'end') return f.size();
      return 0;
    }
    const r = this.retired.get(`${f.dev}:${f.ino}`);
    if (r && r.hash === f.firstLine.hash && (await f.size()) >= r.offset) return r.offset;
    return 0;
  }

  private async openFor(tp: TrackedPath): Promise<FollowedFile | null> {
    let f: FollowedFile;
    try {
      f = await FollowedFile.open(tp.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      if (code === 'EACCES' || code === 'EPERM') {
        this.warnOnce(`cannot read log file ${tp.path}: permission denied; retrying`);
        return null;
      }
      throw err;
    }
    // A rotated file another path is still draining (a glob matched its new name): take it over.
    for (const other of this.tracked.values()) {
      const i = other.draining.findIndex((d) => d.dev === f.dev && d.ino === f.ino);
      if (i >= 0) {
        await f.close();
        const [adopted] = other.draining.splice(i, 1);
        tp.initial = false;
        return adopted!;
      }
    }
    await f.startAt(await this.startOffset(tp, f));
    return f;
  }

  /** First open in follow mode, so start() can promise that positions are established. */
  private async establish(tp: TrackedPath): Promise<void> {
    try {
      tp.current = await this.openFor(tp);
      if (!tp.current) this.noteMissing(tp);
      else tp.lastBirthMs = tp.current.birthtimeMs;
    } catch (err) {
      this.fail(tp, err);
    }
  }

  private noteMissing(tp: TrackedPath): void {
    tp.initial = false;
    if (tp.fromGlob || tp.missingWarned) return;
    tp.missingWarned = true;
    this.warn(`log file ${tp.path} does not exist${this.opts.follow ? ' yet; waiting for it' : ''}`);
  }

  private async replay(tp: TrackedPath): Promise<void> {
    try {
      const f = await this.openFor(tp);
      if (!f) {
        this.noteMissing(tp);
        return;
      }
      tp.current = f;
      await this.drain(tp, f);
      await f.flushPending(this.emitter(tp));
      await f.close();
    } catch (err) {
      this.fail(tp, err);
    }
  }

  // ---- the per-path loop ----------------------------------------------------------------

  private kick(tp: TrackedPath): void {
    if (this.stopped) return;
    if (tp.running) {
      tp.again = true;
      return;
    }
    tp.running = (async () => {
      try {
        do {
          tp.again = false;
          await this.process(tp);
        } while (tp.again && !this.stopped);
      } catch (err) {
        this.fail(tp, err);
      } finally {
        tp.running = null;
      }
    })();
  }

  private fail(tp: TrackedPath, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as NodeJS.ErrnoException).code;
    if (code) this.warnOnce(`reading log file ${tp.path}: ${e.message}`);
    else this.opts.onError?.(e);
  }

  private emitter(tp: TrackedPath): EmitFn {
    return async (buf, endOffset) => {
      this.counters.chunks++;
      this.counters.bytes += buf.length;
      await this.opts.onChunk({ source: tp.path, buf, endOffset, arrival: Date.now() / 1000 });
    };
  }

  private async drain(tp: TrackedPath, f: FollowedFile): Promise<void> {
    const emit = this.emitter(tp);
    const stopped = () => this.stopped;
    if ((await f.readAvailable(emit, this.maxChunk, this.cutLimit, stopped)) === -1) {
      // shrank under our offset: truncated in place (copytruncate)
      this.counters.truncations++;
      this.warn(`log file ${tp.path} was truncated; reading it again from the start`);
      await f.restartFromZero();
      await f.readAvailable(emit, this.maxChunk, this.cutLimit, stopped);
    }
  }

  private async process(tp: TrackedPath): Promise<void> {
    // 1. What does the path mean now? A rotated-in file is opened at once, before a second
    //    quick rotation could take it away too; holding its descriptor keeps it readable.
    let st: Stats | null = null;
    try {
      st = await fsp.stat(tp.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    if (st && !st.isFile()) {
      this.warnOnce(`log path ${tp.path} is not a regular file`);
      st = null;
    }
    const pinned = await this.takePins(tp);
    let next: FollowedFile | null = null;
    if (st && !(tp.current && tp.current.dev === st.dev && tp.current.ino === st.ino)) {
      const p = pinned.findIndex((f) => f.dev === st.dev && f.ino === st.ino);
      const back = tp.draining.findIndex((d) => d.dev === st.dev && d.ino === st.ino);
      if (p >= 0) next = pinned.splice(p, 1)[0]!;
      else if (back >= 0) next = tp.draining.splice(back, 1)[0]!;
      else next = await this.openFreshAt(tp, pinned);
    }

    // 2. The current file to its end (after a rename it is the old inode: finish it first).
    const cur = tp.current;
    if (cur) {
      // A file rewritten in place would otherwise be read from a stale offset.
      if (await cur.checkRewritten()) {
        this.counters.truncations++;
        this.warn(`log file ${tp.path} was truncated or rewritten; reading it again from the start`);
      }
      await this.drain(tp, cur);
    }

    // 3. Switch to the new file; the old one is drained for a while longer.
    if (cur && (next || !st)) {
      if (next) this.counters.rotations++;
      this.moveToDraining(tp);
    }
    // files that were at the path only briefly, between cur and next
    for (const f of pinned) {
      f.lastGrowthAt = Date.now();
      tp.draining.push(f);
    }
    if (next) {
      if (tp.lastBirthMs > 0) await this.recoverSkipped(tp, tp.lastBirthMs, next);
      tp.current = next;
      tp.lastBirthMs = next.birthtimeMs;
      if (tp.missingWarned) {
        tp.missingWarned = false;
        this.warn(`log file ${tp.path} appeared; following it`);
      }
    }

    // 4. Rotated-away files: only when something may have changed in them.
    if (tp.drainOld || next || !st || pinned.length) {
      tp.drainOld = false;
      for (const old of [...tp.draining]) {
        await this.drain(tp, old);
        if (Date.now() - old.lastGrowthAt >= this.graceMs || tp.draining.length > MAX_DRAINING) {
          await this.retire(tp, old);
        }
      }
    }
    if (this.stopped) return;

    if (next) await this.drain(tp, next);
    else if (!st && !tp.current) {
      if (tp.fromGlob && tp.draining.length === 0 && tp.pins.length === 0) this.tracked.delete(tp.path);
      else if (tp.draining.length === 0) this.noteMissing(tp);
    }
  }

  /** Opens what the path holds now, which may already be a newer file than the one stat()
   * saw a moment ago: if that file is one we pinned or still follow, the descriptor we hold
   * is used, so one inode is never read twice through two descriptors. */
  private async openFreshAt(tp: TrackedPath, pinned: FollowedFile[]): Promise<FollowedFile | null> {
    const f = await this.openFor(tp);
    if (!f) return null;
    const same = (o: FollowedFile) => o !== f && o.dev === f.dev && o.ino === f.ino;
    const p = pinned.findIndex(same);
    if (p < 0 && !(tp.current && same(tp.current))) return f;
    await f.close();
    return p >= 0 ? pinned.splice(p, 1)[0]! : null;
  }

  /** Called from the inotify callback when the path was (re)created: open whatever is there
   * right now, synchronously (a few microseconds, and only on create/rename events), because
   * the file may be renamed away and deleted again before an asynchronous look. */
  private pin(tp: TrackedPath): void {
    if (tp.pins.length >= MAX_PINS || this.opts.follow === false) return;
    let fd: number;
    try {
      fd = openSync(tp.path, 'r');
    } catch {
      return;
    }
    try {
      const st = fstatSync(fd);
      const same = (f: { dev: number; ino: number }) => f.dev === st.dev && f.ino === st.ino;
      if (st.isFile() && !(tp.current && same(tp.current)) && !tp.draining.some(same) && !tp.pins.some(same)) {
        tp.pins.push({ fd, dev: st.dev, ino: st.ino });
        return;
      }
    } catch {
      // fall through to close
    }
    closeSync(fd);
  }

  /** Pinned descriptors as followed files (reopened through /proc so reading stays async). */
  private async takePins(tp: TrackedPath): Promise<FollowedFile[]> {
    const out: FollowedFile[] = [];
    for (const pin of tp.pins.splice(0)) {
      try {
        const same = (f: { dev: number; ino: number }) => f.dev === pin.dev && f.ino === pin.ino;
        if ((tp.current && same(tp.current)) || tp.draining.some(same) || out.some(same)) continue;
        const f = await FollowedFile.open(`/proc/self/fd/${pin.fd}`, tp.path);
        if (!same(f)) {
          await f.close();
          continue;
        }
        await f.startAt(await this.startOffset(tp, f));
        out.push(f);
      } catch {
        // /proc unavailable: the sibling scan and polling still apply
      } finally {
        closeSync(pin.fd);
      }
    }
    return out;
  }

  /** Files renamed away before we ever opened them (rotations faster than we looked): a
   * sibling named like the path (app.log.1, app.log-2026...) created after the file we
   * followed and before the new one can only be one of those. Compressed files are skipped. */
  private async recoverSkipped(tp: TrackedPath, afterBirthMs: number, next: FollowedFile): Promise<void> {
    if (next.birthtimeMs <= 0) return;
    const dir = path.dirname(tp.path);
    const base = path.basename(tp.path);
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch {
      return;
    }
    const found: FollowedFile[] = [];
    for (const name of names) {
      if (name === base || !name.startsWith(base) || COMPRESSED.test(name)) continue;
      const full = path.join(dir, name);
      let s: Stats;
      try {
        s = await fsp.stat(full);
      } catch {
        continue;
      }
      // Birth times are coarse (a clock tick), so the bounds are inclusive; inodes we hold or
      // have read are excluded below.
      if (!s.isFile() || !(s.birthtimeMs >= afterBirthMs && s.birthtimeMs <= next.birthtimeMs)) continue;
      if ((s.dev === next.dev && s.ino === next.ino) || this.isOpenInode(s.dev, s.ino)) continue;
      try {
        const f = await FollowedFile.open(full);
        const r = this.retired.get(`${f.dev}:${f.ino}`);
        // a retired inode number may have been reused by a new file: the first line tells
        if (f.dev !== s.dev || f.ino !== s.ino || (r && r.hash === f.firstLine.hash)) {
          await f.close();
          continue;
        }
        await f.startAt(0);
        found.push(f);
      } catch {
        continue;
      }
    }
    found.sort((a, b) => a.birthtimeMs - b.birthtimeMs);
    for (const f of found) {
      this.counters.recovered++;
      f.lastGrowthAt = Date.now();
      tp.draining.push(f);
    }
  }

  private isOpenInode(dev: number, ino: number): boolean {
    for (const tp of this.tracked.values()) {
      if (tp.current && tp.current.dev === dev && tp.current.ino === ino) return true;
      if (tp.draining.some((d) => d.dev === dev && d.ino === ino)) return true;
    }
    return false;
  }

  private moveToDraining(tp: TrackedPath): void {
    const f = tp.current!;
    tp.current = null;
    // the grace period counts from the rotation, not from the file's last write
    f.lastGrowthAt = Date.now();
    tp.draining.push(f);
  }

  private async retire(tp: TrackedPath, f: FollowedFile): Promise<void> {
    const i = tp.draining.indexOf(f);
    if (i >= 0) tp.draining.splice(i, 1);
    await f.flushPending(this.emitter(tp));
    this.counters.cutLines += f.cutLines;
    // a file opened empty (found among skipped rotations, or pinned the moment it was created)
    // has no first line on record yet; without one, the next look for skipped files took it for
    // another file and read it again (CI: 6 lines repeated in the rotation stress test)
    await f.learnFirstLine().catch(() => undefined);
    this.retired.set(`${f.dev}:${f.ino}`, { offset: f.committed, hash: f.firstLine.hash });
    if (this.retired.size > MAX_RETIRED) this.retired.delete(this.retired.keys().next().value!);
    await f.close();
  }

  // ---- polling, rescans, inotify --------------------------------------------------------

  private tick(): void {
    for (const tp of this.tracked.values()) {
      tp.drainOld = true;
      this.kick(tp);
    }
    if (Date.now() - this.lastRescan >= this.rescanMs) this.rescan();
  }

  private rescan(): void {
    if (this.stopped) return;
    if (this.rescanning) {
      this.rescanQueued = true;
      return;
    }
    this.lastRescan = Date.now();
    this.rescanning = (async () => {
      try {
        for (const g of this.globs) {
          for (const p of await expandGlob(g.pattern)) {
            if (this.stopped) return;
            if (!this.tracked.has(p)) this.kick(this.track(p, true, false));
          }
        }
        this.ensureWatchers();
      } catch (err) {
        this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
      } finally {
        this.rescanning = null;
        if (this.rescanQueued && !this.stopped) {
          this.rescanQueued = false;
          this.rescan();
        }
      }
    })();
  }

  private ensureWatchers(): void {
    if (this.opts.watch === false || this.stopped) return;
    const dirs = new Set<string>();
    for (const p of this.explicit) dirs.add(path.dirname(p));
    for (const g of this.globs) {
      dirs.add(path.dirname(g.pattern));
      dirs.add(g.baseDir); // a new subdirectory for a glob like /var/log/*/access.log
    }
    for (const tp of this.tracked.values()) dirs.add(path.dirname(tp.path));
    for (const dir of dirs) {
      if (this.watchers.has(dir) || hasGlobMagic(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (event, name) => this.onWatchEvent(dir, event, name));
        w.on('error', () => {
          // e.g. the directory was removed; polling carries on and the next rescan re-watches
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch {
        // directory missing or out of inotify watches: polling covers it
      }
    }
  }

  private onWatchEvent(dir: string, event: string, name: string | Buffer | null): void {
    if (this.stopped) return;
    if (name === null) {
      for (const tp of this.tracked.values()) {
        if (path.dirname(tp.path) !== dir) continue;
        tp.drainOld = true;
        this.kick(tp);
      }
      return;
    }
    const tp = this.tracked.get(path.join(dir, name.toString()));
    if (tp) {
      if (event === 'rename') this.pin(tp);
      this.kick(tp);
      return;
    }
    // Something else in the directory: perhaps a rotated file we are draining, or a new file
    // that a glob should pick up.
    for (const t of this.tracked.values()) {
      if (t.draining.length > 0 && path.dirname(t.path) === dir) {
        t.drainOld = true;
        this.kick(t);
      }
    }
    const base = name.toString();
    for (const g of this.globs) {
      const single = path.dirname(g.pattern) === dir;
      if ((single && segmentMatches(g.lastSegment, g.lastRe, base)) || (!single && g.baseDir === dir)) {
        this.rescan();
        break;
      }
    }
  }
}
