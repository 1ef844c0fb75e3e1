import t from 'tap';
import { BanTable, type JailPolicy } from '../../src/bans/ban-table.js';
import { IgnoreList } from '../../src/bans/ignore-list.js';
import type { BanChange, IncrementConfig } from '../../src/types.js';

const noIncrement: IncrementConfig = {
  enabled: false, factor: 1, multipliers: [], maxtime: 0, rndtime: 0, overalljails: false,
};

function policy(over: Partial<JailPolicy> = {}): JailPolicy {
  return {
    name: 'apache-xmlrpc', maxretry: 3, findtime: 600, bantime: 240000, increment: noIncrement,
    ignore: IgnoreList.fromLiterals({ ignoreip: [], ignoreself: true }), ...over,
  };
}

function setup(over: Partial<JailPolicy> = {}, maxTracked = 1000) {
  let now = 1_700_000_000;
  const changes: BanChange[] = [];
  let evicted = 0;
  const table = new BanTable({
    maxTracked, now: () => now,
    hooks: { change: (c) => changes.push(c), evicted: (n) => { evicted += n; } },
  });
  table.configure([policy(over)]);
  return { table, changes, advance: (s: number) => { now += s; }, time: () => now, evicted: () => evicted };
}

t.test('third failure within findtime bans, two do not', async (t) => {
  const { table, changes, time } = setup();
  t.equal(table.failure('apache-xmlrpc', '63.251.225.206', time()), 'counted');
  t.equal(table.failure('apache-xmlrpc', '63.251.225.206', time() + 1), 'counted');
  t.equal(changes.length, 0, 'two failures do not ban');
  t.equal(table.failure('apache-xmlrpc', '198.18.0.9', time() + 1), 'counted', 'other address counted apart');
  t.equal(table.failure('apache-xmlrpc', '63.251.225.206', time() + 2), 'banned');
  t.same(changes, [{ op: 'ban', jail: 'apache-xmlrpc', addr: '63.251.225.206', family: 4, prefix: undefined, timeout: 240000 }]);
  t.equal(table.failure('apache-xmlrpc', '63.251.225.206', time() + 3), 'already-banned', 'not banned twice');
  t.equal(changes.length, 1);
  t.ok(table.isBanned('apache-xmlrpc', '63.251.225.206'));
  t.notOk(table.isBanned('apache-xmlrpc', '198.18.0.9'));
});

t.test('failures spread wider than findtime do not ban (fail2ban rate estimate)', async (t) => {
  const { table, changes, time } = setup({ findtime: 60 });
  const a = '198.18.1.1';
  t.equal(table.failure('apache-xmlrpc', a, time()), 'counted');
  t.equal(table.failure('apache-xmlrpc', a, time() + 50), 'counted');
  // 2 failures over 100 s scale to round(2/100*60)=1, plus this one = 2 < 3
  t.equal(table.failure('apache-xmlrpc', a, time() + 100), 'counted');
  t.equal(changes.length, 0);
  // idle for a whole findtime: starts afresh
  t.equal(table.failure('apache-xmlrpc', a, time() + 1000), 'counted');
});

t.test('live mode ignores failures older than findtime; replay does not', async (t) => {
  const { table, time } = setup();
  t.equal(table.failure('apache-xmlrpc', '198.18.1.2', time() - 601), 'stale');
  const changes: BanChange[] = [];
  const replay = new BanTable({ maxTracked: 10, replay: true, now: time, hooks: { change: (c) => changes.push(c) } });
  replay.configure([policy()]);
  for (let i = 0; i < 3; i++) replay.failure('apache-xmlrpc', '198.18.1.2', 1000 + i);
  t.equal(changes.length, 1, 'old log lines still ban in replay');
});

t.test('loopback, own addresses and ignoreip are never banned', async (t) => {
  const { table, changes, time } = setup({
    ignore: IgnoreList.fromLiterals({ ignoreip: ['198.18.5.0/24', '2001:db8::1'], ignoreself: true }),
  });
  for (const a of ['127.0.0.1', '::1', '198.18.5.77', '2001:db8::1', '::ffff:127.0.0.1']) {
    for (let i = 0; i < 5; i++) t.equal(table.failure('apache-xmlrpc', a, time()), 'ignored', a);
  }
  t.equal(changes.length, 0);
  const noself = setup({ ignore: IgnoreList.fromLiterals({ ignoreip: [], ignoreself: false }) });
  for (let i = 0; i < 3; i++) noself.table.failure('apache-xmlrpc', '127.0.0.1', noself.time());
  t.equal(noself.changes.length, 1, 'ignoreself = false lets loopback be banned');
});

t.test('invalid hosts are rejected before any state is kept', async (t) => {
  const { table, time } = setup();
  for (const h of ['999.1.1.1', 'example.com', '', '1.2.3.4; rm -rf /', '10.0.0.0/8']) {
    t.equal(table.failure('apache-xmlrpc', h, time()), 'invalid', JSON.stringify(h));
  }
  t.equal(table.trackedAddresses, 0);
});

t.test('IPv6 and mapped IPv4 are handled', async (t) => {
  const { table, changes, time } = setup();
  for (let i = 0; i < 3; i++) table.failure('apache-xmlrpc', '2001:DB8:0:0::5', time());
  t.equal(changes[0].addr, '2001:db8::5');
  t.equal(changes[0].family, 6);
  for (let i = 0; i < 3; i++) table.failure('apache-xmlrpc', '::ffff:198.18.0.7', time());
  t.equal(changes[1].addr, '198.18.0.7');
  t.equal(changes[1].family, 4);
});

