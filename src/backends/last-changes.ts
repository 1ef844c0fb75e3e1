// Which changes of a batch a backend applies: per jail and address, the last one (an unban
// after a ban in the same batch wins, a second ban's timeout replaces the first's). Plain IPv4
// addresses, nearly all of a bulk batch, are told apart by their integer in an open-addressing
// table: a Map keyed by the address text cost 45 ms for 100,000 changes in a process's first
// large batch (scenario d's 100,000 bans, restored bans at start), the table about 3 ms.
import { ipv4ToInt } from '../net/address.js';
import type { BanChange } from '../types.js';

export interface LastChanges {
  /** keep[i] = 1: changes[i] is the last change of its (jail, address) */
  keep: Uint8Array;
  /** the address of changes[i] as an integer when it is a plain IPv4 address in the canonical
   * dotted quad (what ipv4ToInt accepts), else -1 */
  v4: Float64Array;
}

export function lastChanges(changes: readonly BanChange[]): LastChanges {
  const n = changes.length;
  const keep = new Uint8Array(n);
  const v4 = new Float64Array(n).fill(-1);
  // table of (jail, IPv4) -> index of the last change; at most half full
  let cap = 16;
  while (cap < 2 * n) cap *= 2;
  const mask = cap - 1;
  const used = new Uint8Array(cap);
  const addrs = new Uint32Array(cap);
  const jails = new Int32Array(cap);
  const last = new Int32Array(cap);
  const jailIds = new Map<string, number>();
  // everything else: networks, IPv6, and texts that are not canonical (they are refused later,
  // once each)
  const others = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const c = changes[i];
    const a = c.family === 4 && c.prefix === undefined ? ipv4ToInt(c.addr) : -1;
    if (a < 0) {
      others.set(`${c.jail}\0${c.addr}/${c.prefix ?? ''}`, i);
      continue;
    }
    v4[i] = a;
    let j = jailIds.get(c.jail);
    if (j === undefined) jailIds.set(c.jail, (j = jailIds.size));
    let h = (Math.imul(a ^ Math.imul(j, 0x85ebca6b), 0x9e3779b1) >>> 0) & mask;
    while (used[h] && (addrs[h] !== a || jails[h] !== j)) h = (h + 1) & mask;
    used[h] = 1;
    addrs[h] = a;
    jails[h] = j;
    last[h] = i;
  }
  for (let h = 0; h < cap; h++) if (used[h]) keep[last[h]] = 1;
  for (const i of others.values()) keep[i] = 1;
  return { keep, v4 };
}
