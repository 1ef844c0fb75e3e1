import t from 'tap';
import { flattenNetBans, NetBanSet } from '../../src/backends/nft-prefixes.js';
import { addressToBigInt } from '../../src/net/address.js';

const nb = (cidr: string, expiresAt: number) => {
  const [a, p] = cidr.split('/');
  return { base: addressToBigInt(a, a.includes(':') ? 6 : 4), prefix: Number(p), expiresAt };
};
const show = (ps: Array<{ addr: string; prefix: number; expiresAt: number }>) => ps.map((p) => `${p.addr}/${p.prefix}@${p.expiresAt}`);

/** Expiry the cover gives an address (0 = not covered). */
function coverAt(pieces: ReturnType<typeof flattenNetBans>, ip: string): number {
  const n = addressToBigInt(ip, 4);
  const hit = pieces.filter((p) => (n >> BigInt(32 - p.prefix)) === (addressToBigInt(p.addr, 4) >> BigInt(32 - p.prefix)));
  return hit.length === 0 ? 0 : Math.max(...hit.map((p) => p.expiresAt));
}

t.test('disjoint and nested-but-shorter bans', async (t) => {
  t.same(show(flattenNetBans([nb('10.0.0.0/8', 100), nb('192.168.0.0/16', 50)], 4, 0)), ['10.0.0.0/8@100', '192.168.0.0/16@50']);
  // a narrower ban that ends sooner is covered by the wider one
  t.same(show(flattenNetBans([nb('10.0.0.0/8', 100), nb('10.1.0.0/16', 50)], 4, 0)), ['10.0.0.0/8@100']);
  t.same(flattenNetBans([nb('10.0.0.0/8', 100)], 4, 100), [], 'expired bans vanish');
});

t.test('a narrower ban that outlives the wider one is carved out, without overlaps', async (t) => {
  const bans = [nb('10.0.0.0/8', 100), nb('10.1.0.0/16', 200), nb('10.1.2.0/24', Infinity)];
  const pieces = flattenNetBans(bans, 4, 0);
  for (const [ip, want] of [['10.200.0.1', 100], ['10.1.9.9', 200], ['10.1.2.3', Infinity], ['11.0.0.1', 0]] as const) {
    t.equal(coverAt(pieces, ip), want, ip);
  }
  // no two pieces overlap
  for (const a of pieces) {
    for (const b of pieces) {
      if (a === b) continue;
      const len = Math.min(a.prefix, b.prefix);
      t.not(addressToBigInt(a.addr, 4) >> BigInt(32 - len), addressToBigInt(b.addr, 4) >> BigInt(32 - len), `${a.addr}/${a.prefix} vs ${b.addr}/${b.prefix}`);
    }
  }
  t.ok(pieces.length <= 16 + 8 + 1, `small cover (${pieces.length} pieces)`);
});

t.test('NetBanSet diff: adds, refreshes, removes what is no longer wanted', async (t) => {
  const s = new NetBanSet(4, '255.255.255.255');
  let d = s.diff(0);
  t.same(show(d.add), ['255.255.255.255/32@Infinity'], 'sentinel is part of the set');
  s.commit(d);
  s.set('10.0.0.0', 8, 100);
  d = s.diff(0);
  t.same(show(d.add), ['10.0.0.0/8@100']);
  t.same(d.remove, []);
  s.commit(d);
  s.set('10.1.0.0', 16, 200);
  d = s.diff(0);
  t.same(show(d.remove), ['10.0.0.0/8@100'], 'the wider piece is replaced by its split');
  t.equal(d.add.length, 9);
  s.commit(d);
  s.set('10.1.0.0', 16, null);
  d = s.diff(0);
  t.same(show(d.add), ['10.0.0.0/8@100']);
  t.equal(d.remove.length, 9);
  s.commit(d);
  s.set('240.0.0.0', 4, 100); // contains the sentinel: split around it
  d = s.diff(0);
  t.ok(d.add.some((p) => p.addr === '240.0.0.0' && p.prefix === 5));
  t.ok(s.allPieces(0).some((p) => p.addr === '255.255.255.255' && p.prefix === 32 && p.expiresAt === Infinity));
  s.set('255.255.255.255', 32, null); // the sentinel cannot be unbanned
  t.equal(s.banCount, 2);
});
