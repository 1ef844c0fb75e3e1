// The ban table: single owner of failure windows and active bans (main thread). It turns
// matcher events into ban decisions and emits BanChanges; it never talks to the kernel itself.
import type { BanChange, Family, IncrementConfig } from '../types.js';
import { UserError } from '../errors.js';
import { parseAddress, ipv4ToInt } from '../net/address.js';
import { FailureWindows, type AddressKey } from './failure-windows.js';
import { ExpiryHeap } from './expiry-heap.js';
import { IgnoreList } from './ignore-list.js';
import { incrementedBantime } from './increment.js';

export interface JailPolicy {
  name: string;
  maxretry: number;
  findtime: number;
  /** seconds; -1 = permanent */
  bantime: number;
  increment: IncrementConfig;
  ignore: IgnoreList;
}

export interface BanEntry {
  jail: string;
  addr: string;
  family: Family;
  prefix?: number;
  /** epoch seconds */
  bannedAt: number;
  /** epoch seconds; Infinity = permanent */
  expires: number;
  /** how many times this address has been banned in this jail, this ban included */
  count: number;
}

export type BanReason = 'failures' | 'manual' | 'restored';
export type UnbanReason = 'expired' | 'manual' | 'jail-removed';

export interface BanTableHooks {
  /** every change, in order; the daemon hands them to the backend batcher */
  change(c: BanChange, reason: BanReason | UnbanReason): void;
  ban?(entry: BanEntry, reason: BanReason): void;
  unban?(entry: BanEntry, reason: UnbanReason): void;
  evicted?(count: number): void;
}

/** Past bans, from the store, for bantime.increment. */
export interface BanHistoryLookup {
  previousBans(jail: string | null, addr: string): number;
}

export type FailureOutcome = 'invalid' | 'ignored' | 'stale' | 'counted' | 'banned' | 'already-banned';

interface JailState {
  policy: JailPolicy;
  windows: FailureWindows;
  bans: Map<AddressKey, BanEntry>;
  totalFailed: number;
  totalBanned: number;
}

export interface JailStats {
  currentlyFailed: number;
  totalFailed: number;
  currentlyBanned: number;
  totalBanned: number;
}

export interface BanTableOptions {
  /** ceiling on tracked failure windows across all jails */
  maxTracked: number;
  hooks: BanTableHooks;
  history?: BanHistoryLookup;
  /** wall clock in epoch seconds (injectable for tests) */
  now?: () => number;
  /** replay: windows follow log times and no failure is too old to count */
  replay?: boolean;
}

function keyOf(addr: string, family: Family, prefix: number | undefined): AddressKey {
  if (prefix !== undefined) return `${addr}/${prefix}`;
  return family === 4 ? ipv4ToInt(addr) : addr;
}

export class BanTable {
  private readonly jails = new Map<string, JailState>();
  private readonly heap = new ExpiryHeap<BanEntry>();
  private tracked = 0;
  private readonly now: () => number;

  constructor(private readonly opts: BanTableOptions) {
    this.now = opts.now ?? (() => Date.now() / 1000);
  }

  /** Install or replace jail policies. Bans and windows of jails that stay are kept; jails that
   * disappear have their bans lifted. */
  configure(policies: readonly JailPolicy[]): void {
    const keep = new Set(policies.map((p) => p.name));
    for (const [name, st] of this.jails) {
      if (keep.has(name)) continue;
      for (const entry of st.bans.values()) this.emitUnban(entry, 'jail-removed');
      this.tracked -= st.windows.size;
      this.jails.delete(name);
    }
    for (const p of policies) {
      const st = this.jails.get(p.name);
      if (st) {
        st.policy = p;
        st.windows.setFindtime(p.findtime);
      } else {
        this.jails.set(p.name, {
          policy: p,
          windows: new FailureWindows(p.findtime),
          bans: new Map(),
          totalFailed: 0,
          totalBanned: 0,
        });
      }
    }
  }

  jailNames(): string[] {
    return [...this.jails.keys()];
  }

