import t from 'tap';
import { FailureWindows, type AddressKey } from '../../src/bans/failure-windows.js';

// A Map re-inserted on every failure is the reference: membership, size and the order in
// which the least recently failed windows are evicted must be the same.
t.test('membership and eviction order match a least-recently-failed list', async (t) => {
  let seed = 7;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let round = 0; round < 5; round++) {
    const w = new FailureWindows(100, 4);
    const ref = new Map<AddressKey, true>();
    let time = 0;
    let mismatches = 0;
    for (let op = 0; op < 20_000; op++) {
      // uint32 keys over the whole range (IPv4), some strings (IPv6)
      const key: AddressKey = rnd() < 0.9 ? (Math.floor(rnd() * 3000) * 2654435761) >>> 0 : `2001:db8::${Math.floor(rnd() * 50)}`;
      const r = rnd();
      time += rnd();
      if (r < 0.6) {
        if (rnd() < 0.5) w.has(key);
        w.add(key, time);
        ref.delete(key);
        ref.set(key, true);
      } else if (r < 0.8) {
        if (w.delete(key) !== ref.delete(key)) mismatches++;
      } else if (r < 0.85) {
        const expected = ref.keys().next().value;
        if (expected !== undefined) ref.delete(expected);
        if (w.evictOldest() !== expected) mismatches++;
      } else if (w.has(key) !== ref.has(key)) mismatches++;
      if (w.size !== ref.size) mismatches++;
    }
    t.equal(mismatches, 0, `round ${round}: no difference from the reference`);
  }
});

t.test('sweep drops windows idle for findtime, oldest first, and keeps the rest', async (t) => {
  const w = new FailureWindows(60);
  w.add(1, 1000);
  w.add('2001:db8::1', 1010);
  w.add(0xffffffff, 1020);
  w.add(1, 1030); // 1 failed again: now the newest
  t.equal(w.sweep(1085), 2, 'the v6 address and 255.255.255.255 were idle for 60 s');
  t.ok(w.has(1));
  t.notOk(w.has(0xffffffff));
  t.notOk(w.has('2001:db8::1'));
  t.equal(w.add(1, 1080).retry, 3, 'the kept window goes on counting');
});

t.test('a window idle for findtime starts afresh; a busy one is scaled to the rate', async (t) => {
  const w = new FailureWindows(600);
  t.equal(w.add(42, 0).retry, 1);
  t.equal(w.add(42, 10).retry, 2);
  t.equal(w.add(42, 700).retry, 1, 'idle for 690 s >= findtime');
  const v = new FailureWindows(10);
  for (let i = 0; i < 5; i++) v.add(7, i * 5);
  // every 5 s with findtime 10: the count settles at the rate (about 2 per 10 s) plus this one
  t.equal(v.add(7, 24).retry, 3);
});
