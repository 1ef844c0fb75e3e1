// Looking at a namespace's nft state from outside it (through `ip netns exec`).
import type { BenchNetns } from './netns.js';

export interface SetRef {
  table: string;
  set: string;
}

interface NftListing {
  nftables: Array<{ set?: { family: string; table: string; name: string; type: string; flags?: string[] } }>;
}

/** The inet ipv4 set made for `jail`, or null while there is none. Lists the ruleset: call it
 * only while the sets are small. */
export async function findJailSetIn(ns: BenchNetns, jail: string): Promise<SetRef | null> {
  const r = await ns.exec('nft', ['-j', 'list', 'sets']);
  if (r.code !== 0) return null;
  try {
    for (const item of (JSON.parse(r.stdout) as NftListing).nftables) {
      const s = item.set;
      // the per-address set, not the interval set for networks
      if (s && s.family === 'inet' && s.type === 'ipv4_addr' && s.name.includes(jail) && !(s.flags ?? []).includes('interval')) {
        return { table: s.table, set: s.name };
      }
    }
  } catch {
    return null;
  }
  return null;
}

export async function allPresentIn(ns: BenchNetns, where: SetRef, addrs: readonly string[]): Promise<boolean> {
  const r = await ns.exec('nft', ['get', 'element', 'inet', where.table, where.set, `{ ${addrs.join(', ')} }`]);
  return r.code === 0;
}
