// XDP backend: bans live in BPF maps read by native-rules/xdp/logban_xdp.c, which drops banned
// sources at the driver, before the kernel builds a socket buffer. Maps stay pinned under
// pinDir so a restart (or a crash) keeps dropping; expiry comes from the ban table, which sends
// explicit unbans, because BPF hash maps have no timeouts.
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BanChange, Backend, Family, JailRule } from '../types.js';
import { UserError } from '../errors.js';
import { loadBpfAddon, type BpfAddon } from './bpf/addon.js';
import { KEY_SIZE, VALUE_SIZE, addressPart, writeExactKey, writeNetKey } from './xdp-keys.js';
import {
  MAP_NAMES,
  PROGRAM_NAME,
  PROGRAM_PIN,
  adoptAttachedMaps,
  attachProgram,
  defaultObjectPath,
  defaultPinDir,
  detachProgram,
  ensurePinDir,
  installProgramPin,
  loadProgram,
  pinnedMaps,
  xdpAttachment,
  type MapName,
  type XdpMode,
} from './xdp-loader.js';

export interface XdpBackendOptions {
  /** interfaces to attach to (xdp_interfaces / --xdp-interface) */
  interfaces: string[];
  /** bpffs directory for the maps and program; default /sys/fs/bpf/logban */
  pinDir?: string;
  /** compiled XDP object; default native-rules/xdp/build/logban_xdp.o */
  objectPath?: string;
  /** leave the program attached on an orderly stop (xdp_keep_on_stop) */
  keepOnStop: boolean;
  /** 'auto' (default): native where the driver supports it, else generic; or force one */
  mode?: 'auto' | 'native' | 'generic';
  /** network namespace (name under /run/netns) holding the interfaces; tests and benches */
  netns?: string;
  log: (m: string) => void;
}

export interface XdpDropCounters {
  packets: bigint;
  bytes: bigint;
}

/** Which map an entry goes to. */
type Slot = 'exact4' | 'exact6' | 'net4' | 'net6';
const SLOT_MAP: Record<Slot, MapName> = {
  exact4: 'lb_ban_v4',
  exact6: 'lb_ban_v6',
  net4: 'lb_net_v4',
  net6: 'lb_net_v6',
};

const SLOTS: readonly Slot[] = ['exact4', 'exact6', 'net4', 'net6'];

function prefixOf(c: BanChange): number {
  if (c.prefix !== undefined) return c.prefix;
  const slash = c.addr.indexOf('/');
  return slash === -1 ? (c.family === 4 ? 32 : 128) : Number(c.addr.slice(slash + 1));
}

/** 0 exact4, 1 exact6, 2 net4, 3 net6: a full-length prefix is an exact address. */
function slotIndex(c: BanChange): number {
  if (c.prefix === undefined && c.addr.indexOf('/') === -1) return c.family === 4 ? 0 : 1;
  const isNet = prefixOf(c) < (c.family === 4 ? 32 : 128);
  return (isNet ? 2 : 0) + (c.family === 4 ? 0 : 1);
}

/** Map entry name: the address, or `addr/prefix` for a network. */
function entryId(c: BanChange): string {
  if (c.prefix === undefined && c.addr.indexOf('/') === -1) return c.addr;
  const prefix = prefixOf(c);
  const addr = addressPart(c.addr);
  return prefix < (c.family === 4 ? 32 : 128) ? `${addr}/${prefix}` : addr;
}

/** Write c's key for map slot si at buf[off]; false when the address is malformed. */
function encodeKey(c: BanChange, si: number, buf: Buffer, off: number): boolean {
  return si < 2
    ? writeExactKey(c.family, addressPart(c.addr), buf, off)
    : writeNetKey(c.family, addressPart(c.addr), prefixOf(c), buf, off);
}

const BANNED_VALUE = 1;
let valuesCache = Buffer.alloc(0);
/** `n` map values all saying "banned"; shared, grown on demand. */
function bannedValues(n: number): Buffer {
  if (valuesCache.length < n * VALUE_SIZE) {
    valuesCache = Buffer.alloc(Math.max(n, 1024) * VALUE_SIZE);
    for (let i = 0; i < valuesCache.length; i += VALUE_SIZE) valuesCache.writeUInt32LE(BANNED_VALUE, i);
  }
  return valuesCache.subarray(0, n * VALUE_SIZE);
}