  /** One failure of `host` at log time `time` (epoch s) in `jail`. The hot path of the table. */
  failure(jail: string, host: string, time: number): FailureOutcome {
    const st = this.jails.get(jail);
    if (!st) return 'invalid';
    const a = parseAddress(host);
    if (!a || a.prefix !== undefined) return 'invalid';
    const p = st.policy;
    if (p.ignore.has(a.addr, a.family)) return 'ignored';
    // fail2ban ignores failures older than findtime when following a live log
    if (!this.opts.replay && time < this.now() - p.findtime) return 'stale';
    st.totalFailed++;
    const key = keyOf(a.addr, a.family, undefined);
    if (st.bans.has(key)) return 'already-banned';
    const isNew = !st.windows.has(key);
    if (isNew) this.makeRoom(st);
    const { retry } = st.windows.add(key, time);
    if (isNew) this.tracked++;
    if (retry < p.maxretry) return 'counted';
    st.windows.delete(key);
    this.tracked--;
    this.banEntry(st, key, a.addr, a.family, undefined, Math.min(time, this.now()), undefined, 'failures');
    return 'banned';
  }

  /** A manual ban (`logban ban`). Throws UserError for an unknown jail or a bad address. */
  ban(jail: string, addrText: string, seconds?: number): BanEntry {
    const st = this.jails.get(jail);
    if (!st) throw new UserError(`no jail named "${jail}"`);
    const a = parseAddress(addrText);
    if (!a) throw new UserError(`"${addrText}" is not an IPv4 or IPv6 address or network`);
    // never the loopback, the host's own addresses or ignoreip, even by hand (DESIGN.md)
    if (a.prefix === undefined && st.policy.ignore.has(a.addr, a.family)) {
      throw new UserError(`${a.addr} is never banned in jail "${jail}": it is the loopback, one of this host's addresses, or in ignoreip`);
    }
    const key = keyOf(a.addr, a.family, a.prefix);
    if (st.windows.delete(key)) this.tracked--;
    return this.banEntry(st, key, a.addr, a.family, a.prefix, this.now(), seconds, 'manual');
  }

  /** Lift bans of `addrText` (in one jail or all). Returns how many were lifted. */
  unban(addrText: string, jail?: string): number {
    const a = parseAddress(addrText);
    if (!a) throw new UserError(`"${addrText}" is not an IPv4 or IPv6 address or network`);
    if (jail !== undefined && !this.jails.has(jail)) throw new UserError(`no jail named "${jail}"`);
    const key = keyOf(a.addr, a.family, a.prefix);
    let n = 0;
    for (const [name, st] of this.jails) {
      if (jail !== undefined && name !== jail) continue;
      const entry = st.bans.get(key);
      if (!entry) continue;
      st.bans.delete(key);
      this.emitUnban(entry, 'manual');
      n++;
    }
    return n;
  }

  /** Re-install bans from the store after a restart; expired ones are skipped. Emits ban
   * changes carrying the remaining time, so the backend re-adds what the kernel lost. */
  restore(entries: ReadonlyArray<Omit<BanEntry, 'family'> & { family?: Family }>): number {
    const now = this.now();
    let n = 0;
    for (const e of entries) {
      const st = this.jails.get(e.jail);
      if (!st || e.expires <= now) continue;
      const a = parseAddress(e.prefix !== undefined ? `${e.addr}/${e.prefix}` : e.addr);
      if (!a) continue;
      const key = keyOf(a.addr, a.family, a.prefix);
      if (st.bans.has(key)) continue;
      const entry: BanEntry = {
        jail: e.jail, addr: a.addr, family: a.family, prefix: a.prefix,
        bannedAt: e.bannedAt, expires: e.expires, count: e.count,
      };
      this.install(st, key, entry, 'restored');
      n++;
    }
    return n;
  }