t.test('bans expire by themselves and emit an unban', async (t) => {
  const { table, changes, time, advance } = setup({ bantime: 10 });
  for (let i = 0; i < 3; i++) table.failure('apache-xmlrpc', '198.18.0.2', time());
  t.equal(table.nextExpiry(), time() + 10);
  advance(9);
  t.equal(table.expire(), 0);
  advance(1);
  t.equal(table.expire(), 1);
  t.equal(changes.at(-1)?.op, 'unban');
  t.notOk(table.isBanned('apache-xmlrpc', '198.18.0.2'));
  t.equal(table.nextExpiry(), Infinity);
});

t.test('manual ban and unban, permanent bans, and CIDR', async (t) => {
  const { table, changes, advance } = setup({ bantime: -1 });
  const e = table.ban('apache-xmlrpc', '198.18.0.0/24');
  t.equal(e.prefix, 24);
  t.equal(changes[0].timeout, -1, 'bantime -1 is permanent');
  table.ban('apache-xmlrpc', '198.18.0.50', 30);
  t.equal(changes[1].timeout, 30);
  advance(1e9);
  t.equal(table.expire(), 1, 'the timed ban expires, the permanent one stays');
  t.equal(table.unban('198.18.0.0/24'), 1);
  t.equal(table.unban('198.18.0.0/24'), 0);
  t.throws(() => table.ban('nope', '198.18.0.1'), /no jail named "nope"/);
  t.throws(() => table.ban('apache-xmlrpc', '999.1.1.1'), /not an IPv4 or IPv6/);
});

t.test('a refreshed ban leaves a stale heap entry that does not unban early', async (t) => {
  const { table, changes, advance } = setup({ bantime: 10 });
  table.ban('apache-xmlrpc', '198.18.0.3', 10);
  advance(5);
  table.ban('apache-xmlrpc', '198.18.0.3', 10);
  advance(6);
  t.equal(table.expire(), 0, 'first expiry is stale');
  advance(5);
  t.equal(table.expire(), 1);
  t.equal(changes.filter((c) => c.op === 'unban').length, 1);
});

t.test('tracked addresses stay under the ceiling; bans are never evicted', async (t) => {
  const { table, changes, time, evicted } = setup({ maxretry: 3 }, 100);
  for (let i = 0; i < 3; i++) table.failure('apache-xmlrpc', '198.18.200.1', time());
  for (let i = 0; i < 10_000; i++) {
    table.failure('apache-xmlrpc', `198.18.${i >> 8}.${i & 255}`, time());
  }
  t.ok(table.trackedAddresses <= 100, `tracked ${table.trackedAddresses}`);
  t.equal(evicted(), 10_000 - 100);
  t.ok(table.isBanned('apache-xmlrpc', '198.18.200.1'));
  t.equal(changes.length, 1);
  // the most recent windows survive: two more failures of the last address ban it
  table.failure('apache-xmlrpc', '198.18.39.15', time());
  t.equal(table.failure('apache-xmlrpc', '198.18.39.15', time()), 'banned');
});

t.test('bantime.increment uses the ban history', async (t) => {
  const changes: BanChange[] = [];
  const table = new BanTable({
    maxTracked: 10, now: () => 1000,
    history: { previousBans: (jail, addr) => (addr === '198.18.0.4' ? 2 : 0) },
    hooks: { change: (c) => changes.push(c) },
  });
  table.configure([policy({ bantime: 600, increment: { ...noIncrement, enabled: true } })]);
  for (let i = 0; i < 3; i++) table.failure('apache-xmlrpc', '198.18.0.4', 1000);
  for (let i = 0; i < 3; i++) table.failure('apache-xmlrpc', '198.18.0.5', 1000);
  t.equal(changes[0].timeout, 2400, 'third ban lasts 600 * 2^2');
  t.equal(changes[1].timeout, 600, 'first ban lasts bantime');
});

t.test('reconfigure keeps bans of kept jails and lifts those of removed jails', async (t) => {
  const { table, changes, time } = setup();
  table.configure([policy(), policy({ name: 'sshd' })]);
  table.ban('sshd', '198.18.0.10');
  table.ban('apache-xmlrpc', '198.18.0.11');
  table.configure([policy({ maxretry: 5 })]);
  t.ok(table.isBanned('apache-xmlrpc', '198.18.0.11'));
  t.equal(changes.at(-1)?.op, 'unban');
  t.equal(changes.at(-1)?.jail, 'sshd');
  t.same(table.jailNames(), ['apache-xmlrpc']);
  t.equal(table.stats('apache-xmlrpc')?.currentlyBanned, 1);
  void time;
});

t.test('restore re-installs unexpired bans with their remaining time', async (t) => {
  const { table, changes, time } = setup();
  const n = table.restore([
    { jail: 'apache-xmlrpc', addr: '198.18.0.20', bannedAt: time() - 100, expires: time() + 500, count: 1 },
    { jail: 'apache-xmlrpc', addr: '198.18.0.21', bannedAt: time() - 100, expires: time() - 1, count: 1 },
    { jail: 'apache-xmlrpc', addr: '198.18.0.22', bannedAt: time() - 100, expires: Infinity, count: 3 },
    { jail: 'gone', addr: '198.18.0.23', bannedAt: time(), expires: time() + 5, count: 1 },
  ]);
  t.equal(n, 2);
  t.same(changes.map((c) => [c.addr, c.timeout]), [['198.18.0.20', 500], ['198.18.0.22', -1]]);
});
