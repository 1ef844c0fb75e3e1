// logban's persistent state in SQLite (WAL): active bans, ban history for bantime.increment,
// file positions and journal cursors. Writes are queued and written behind in one
// transaction per flush (a timer, or flush()); reads see queued writes too.
import type { BanEntry } from '../bans/ban-table.js';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Family, FilePosition } from '../types.js';
import { UserError } from '../errors.js';

export const DB_FILE = 'logban.sqlite3';
const SCHEMA_VERSION = 1;
/** prefix column value for a single address (primary key columns cannot be NULL) */
const NO_PREFIX = -1;

/** A ban to record: the ban table's BanEntry, whose `count` (times banned in this jail, this
 * ban included) may be left out to take it from the history. */
export type BanRecord = Omit<BanEntry, 'count'> & { count?: number };

export interface StoredBan {
  jail: string;
  addr: string;
  family: Family;
  prefix?: number;
  bannedAt: number;
  /** epoch seconds; null = permanent */
  expiresAt: number | null;
  banCount: number;
}

export interface BanHistory {
  /** bans recorded (in this jail, or in all jails) */
  count: number;
  /** epoch seconds of the latest one */
  lastBanAt: number;
  /** its duration in seconds; -1 = permanent */
  lastBantime: number;
}

export interface PurgeResult {
  bans: number;
  history: number;
  positions: number;
}

export interface StateStoreOptions {
  /** write-behind period (default 200 ms) */
  flushIntervalMs?: number;
  /** a background flush failed (the batch is kept and retried) */
  onError?: (err: Error) => void;
}

type Op =
  | { kind: 'ban'; rec: BanRecord }
  | { kind: 'unban'; jail: string; addr: string; prefix: number };

interface HistoryDelta {
  count: number;
  firstBanAt: number;
  lastBanAt: number;
  lastBantime: number;
}

interface BanRow {
  jail: string;
  addr: string;
  family: number;
  prefix: number;
  banned_at: number;
  expires_at: number | null;
  ban_count: number;
}

interface HistoryRow {
  jail: string;
  count: number;
  last_ban_at: number;
  last_bantime: number;
}

const SCHEMA = `
CREATE TABLE bans (
  jail TEXT NOT NULL, addr TEXT NOT NULL, prefix INTEGER NOT NULL, family INTEGER NOT NULL,
  banned_at REAL NOT NULL, expires_at REAL, ban_count INTEGER NOT NULL,
  PRIMARY KEY (jail, addr, prefix)
) WITHOUT ROWID;
CREATE INDEX bans_expires ON bans (expires_at);
CREATE TABLE ban_history (
  jail TEXT NOT NULL, addr TEXT NOT NULL, prefix INTEGER NOT NULL,
  count INTEGER NOT NULL, last_ban_at REAL NOT NULL, last_bantime REAL NOT NULL,
  PRIMARY KEY (jail, addr, prefix)
) WITHOUT ROWID;
CREATE INDEX ban_history_addr ON ban_history (addr, prefix);
CREATE TABLE file_positions (
  path TEXT PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL, offset INTEGER NOT NULL,
  first_line_hash TEXT NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE journal_cursors (jail TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at REAL NOT NULL);
`;

const bantimeOf = (r: BanRecord) => (r.expires === Infinity ? -1 : r.expires - r.bannedAt);
const hkey = (jail: string, addr: string, prefix: number) => `${jail}\0${addr}\0${prefix}`;
const akey = (addr: string, prefix: number) => `${addr}\0${prefix}`;

export class StateStore {
  private ops: Op[] = [];
  private readonly pendingPositions = new Map<string, FilePosition>();
  private readonly pendingCursors = new Map<string, string>();
  /** history increments queued but not written, for reads in between */
  private readonly pendingHistory = new Map<string, HistoryDelta>();
  private readonly pendingByAddr = new Map<string, Set<string>>();
  private readonly timer: NodeJS.Timeout;
  private failing = false;
  private closed = false;
  private readonly st: ReturnType<StateStore['prepare']>;