/** Number of possible CPUs: per-CPU map values carry one slot for each. */
function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let n = 0;
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

export class XdpBackend implements Backend {
  readonly name = 'xdp';
  private readonly pinDir: string;
  private readonly objectPath: string;
  private addon: BpfAddon | undefined;
  /** open map fds and the kernel ids they had, to notice a pin replaced behind our back */
  private fds = new Map<MapName, { fd: number; id: number }>();
  private progId: number | undefined;
  private readonly modes = new Map<string, XdpMode>();
  /** entry (`addr` or `addr/prefix`) -> jail(s) banning it: one jail's unban must not lift
   * another's ban of the same address, since the maps are shared by all jails */
  private readonly owners = new Map<string, string | string[]>();
  private warnedPorts = false;

  constructor(private readonly opts: XdpBackendOptions) {
    this.pinDir = opts.pinDir ?? defaultPinDir;
    this.objectPath = opts.objectPath ?? defaultObjectPath;
  }

  /** How each interface is attached, after start(). */
  attachModes(): ReadonlyMap<string, XdpMode> {
    return this.modes;
  }

  async start(jails: readonly JailRule[]): Promise<void> {
    if (this.opts.interfaces.length === 0) {
      throw new UserError('the xdp backend needs at least one interface (--xdp-interface or xdp_interfaces)');
    }
    const restricted = jails.filter((j) => j.ports !== null).map((j) => j.name);
    if (restricted.length > 0 && !this.warnedPorts) {
      this.warnedPorts = true;
      this.opts.log(`xdp: drops every packet from a banned source; port restrictions of ${restricted.join(', ')} do not apply at XDP`);
    }
    if (this.fds.size > 0 && (await this.healthy())) return;
    this.closeMaps();
    this.addon ??= loadBpfAddon();

    await ensurePinDir(this.pinDir, this.opts.log);
    const adoptedFrom = await adoptAttachedMaps(this.pinDir, this.opts.interfaces, this.opts.netns);
    if (adoptedFrom) this.opts.log(`xdp: maps adopted from the program still attached to ${adoptedFrom} (their pins were gone)`);
    const reused = pinnedMaps(this.pinDir).length === MAP_NAMES.length;
    const newPin = await loadProgram(this.objectPath, this.pinDir);
    try {
      for (const iface of this.opts.interfaces) {
        const mode = await attachProgram(iface, newPin, this.opts.netns, this.opts.mode ?? 'auto');
        this.modes.set(iface, mode);
        this.progId = (await xdpAttachment(iface, this.opts.netns)).progId;
        const why = mode === 'generic' && this.opts.mode !== 'generic' ? ' (the driver has no native XDP)' : '';
        this.opts.log(`xdp: ${PROGRAM_NAME} attached to ${iface} in ${mode} mode${why}`);
      }
    } catch (err) {
      await fsp.rm(newPin, { force: true });
      throw err;
    }
    await installProgramPin(this.pinDir, newPin);
    for (const m of MAP_NAMES) {
      const fd = this.addon.objGet(path.join(this.pinDir, m));
      this.fds.set(m, { fd, id: this.addon.mapId(fd) });
    }
    if (!reused) this.owners.clear(); // fresh, empty maps: the daemon's reconcile re-adds bans
    this.opts.log(`xdp: maps ${reused ? 'reused from' : 'created in'} ${this.pinDir}`);
  }

