// Deterministic IPv4 address pools. Addresses in generated logs are data only: nothing is ever
// sent to them. Kernel scenarios use 198.18.0.0/15 (the benchmarking range) as the brief asks.

/** 198.18.0.0/15: 131,072 addresses, used for attackers and kernel set elements. */
export const BENCH_NET = (198 << 24) | (18 << 16);
export const BENCH_NET_SIZE = 1 << 17;
/** 100.64.0.0/10 (shared address space): 4M addresses, for big pools of distinct clients. */
export const LARGE_NET = (100 << 24) | (64 << 16);
export const LARGE_NET_SIZE = 1 << 22;

export function ipv4FromInt(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The i-th address of a pool, skipping .0 and .255 so every address looks like a host. */
export function poolAddress(base: number, size: number, i: number): string {
  const hosts = Math.floor(size / 256) * 254;
  if (i < 0 || i >= hosts) throw new RangeError(`address index ${i} outside a pool of ${hosts}`);
  const block = Math.floor(i / 254);
  return ipv4FromInt((base + block * 256 + (i % 254) + 1) >>> 0);
}

/** A precomputed list of `count` addresses from a pool (strings are reused by generators). */
export function addressList(base: number, size: number, count: number, offset = 0): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) out[i] = poolAddress(base, size, offset + i);
  return out;
}
