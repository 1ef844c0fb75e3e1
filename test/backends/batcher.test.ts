import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChangeBatcher } from '../../src/backends/batcher.js';
import { DryRunBackend } from '../../src/backends/dry-run.js';
import type { Backend, BanChange, JailRule } from '../../src/types.js';

const ban = (addr: string, jail = 'sshd', timeout = 600): BanChange => ({ op: 'ban', jail, addr, family: 4, timeout });
const unban = (addr: string, jail = 'sshd'): BanChange => ({ op: 'unban', jail, addr, family: 4, timeout: 0 });
const jails: JailRule[] = [{ name: 'sshd', ports: [22], protocol: 'tcp' }, { name: 'web', ports: null, protocol: 'tcp' }];

t.test('changes within the window become one apply', async (t) => {
  const be = new DryRunBackend();
  await be.start(jails);
  const applied: number[] = [];
  const b = new ChangeBatcher(be, { windowMs: 20, onApplied: (_s, n) => applied.push(n) });
  b.push(ban('10.0.0.1'));
  b.push(ban('10.0.0.2'));
  b.push(ban('10.0.0.3', 'web'));
  t.equal(be.batches.length, 0, 'nothing sent before the window closes');
  await sleep(60);
  t.equal(be.batches.length, 1);
  t.same(applied, [3]);
  t.ok(be.isBanned('sshd', '10.0.0.2') && be.isBanned('web', '10.0.0.3'));
});

t.test('maxChanges sends without waiting and splits big bursts', async (t) => {
  const be = new DryRunBackend();
  await be.start(jails);
  const b = new ChangeBatcher(be, { windowMs: 10_000, maxChanges: 100 });
  for (let i = 0; i < 250; i++) b.push(ban(`10.1.${i >> 8}.${i & 255}`));
  await b.flush();
  t.same(be.batches.map((x) => x.length), [100, 100, 50]);
  t.equal(be.active().length, 250);
});

t.test('at most one apply in flight; what arrives meanwhile forms the next batch', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const sizes: number[] = [];
  const slow: Backend = {
    name: 'slow',
    start: async () => undefined,
    healthy: async () => true,
    stop: async () => undefined,
    apply: async (changes) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      sizes.push(changes.length);
      await sleep(30);
      inFlight--;
    },
  };
  const b = new ChangeBatcher(slow, { windowMs: 1 });
  b.push(ban('10.2.0.1'));
  await sleep(10); // first apply is running now
  for (let i = 2; i <= 6; i++) b.push(ban(`10.2.0.${i}`));
  await b.flush();
  t.equal(maxInFlight, 1);
  t.same(sizes, [1, 5]);
});

t.test('ban then unban of the same address in one window ends unbanned, and vice versa', async (t) => {
  const be = new DryRunBackend();
  await be.start(jails);
  const b = new ChangeBatcher(be, { windowMs: 5 });
  b.push(ban('10.3.0.1'));
  await b.flush();
  b.push(ban('10.3.0.1'));
  b.push(unban('10.3.0.1'));
  b.push(unban('10.3.0.2'));
  b.push(ban('10.3.0.2'));
  b.push(ban('10.3.0.3', 'sshd'));
  b.push(unban('10.3.0.3', 'web')); // other jail: both kept
  await b.flush();
  const last = be.batches[be.batches.length - 1];
  t.same(last.map((c) => `${c.op} ${c.jail} ${c.addr}`).sort(),
    ['ban sshd 10.3.0.2', 'ban sshd 10.3.0.3', 'unban sshd 10.3.0.1', 'unban web 10.3.0.3']);
  t.notOk(be.isBanned('sshd', '10.3.0.1'));
  t.ok(be.isBanned('sshd', '10.3.0.2'));
});

t.test('a failing apply is reported with its changes and does not stop later batches', async (t) => {
  const errors: Array<[string, number]> = [];
  let fail = true;
  const be = new DryRunBackend();
  await be.start(jails);
  const flaky: Backend = {
    name: 'flaky', start: async () => undefined, healthy: async () => true, stop: async () => undefined,
    apply: async (c) => {
      if (fail) throw new Error('kernel said no');
      await be.apply(c);
    },
  };
  const applied: number[] = [];
  const b = new ChangeBatcher(flaky, { windowMs: 1, onError: (e, c) => errors.push([e.message, c.length]), onApplied: (s, n) => {
    t.ok(s >= 0 && s < 5, 'duration in seconds');
    applied.push(n);
  } });
  b.pushAll([ban('10.4.0.1'), ban('10.4.0.2')]);
  await b.flush();
  fail = false;
  b.push(ban('10.4.0.3'));
  await b.flush();
  t.same(errors, [['kernel said no', 2]]);
  t.same(applied, [1]);
  t.ok(be.isBanned('sshd', '10.4.0.3'));
});

t.test('dry-run keeps permanent bans, lets timed ones expire, logs decisions', async (t) => {
  let now = 1_000_000;
  const lines: string[] = [];
  const be = new DryRunBackend((m) => lines.push(m), () => now);
  await be.start(jails);
  await be.apply([ban('10.5.0.1', 'sshd', 10), ban('10.5.0.2', 'sshd', -1)]);
  now += 11_000;
  t.same(be.active().map((b) => b.addr), ['10.5.0.2']);
  t.ok(lines.some((l) => l.includes('ban 10.5.0.2 in sshd permanently')));
  t.ok(lines.some((l) => l.includes('jail sshd: would drop tcp port 22')));
  await be.start([jails[1]]);
  t.same(be.active(), [], 'bans of a removed jail go');
});
