// Network (CIDR) bans live in nft interval sets, which refuse overlapping elements: adding
// 10.1.0.0/16 while 10.0.0.0/8 is in the set fails the whole transaction. So the kernel never
// receives the bans as given; it receives a flattened, non-overlapping cover of them in which
// every address keeps the latest expiry of the bans that contain it. NetBanSet owns the bans of
// one interval set and produces the element changes that move the kernel to that cover.
import { addressToBigInt, bigIntToAddress, familyBits } from '../net/address.js';
import type { Family } from '../types.js';

/** One element of an interval set: a network and when it should leave (ms epoch, Infinity =
 * permanent). */
export interface NetPiece {
  addr: string;
  prefix: number;
  expiresAt: number;
}

interface NetBan {
  base: bigint;
  prefix: number;
  expiresAt: number;
}

export interface NetDiff {
  /** pieces to add or refresh (the kernel updates timeout/expires of an existing element) */
  add: NetPiece[];
  /** pieces to remove; they may already have expired in the kernel */
  remove: NetPiece[];
}

const keyOf = (addr: string, prefix: number): string => `${addr}/${prefix}`;

/**
 * Non-overlapping cover of `bans`: walks the prefix tree from /0 down, splitting a network only
 * where a narrower ban inside it outlives it. Cost is proportional to bans x address width, which
 * is fine because network bans are few (manual bans, not per-log-line decisions).
 */
export function flattenNetBans(bans: readonly NetBan[], family: Family, now: number): NetPiece[] {
  const bits = familyBits(family);
  const live = bans.filter((b) => b.expiresAt > now);
  const out: NetPiece[] = [];
  const contains = (base: bigint, len: number, b: NetBan): boolean =>
    b.prefix >= len && (len === 0 || b.base >> BigInt(bits - len) === base >> BigInt(bits - len));

  const visit = (base: bigint, len: number, inherited: number, inside: NetBan[]): void => {
    let cover = inherited;
    const deeper: NetBan[] = [];
    for (const b of inside) {
      if (b.prefix === len) cover = Math.max(cover, b.expiresAt);
      else deeper.push(b);
    }
    if (!deeper.some((b) => b.expiresAt > cover)) {
      if (cover > now) out.push({ addr: bigIntToAddress(base, family), prefix: len, expiresAt: cover });
      return;
    }
    const half = 1n << BigInt(bits - len - 1);
    for (const child of [base, base | half]) {
      const sub = deeper.filter((b) => contains(child, len + 1, b));
      if (sub.length > 0 || cover > now) visit(child, len + 1, cover, sub);
    }
  };
  if (live.length > 0) visit(0n, 0, -Infinity, live);
  return out;
}

/** The network bans of one interval set, and what the kernel was last told to hold. */
export class NetBanSet {
  private readonly bans = new Map<string, NetBan>();
  /** pieces last sent to the kernel (some may have expired there since) */
  private installed = new Map<string, NetPiece>();

  constructor(readonly family: Family, private readonly sentinel: string) {
    const bits = familyBits(family);
    // the sentinel is a permanent one-address ban, so covers are split around it
    this.bans.set(keyOf(sentinel, bits), { base: addressToBigInt(sentinel, family), prefix: bits, expiresAt: Infinity });
  }

  /** Record a ban (expiresAt in ms epoch, Infinity = permanent) or an unban. */
  set(addr: string, prefix: number, expiresAt: number | null): void {
    const k = keyOf(addr, prefix);
    if (k === keyOf(this.sentinel, familyBits(this.family))) return;
    if (expiresAt === null) this.bans.delete(k);
    else this.bans.set(k, { base: addressToBigInt(addr, this.family), prefix, expiresAt });
  }

  /** Forget what the kernel holds and take this listing instead (after start or a failure). */
  resetInstalled(pieces: readonly NetPiece[]): void {
    this.installed = new Map(pieces.map((p) => [keyOf(p.addr, p.prefix), p]));
  }

  /** Element changes that turn the installed pieces into the cover of the current bans. Call
   * commit() once the kernel accepted them. */
  diff(now: number): NetDiff {
    for (const [k, b] of this.bans) if (b.expiresAt <= now) this.bans.delete(k);
    const want = flattenNetBans([...this.bans.values()], this.family, now);
    const wantKeys = new Set(want.map((p) => keyOf(p.addr, p.prefix)));
    const remove = [...this.installed.entries()].filter(([k]) => !wantKeys.has(k)).map(([, p]) => p);
    const add = want.filter((p) => {
      const had = this.installed.get(keyOf(p.addr, p.prefix));
      return had === undefined || had.expiresAt !== p.expiresAt;
    });
    return { add, remove };
  }

  commit(d: NetDiff): void {
    for (const p of d.remove) this.installed.delete(keyOf(p.addr, p.prefix));
    for (const p of d.add) this.installed.set(keyOf(p.addr, p.prefix), p);
  }

  /** Pieces the kernel should hold now (for repair after an external flush). */
  allPieces(now: number): NetPiece[] {
    return flattenNetBans([...this.bans.values()], this.family, now);
  }

  get banCount(): number {
    return this.bans.size - 1;
  }
}