  private constructor(private readonly db: Database.Database, readonly file: string, private readonly opts: StateStoreOptions) {
    this.st = this.prepare();
    this.timer = setInterval(() => this.backgroundFlush(), opts.flushIntervalMs ?? 200);
    this.timer.unref();
  }

  /** Opens (creating if needed) the state database in stateDir. */
  static open(stateDir: string, opts: StateStoreOptions = {}): StateStore {
    const dir = path.resolve(stateDir);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UserError(`state directory ${dir} is not usable (${e.code ?? e.message}); choose a writable --state-dir`);
    }
    const file = path.join(dir, DB_FILE);
    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new UserError(`state database ${file} has schema version ${version}, newer than this logban understands (${SCHEMA_VERSION})`);
      }
      if (version === 0) {
        db.transaction(() => {
          db!.exec(SCHEMA);
          db!.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      }
    } catch (err) {
      db?.close();
      if (err instanceof UserError) throw err;
      const e = err as Error & { code?: string };
      throw new UserError(`cannot open state database ${file}: ${e.message}${e.code ? ` (${e.code})` : ''}`);
    }
    return new StateStore(db, file, opts);
  }

  private prepare() {
    const db = this.db;
    return {
      history: db.prepare<[string, string, number, number, number]>(`
        INSERT INTO ban_history (jail, addr, prefix, count, last_ban_at, last_bantime) VALUES (?, ?, ?, 1, ?, ?)
        ON CONFLICT (jail, addr, prefix) DO UPDATE SET
          count = count + (CASE WHEN last_ban_at = excluded.last_ban_at THEN 0 ELSE 1 END),
          last_ban_at = excluded.last_ban_at, last_bantime = excluded.last_bantime`),
      historyCount: db.prepare<[string, string, number], { count: number }>(
        'SELECT count FROM ban_history WHERE jail = ? AND addr = ? AND prefix = ?'),
      ban: db.prepare<[string, string, number, number, number, number | null, number]>(`
        INSERT OR REPLACE INTO bans (jail, addr, prefix, family, banned_at, expires_at, ban_count)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      unban: db.prepare<[string, string, number]>('DELETE FROM bans WHERE jail = ? AND addr = ? AND prefix = ?'),
      active: db.prepare<[number], BanRow>(
        'SELECT * FROM bans WHERE expires_at IS NULL OR expires_at > ? ORDER BY banned_at'),
      jailHistory: db.prepare<[string, string, number], HistoryRow>(
        'SELECT jail, count, last_ban_at, last_bantime FROM ban_history WHERE jail = ? AND addr = ? AND prefix = ?'),
      allHistory: db.prepare<[string, number], HistoryRow>(
        'SELECT jail, count, last_ban_at, last_bantime FROM ban_history WHERE addr = ? AND prefix = ?'),
      savePosition: db.prepare<[string, number, number, number, string, number]>(`
        INSERT OR REPLACE INTO file_positions (path, dev, ino, offset, first_line_hash, updated_at)
        VALUES (?, ?, ?, ?, ?, ?)`),
      position: db.prepare<[string], { path: string; dev: number; ino: number; offset: number; first_line_hash: string }>(
        'SELECT path, dev, ino, offset, first_line_hash FROM file_positions WHERE path = ?'),
      oldPositions: db.prepare<[number], { path: string }>('SELECT path FROM file_positions WHERE updated_at < ?'),
      deletePosition: db.prepare<[string]>('DELETE FROM file_positions WHERE path = ?'),
      saveCursor: db.prepare<[string, string, number]>(
        'INSERT OR REPLACE INTO journal_cursors (jail, cursor, updated_at) VALUES (?, ?, ?)'),
      cursor: db.prepare<[string], { cursor: string }>('SELECT cursor FROM journal_cursors WHERE jail = ?'),
      purgeBans: db.prepare<[number]>('DELETE FROM bans WHERE expires_at IS NOT NULL AND expires_at <= ?'),
      purgeHistory: db.prepare<[number]>(`
        DELETE FROM ban_history WHERE last_bantime >= 0 AND last_ban_at + last_bantime < ?
          AND NOT EXISTS (SELECT 1 FROM bans b WHERE b.jail = ban_history.jail AND b.addr = ban_history.addr
                          AND b.prefix = ban_history.prefix)`),
    };
  }

  // ---- queued writes --------------------------------------------------------------------

  /** Queue a ban (new, or extended). Bans restored from this store need not be recorded again;
   * recording the same ban (same jail, address and bannedAt) twice counts it once. */
  recordBan(rec: BanRecord): void {
    this.ops.push({ kind: 'ban', rec: { ...rec } });
    const prefix = rec.prefix ?? NO_PREFIX;
    const k = hkey(rec.jail, rec.addr, prefix);
    const d = this.pendingHistory.get(k);
    if (d) {
      if (d.lastBanAt !== rec.bannedAt) d.count++;
      d.lastBanAt = rec.bannedAt;
      d.lastBantime = bantimeOf(rec);
    } else {
      this.pendingHistory.set(k, { count: 1, firstBanAt: rec.bannedAt, lastBanAt: rec.bannedAt, lastBantime: bantimeOf(rec) });
      const a = akey(rec.addr, prefix);
      let set = this.pendingByAddr.get(a);
      if (!set) this.pendingByAddr.set(a, (set = new Set()));
      set.add(rec.jail);
    }
  }

  recordUnban(jail: string, addr: string, prefix?: number): void {
    this.ops.push({ kind: 'unban', jail, addr, prefix: prefix ?? NO_PREFIX });
  }

  /** Queue the tailers' positions (latest per path wins). */
  savePositions(positions: readonly FilePosition[]): void {
    for (const p of positions) this.pendingPositions.set(p.path, { ...p });
  }

  saveCursor(jail: string, cursor: string): void {
    this.pendingCursors.set(jail, cursor);
  }

  /** Number of queued writes not yet in the database. */
  pending(): number {
    return this.ops.length + this.pendingPositions.size + this.pendingCursors.size;
  }

  /** Write everything queued in ONE transaction. Throws on failure; the queue is kept. */
  flush(): void {
    if (this.pending() === 0) return;
    const now = Date.now() / 1000;
    const ops = this.ops;
    const st = this.st;
    this.db.transaction(() => {
      for (const op of ops) {
        if (op.kind === 'unban') {
          st.unban.run(op.jail, op.addr, op.prefix);
          continue;
        }
        const r = op.rec;
        const prefix = r.prefix ?? NO_PREFIX;
        st.history.run(r.jail, r.addr, prefix, r.bannedAt, bantimeOf(r));
        const count = r.count ?? st.historyCount.get(r.jail, r.addr, prefix)?.count ?? 1;
        st.ban.run(r.jail, r.addr, prefix, r.family, r.bannedAt, r.expires === Infinity ? null : r.expires, count);
      }
      for (const p of this.pendingPositions.values()) {
        st.savePosition.run(p.path, p.dev, p.ino, p.offset, p.firstLineHash, now);
      }
      for (const [jail, cursor] of this.pendingCursors) st.saveCursor.run(jail, cursor, now);
    })();
    this.ops = [];
    this.pendingPositions.clear();
    this.pendingCursors.clear();
    this.pendingHistory.clear();
    this.pendingByAddr.clear();
  }

  private backgroundFlush(): void {
    try {
      this.flush();
      this.failing = false;
    } catch (err) {
      // report once per failure streak; the queue is retried on the next tick
      if (!this.failing) {
        const e = err as Error;
        this.opts.onError?.(new Error(`writing state database ${this.file} failed: ${e.message}`));
      }
      this.failing = true;
    }
  }

  // ---- reads ----------------------------------------------------------------------------

  /** Bans not expired at `now` (epoch seconds), oldest first. */
  activeBans(now: number): StoredBan[] {
    this.flush();
    return this.st.active.all(now).map((r) => ({
      jail: r.jail, addr: r.addr, family: r.family as Family,
      ...(r.prefix === NO_PREFIX ? {} : { prefix: r.prefix }),
      bannedAt: r.banned_at, expiresAt: r.expires_at, banCount: r.ban_count,
    }));
  }

  /** Past bans of an address in one jail, or in all jails (jail = null), queued ones included. */
  banHistory(jail: string | null, addr: string, prefix?: number): BanHistory | undefined {
    const pfx = prefix ?? NO_PREFIX;
    const rows = jail === null ? this.st.allHistory.all(addr, pfx) : this.st.jailHistory.all(jail, addr, pfx);
    const perJail = new Map<string, HistoryDelta>();
    for (const r of rows) {
      perJail.set(r.jail, { count: r.count, firstBanAt: r.last_ban_at, lastBanAt: r.last_ban_at, lastBantime: r.last_bantime });
    }
    const jails = jail === null ? (this.pendingByAddr.get(akey(addr, pfx)) ?? []) : [jail];
    for (const j of jails) {
      const d = this.pendingHistory.get(hkey(j, addr, pfx));
      if (!d) continue;
      const stored = perJail.get(j);
      if (!stored) {
        perJail.set(j, { ...d });
        continue;
      }
      // the stored ban recorded again (same time) is not counted twice, as in flush()
      stored.count += d.count - (d.firstBanAt === stored.lastBanAt ? 1 : 0);
      if (d.lastBanAt >= stored.lastBanAt) {
        stored.lastBanAt = d.lastBanAt;
        stored.lastBantime = d.lastBantime;
      }
    }
    let h: BanHistory | undefined;
    for (const d of perJail.values()) {
      if (!h) h = { count: 0, lastBanAt: d.lastBanAt, lastBantime: d.lastBantime };
      h.count += d.count;
      if (d.lastBanAt > h.lastBanAt) {
        h.lastBanAt = d.lastBanAt;
        h.lastBantime = d.lastBantime;
      }
    }
    return h;
  }

  /** For the ban table (BanHistoryLookup): how many times this address was banned before. */
  previousBans(jail: string | null, addr: string): number {
    return this.banHistory(jail, addr)?.count ?? 0;
  }

  position(filePath: string): FilePosition | undefined {
    const p = this.pendingPositions.get(filePath);
    if (p) return { ...p };
    const r = this.st.position.get(filePath);
    return r && { path: r.path, dev: r.dev, ino: r.ino, offset: r.offset, firstLineHash: r.first_line_hash };
  }

  cursor(jail: string): string | undefined {
    return this.pendingCursors.get(jail) ?? this.st.cursor.get(jail)?.cursor;
  }

  // ---- housekeeping ---------------------------------------------------------------------

  /** dbpurgeage: forget expired bans, history of bans that ended more than `olderThanSeconds`
   * ago, and positions of files that are gone and were not saved for as long. */
  purge(olderThanSeconds: number, now = Date.now() / 1000): PurgeResult {
    this.flush();
    const cutoff = now - olderThanSeconds;
    return this.db.transaction(() => {
      const bans = this.st.purgeBans.run(now).changes;
      const history = this.st.purgeHistory.run(cutoff).changes;
      let positions = 0;
      for (const { path: p } of this.st.oldPositions.all(cutoff)) {
        if (!existsSync(p)) positions += this.st.deletePosition.run(p).changes;
      }
      return { bans, history, positions };
    })();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      this.flush();
    } finally {
      this.db.close();
    }
  }
}
