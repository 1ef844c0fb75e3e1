import t from 'tap';
import { lastChanges } from '../../src/backends/last-changes.js';
import type { BanChange } from '../../src/types.js';

const ban = (addr: string, timeout: number, jail = 'web', prefix?: number): BanChange =>
  ({ op: 'ban', jail, addr, family: addr.includes(':') ? 6 : 4, prefix, timeout });
const unban = (addr: string, jail = 'web', prefix?: number): BanChange =>
  ({ op: 'unban', jail, addr, family: addr.includes(':') ? 6 : 4, prefix, timeout: 0 });

/** The changes kept, as the backend reads them. */
function kept(changes: BanChange[]): BanChange[] {
  const { keep } = lastChanges(changes);
  return changes.filter((_, i) => keep[i] === 1);
}

t.test('per jail and address, the last change of a batch is the one kept', async (t) => {
  const changes = [
    ban('198.18.0.1', 600), ban('198.18.0.1', 900), // a re-ban: the later timeout
    ban('198.18.0.2', 600), unban('198.18.0.2'), // banned then unbanned: the unban
    unban('198.18.0.3'), ban('198.18.0.3', 60), // and the other way round
    ban('198.18.0.1', 30, 'ssh'), // another jail: its own
    ban('255.255.255.255', 5), ban('0.0.0.0', 5), ban('255.255.255.255', 6),
  ];
  t.same(kept(changes), [changes[1], changes[3], changes[5], changes[6], changes[8], changes[9]]);
});

t.test('networks, IPv6 and texts that are not canonical addresses go by their text', async (t) => {
  const changes = [
    ban('198.18.0.0', 60, 'web', 24), ban('198.18.0.0', 90, 'web', 24), // the same network
    ban('198.18.0.0', 60), // the address, not the network
    ban('2001:db8::1', 60), unban('2001:db8::1'),
    ban('01.2.3.4', 60), ban('1.2.3.4', 60), ban('01.2.3.4', 61), // refused later, each once
  ];
  t.same(kept(changes), [changes[1], changes[2], changes[4], changes[6], changes[7]]);
  const { v4 } = lastChanges(changes);
  t.same(Array.from(v4), [-1, -1, 0xc6120000, -1, -1, -1, 0x01020304, -1], 'plain canonical IPv4 as integers, else -1');
});

t.test('100,000 changes of 30,000 addresses over two jails: the same as a Map keyed by jail and text', async (t) => {
  const changes: BanChange[] = [];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 100_000; i++) {
    const a = rnd(30_000);
    const addr = `198.${18 + (a >> 16)}.${(a >> 8) & 255}.${a & 255}`;
    changes.push(rnd(4) === 0 ? unban(addr, rnd(2) ? 'web' : 'ssh') : ban(addr, rnd(1000), rnd(2) ? 'web' : 'ssh'));
  }
  const byText = new Map<string, number>();
  changes.forEach((c, i) => byText.set(`${c.jail} ${c.addr}`, i));
  const want = [...byText.values()].sort((a, b) => a - b);
  const { keep } = lastChanges(changes);
  const got: number[] = [];
  keep.forEach((k, i) => k && got.push(i));
  t.same(got, want);
});