  /** Lift every ban whose time is up. Returns how many expired. */
  expire(): number {
    const now = this.now();
    let n = 0;
    while (this.heap.peekTime() <= now) {
      const entry = this.heap.pop() as BanEntry;
      const st = this.jails.get(entry.jail);
      if (!st) continue;
      const key = keyOf(entry.addr, entry.family, entry.prefix);
      // a stale heap entry: the ban was lifted or replaced since
      if (st.bans.get(key) !== entry) continue;
      st.bans.delete(key);
      this.emitUnban(entry, 'expired');
      n++;
    }
    return n;
  }

  /** Epoch seconds of the next expiry, Infinity when none. */
  nextExpiry(): number {
    return this.heap.peekTime();
  }

  /** Drop failure windows idle for findtime (memory housekeeping). */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const st of this.jails.values()) n += st.windows.sweep(now);
    this.tracked -= n;
    return n;
  }

  list(jail?: string): BanEntry[] {
    const out: BanEntry[] = [];
    for (const [name, st] of this.jails) {
      if (jail !== undefined && name !== jail) continue;
      for (const e of st.bans.values()) out.push(e);
    }
    return out;
  }

  isBanned(jail: string, addrText: string): boolean {
    const st = this.jails.get(jail);
    const a = parseAddress(addrText);
    if (!st || !a) return false;
    return st.bans.has(keyOf(a.addr, a.family, a.prefix));
  }

  stats(jail: string): JailStats | undefined {
    const st = this.jails.get(jail);
    if (!st) return undefined;
    return {
      currentlyFailed: st.windows.size,
      totalFailed: st.totalFailed,
      currentlyBanned: st.bans.size,
      totalBanned: st.totalBanned,
    };
  }

  get trackedAddresses(): number {
    return this.tracked;
  }

  /** Keep the total number of windows under the ceiling, evicting least recently failed ones,
   * from this jail first. Active bans are never evicted. */
  private makeRoom(st: JailState): void {
    if (this.tracked < this.opts.maxTracked) return;
    let evicted = 0;
    while (this.tracked >= this.opts.maxTracked) {
      let victim: JailState | undefined = st.windows.size > 0 ? st : undefined;
      if (!victim) {
        for (const other of this.jails.values()) {
          if (!victim || other.windows.size > victim.windows.size) victim = other;
        }
      }
      if (!victim || victim.windows.evictOldest() === undefined) break;
      this.tracked--;
      evicted++;
    }
    if (evicted) this.opts.hooks.evicted?.(evicted);
  }

  private banEntry(
    st: JailState, key: AddressKey, addr: string, family: Family, prefix: number | undefined,
    bannedAt: number, seconds: number | undefined, reason: BanReason,
  ): BanEntry {
    const p = st.policy;
    const existing = st.bans.get(key);
    const previous = existing
      ? existing.count
      : (this.opts.history?.previousBans(p.increment.overalljails ? null : p.name, addr) ?? 0);
    let duration = seconds ?? p.bantime;
    if (seconds === undefined && duration > 0) duration = incrementedBantime(duration, previous, p.increment);
    const entry: BanEntry = {
      jail: p.name, addr, family, prefix, bannedAt,
      expires: duration < 0 ? Infinity : bannedAt + duration,
      count: previous + 1,
    };
    this.install(st, key, entry, reason);
    return entry;
  }

  private install(st: JailState, key: AddressKey, entry: BanEntry, reason: BanReason): void {
    st.bans.set(key, entry);
    st.totalBanned++;
    if (entry.expires !== Infinity) this.heap.push(entry.expires, entry);
    const timeout = entry.expires === Infinity ? -1 : Math.max(1, Math.ceil(entry.expires - this.now()));
    this.opts.hooks.change(
      { op: 'ban', jail: entry.jail, addr: entry.addr, family: entry.family, prefix: entry.prefix, timeout },
      reason,
    );
    this.opts.hooks.ban?.(entry, reason);
  }

  private emitUnban(entry: BanEntry, reason: UnbanReason): void {
    this.opts.hooks.change(
      { op: 'unban', jail: entry.jail, addr: entry.addr, family: entry.family, prefix: entry.prefix, timeout: 0 },
      reason,
    );
    this.opts.hooks.unban?.(entry, reason);
  }
}
