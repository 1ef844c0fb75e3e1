import t from 'tap';
import { ElementLedger } from '../../src/backends/nft-ledger.js';

t.test('the ledger remembers every address added, through growth, and nothing else', async (t) => {
  const l = new ElementLedger();
  const addrs: string[] = [];
  for (let i = 0; i < 50_000; i++) addrs.push(`198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
  for (const a of addrs.slice(0, 25_000)) l.add(a, 4);
  t.ok(addrs.slice(0, 25_000).every((a) => l.has(a, 4)), 'every added address');
  t.notOk(addrs.slice(25_000).some((a) => l.has(a, 4)), 'no other address');
  l.add('255.255.255.255', 4);
  l.add('0.0.0.0', 4);
  l.add('2001:db8::1', 6);
  l.add('198.18.0.0', 4); // again: counted once
  t.ok(l.has('255.255.255.255', 4) && l.has('0.0.0.0', 4) && l.has('2001:db8::1', 6));
  t.notOk(l.has('2001:db8::2', 6));
  t.equal(l.size, 25_003);
  t.ok(l.has('not an address', 4), 'what it cannot read counts as maybe present');
});

t.test('addV4 and addSeen say whether the address was there already', async (t) => {
  const l = new ElementLedger();
  t.equal(l.addV4(0xc6120001), false, 'new');
  t.equal(l.addV4(0xc6120001), true, 'again');
  t.ok(l.has('198.18.0.1', 4), 'the integer is the dotted quad');
  t.equal(l.addV4(0xffffffff), false, 'broadcast, kept apart from the empty slots');
  t.equal(l.addV4(0xffffffff), true);
  t.equal(l.addSeen('2001:db8::9', 6), false);
  t.equal(l.addSeen('2001:db8::9', 6), true);
  t.equal(l.addSeen('198.18.0.1', 4), true);
  t.equal(l.size, 3);
});