  async apply(changes: readonly BanChange[]): Promise<void> {
    const addon = this.addon;
    if (!addon || this.fds.size === 0) throw new Error('xdp backend: apply() before start()');
    // Size each key buffer from a cheap counting pass: group = slot * 2 + (0 ban | 1 unban).
    const bound = new Int32Array(8);
    for (const c of changes) bound[slotIndex(c) * 2 + (c.op === 'ban' ? 0 : 1)]!++;
    const bufs: Buffer[] = [];
    for (let g = 0; g < 8; g++) bufs.push(Buffer.allocUnsafe(bound[g]! * KEY_SIZE[SLOTS[g >> 1]!]));
    const filled = new Int32Array(8);
    // Changes that deleted an entry; one banned again later in the batch is re-added below.
    const deleted: BanChange[] = [];
    const deletedIds: string[] = [];
    let bad = 0;
    let example = '';
    for (const c of changes) {
      const si = slotIndex(c);
      const id = entryId(c);
      let g: number;
      if (c.op === 'ban') {
        this.addOwner(id, c.jail);
        g = si * 2;
      } else if (this.removeOwner(id, c.jail)) {
        g = si * 2 + 1;
        deleted.push(c);
        deletedIds.push(id);
      } else {
        continue; // another jail still bans it
      }
      if (encodeKey(c, si, bufs[g]!, filled[g]! * KEY_SIZE[SLOTS[si]!])) filled[g]!++;
      else if (bad++ === 0) example = c.addr; // one malformed address must not sink the batch
    }
    if (bad > 0) this.opts.log(`xdp: skipped ${bad} invalid address(es), e.g. ${example}`);
    // Updates before deletions, then a fix-up: an entry unbanned and re-banned in this batch
    // was deleted last, so add it back. (An entry banned then unbanned ends deleted, as wanted.)
    for (let si = 0; si < 4; si++) {
      const size = KEY_SIZE[SLOTS[si]!];
      const fd = this.fds.get(SLOT_MAP[SLOTS[si]!])!.fd;
      const nAdd = filled[si * 2]!;
      const nDel = filled[si * 2 + 1]!;
      if (nAdd > 0) addon.updateMany(fd, bufs[si * 2]!.subarray(0, nAdd * size), size, bannedValues(nAdd), VALUE_SIZE);
      if (nDel > 0) addon.deleteMany(fd, bufs[si * 2 + 1]!.subarray(0, nDel * size), size);
    }
    const again = deleted.filter((_, i) => this.owners.has(deletedIds[i]!));
    if (again.length > 0) await this.apply(again.map((c) => ({ ...c, op: 'ban' as const })));
  }

  private addOwner(id: string, jail: string): void {
    const cur = this.owners.get(id);
    if (cur === undefined) this.owners.set(id, jail);
    else if (typeof cur === 'string') {
      if (cur !== jail) this.owners.set(id, [cur, jail]);
    } else if (!cur.includes(jail)) cur.push(jail);
  }

  /** Drop jail's claim on id; true when nobody bans id any more (delete it from the map).
   * An entry we never saw (left pinned by an earlier run) is deleted too. */
  private removeOwner(id: string, jail: string): boolean {
    const cur = this.owners.get(id);
    if (cur === undefined) return true;
    if (typeof cur === 'string') {
      if (cur !== jail) return false;
      this.owners.delete(id);
      return true;
    }
    const rest = cur.filter((j) => j !== jail);
    if (rest.length === 0) {
      this.owners.delete(id);
      return true;
    }
    this.owners.set(id, rest.length === 1 ? rest[0]! : rest);
    return false;
  }

  /**
   * Delete the map entries that no ban of this process claims. Call once at start, after the
   * store's active bans were applied: maps reused from an earlier run have no timeouts, so a ban
   * that ended while no daemon ran (or that an earlier run never saw lifted) would otherwise
   * drop its address for ever. Returns how many entries were removed.
   */
  pruneUnclaimed(): number {
    const addon = this.addon;
    if (!addon || this.fds.size === 0) throw new Error('xdp backend: pruneUnclaimed() before start()');
    const claimed: Array<Set<string>> = SLOTS.map(() => new Set());
    for (const id of this.owners.keys()) {
      const slash = id.indexOf('/');
      const addr = slash === -1 ? id : id.slice(0, slash);
      const family: Family = addr.includes(':') ? 6 : 4;
      const c: BanChange = { op: 'ban', jail: '', addr, family, prefix: slash === -1 ? undefined : Number(id.slice(slash + 1)), timeout: -1 };
      const si = slotIndex(c);
      const key = Buffer.alloc(KEY_SIZE[SLOTS[si]!]);
      if (encodeKey(c, si, key, 0)) claimed[si]!.add(key.toString('hex'));
    }
    let removed = 0;
    for (let si = 0; si < SLOTS.length; si++) {
      const size = KEY_SIZE[SLOTS[si]!];
      const fd = this.fds.get(SLOT_MAP[SLOTS[si]!])!.fd;
      try {
        const keys = addon.keys(fd, size);
        const stale: Buffer[] = [];
        for (let off = 0; off < keys.length; off += size) {
          const key = keys.subarray(off, off + size);
          if (!claimed[si]!.has(key.toString('hex'))) stale.push(key);
        }
        if (stale.length > 0) removed += addon.deleteMany(fd, Buffer.concat(stale), size);
      } catch (err) {
        // a stale entry is a lesser harm than a daemon that does not start
        this.opts.log(`xdp: could not clear stale entries of ${SLOT_MAP[SLOTS[si]!]}: ${(err as Error).message}`);
      }
    }
    if (removed > 0) this.opts.log(`xdp: removed ${removed} map entr${removed === 1 ? 'y' : 'ies'} that no active ban claims (ended while logban was not running)`);
    return removed;
  }

  /** True when every map pin still names the map we hold and our program is on every interface. */
  async healthy(): Promise<boolean> {
    const addon = this.addon;
    if (!addon || this.fds.size === 0) return false;
    for (const [m, { id }] of this.fds) {
      let fd: number;
      try {
        fd = addon.objGet(path.join(this.pinDir, m));
      } catch {
        return false;
      }
      const same = addon.mapId(fd) === id;
      addon.close(fd);
      if (!same) return false;
    }
    for (const iface of this.opts.interfaces) {
      const a = await xdpAttachment(iface, this.opts.netns).catch(() => null);
      if (!a || a.progName !== PROGRAM_NAME || a.progId !== this.progId) return false;
    }
    return true;
  }

  async stop(keep: boolean): Promise<void> {
    this.closeMaps();
    if (keep || this.opts.keepOnStop) {
      this.opts.log(`xdp: program left attached; bans stay pinned in ${this.pinDir}`);
      return;
    }
    for (const iface of this.opts.interfaces) {
      if (await detachProgram(iface, this.opts.netns).catch(() => false)) this.opts.log(`xdp: detached from ${iface}`);
    }
    await fsp.rm(path.join(this.pinDir, PROGRAM_PIN), { force: true });
    this.opts.log(`xdp: bans stay pinned in ${this.pinDir} for the next start`);
  }

  /** Packets and bytes dropped since the maps were created, summed over CPUs. */
  async droppedCounters(): Promise<XdpDropCounters> {
    const stats = this.fds.get('lb_stats');
    if (!this.addon || !stats) return { packets: 0n, bytes: 0n };
    const cpus = possibleCpus();
    const v = this.addon.lookup(stats.fd, Buffer.alloc(4), 16 * cpus);
    let packets = 0n;
    let bytes = 0n;
    if (v) {
      for (let i = 0; i < cpus; i++) {
        packets += v.readBigUInt64LE(16 * i);
        bytes += v.readBigUInt64LE(16 * i + 8);
      }
    }
    return { packets, bytes };
  }

  /** Whether the map holds an entry for addr (or addr/prefix); for checks and tests. */
  isBannedInKernel(family: Family, addr: string, prefix?: number): boolean {
    if (!this.addon) return false;
    const full = family === 4 ? 32 : 128;
    const p = prefix ?? full;
    const slot: Slot = p < full ? (family === 4 ? 'net4' : 'net6') : family === 4 ? 'exact4' : 'exact6';
    const key = Buffer.alloc(KEY_SIZE[slot]);
    const ok = p < full ? writeNetKey(family, addr, p, key, 0) : writeExactKey(family, addr, key, 0);
    if (!ok) return false;
    return this.addon.lookup(this.fds.get(SLOT_MAP[slot])!.fd, key, VALUE_SIZE) !== null;
  }

  private closeMaps(): void {
    if (this.addon) for (const { fd } of this.fds.values()) this.addon.close(fd);
    this.fds.clear();
  }
}
