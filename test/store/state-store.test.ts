import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StateStore, DB_FILE } from '../../src/store/state-store.js';
import { UserError } from '../../src/errors.js';

function stateDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'logban-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(t: { teardown(fn: () => unknown): void }, dir: string, flushIntervalMs = 60_000): StateStore {
  const s = StateStore.open(dir, { flushIntervalMs });
  t.teardown(() => s.close());
  return s;
}

// recent wall-clock time: purge compares positions saved "now" with the time it is given
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

const NOW = Math.floor(Date.now() / 1000);

t.test('bans round-trip and are restored after reopening', async (t) => {
  const dir = stateDir(t);
  const s = open(t, dir);
  s.recordBan({ jail: 'sshd', addr: '198.51.100.7', family: 4, bannedAt: NOW - 10, expires: NOW + 590 });
  s.recordBan({ jail: 'sshd', addr: '2001:db8::1', family: 6, bannedAt: NOW - 5, expires: Infinity });
  s.recordBan({ jail: 'web', addr: '203.0.113.0', family: 4, prefix: 24, bannedAt: NOW - 3, expires: NOW + 100, count: 4 });
  s.recordBan({ jail: 'web', addr: '192.0.2.9', family: 4, bannedAt: NOW - 1000, expires: NOW - 400 });
  s.recordBan({ jail: 'web', addr: '192.0.2.10', family: 4, bannedAt: NOW - 2, expires: NOW + 100 });
  s.recordUnban('web', '192.0.2.10');
  t.equal(s.pending(), 6, 'writes are queued');
  const expected = [
    { jail: 'sshd', addr: '198.51.100.7', family: 4, bannedAt: NOW - 10, expiresAt: NOW + 590, banCount: 1 },
    { jail: 'sshd', addr: '2001:db8::1', family: 6, bannedAt: NOW - 5, expiresAt: null, banCount: 1 },
    { jail: 'web', addr: '203.0.113.0', family: 4, prefix: 24, bannedAt: NOW - 3, expiresAt: NOW + 100, banCount: 4 },
  ];
  t.same(s.activeBans(NOW), expected, 'expired and unbanned ones are not active');
  s.close();
  const again = open(t, dir);
  t.same(again.activeBans(NOW), expected, 'same after reopening');
  t.same(again.activeBans(NOW + 200), [expected[0], expected[1]], 'expiry is relative to now');
});

t.test('writes are batched: nothing reaches the database until a flush, then all of it at once', async (t) => {
  const dir = stateDir(t);
  const s = StateStore.open(dir, { flushIntervalMs: 100 });
  t.teardown(() => s.close());
  const reader = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.teardown(() => reader.close());
  const count = () => (reader.prepare('SELECT COUNT(*) AS n FROM bans').get() as { n: number }).n;
  const version = () => reader.pragma('data_version', { simple: true }) as number;
  const v0 = version();
  for (let i = 0; i < 20000; i++) {
    s.recordBan({ jail: 'flood', addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, family: 4, bannedAt: NOW, expires: NOW + 60 });
  }
  t.equal(count(), 0, 'queued, not written');
  t.equal(version(), v0, 'no commit yet');
  // the write-behind timer flushes; a reader never sees a partial batch
  const seen = new Set<number>();
  const t0 = Date.now();
  while (Date.now() - t0 < 3000) {
    const n = count();
    seen.add(n);
    if (n === 20000) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  t.same([...seen].sort((a, b) => a - b), [0, 20000].filter((n) => seen.has(n)), 'only 0 or all rows ever visible');
  t.ok(seen.has(20000), 'flushed by the timer');
  t.equal(s.pending(), 0);
});

t.test('ban history per jail and over all jails, for bantime.increment', async (t) => {
  const dir = stateDir(t);
  const s = open(t, dir);
  const ban = (jail: string, at: number, bantime: number) =>
    s.recordBan({ jail, addr: '198.51.100.7', family: 4, bannedAt: at, expires: bantime < 0 ? Infinity : at + bantime });
  ban('sshd', NOW - 3000, 600);
  s.flush();
  ban('sshd', NOW - 1000, 1200);
  ban('web', NOW - 500, -1);
  const check = (label: string) => {
    t.same(s.banHistory('sshd', '198.51.100.7'), { count: 2, lastBanAt: NOW - 1000, lastBantime: 1200 }, `${label}: one jail`);
    t.same(s.banHistory(null, '198.51.100.7'), { count: 3, lastBanAt: NOW - 500, lastBantime: -1 }, `${label}: all jails`);
    t.equal(s.previousBans('sshd', '198.51.100.7'), 2);
    t.equal(s.previousBans(null, '198.51.100.7'), 3);
    t.equal(s.banHistory('sshd', '198.51.100.8'), undefined, `${label}: unknown address`);
  };
  check('queued');
  s.flush();
  check('written');
  ban('sshd', NOW - 1000, 1200);
  t.equal(s.previousBans('sshd', '198.51.100.7'), 2, 'the same ban recorded again is not counted twice (queued)');
  s.flush();
  t.equal(s.previousBans('sshd', '198.51.100.7'), 2, 'nor once written');
  t.same(s.activeBans(NOW).map((b) => [b.jail, b.banCount]), [['sshd', 2], ['web', 1]], 'ban_count from the history');
});

t.test('file positions and journal cursors', async (t) => {
  const dir = stateDir(t);
  const s = open(t, dir);
  const p = { path: '/var/log/auth.log', dev: 2049, ino: 123456, offset: 987654, firstLineHash: 'ab'.repeat(20) };
  s.savePositions([p, { ...p, path: '/var/log/other.log', offset: 1 }]);
  s.savePositions([{ ...p, offset: 1000000 }]);
  s.saveCursor('sshd', 's=abc;i=105');
  t.same(s.position(p.path), { ...p, offset: 1000000 }, 'latest queued position wins');
  t.equal(s.cursor('sshd'), 's=abc;i=105');
  s.close();
  const again = open(t, dir);
  t.same(again.position(p.path), { ...p, offset: 1000000 });
  t.equal(again.position('/nope'), undefined);
  t.equal(again.cursor('sshd'), 's=abc;i=105');
  t.equal(again.cursor('other'), undefined);
});

t.test('purge forgets old history, expired bans and positions of vanished files', async (t) => {
  const dir = stateDir(t);
  const s = open(t, dir);
  const day = 86400;
  s.recordBan({ jail: 'sshd', addr: '192.0.2.1', family: 4, bannedAt: NOW - 3 * day, expires: NOW - 3 * day + 600 });
  s.recordBan({ jail: 'sshd', addr: '192.0.2.2', family: 4, bannedAt: NOW - 600, expires: NOW - 1 });
  s.recordBan({ jail: 'sshd', addr: '192.0.2.3', family: 4, bannedAt: NOW - 5 * day, expires: Infinity });
  const existing = path.join(dir, 'exists.log');
  writeFileSync(existing, '');
  s.savePositions([
    { path: existing, dev: 1, ino: 1, offset: 0, firstLineHash: '' },
    { path: path.join(dir, 'gone.log'), dev: 1, ino: 2, offset: 0, firstLineHash: '' },
  ]);
  s.flush();
  // positions were saved "now" (wall clock); purge as if two days had passed since
  const r = s.purge(day, Date.now() / 1000 + 2 * day);
  t.same(r, { bans: 2, history: 2, positions: 1 });
  t.same(s.activeBans(NOW).map((b) => b.addr), ['192.0.2.3'], 'a permanent ban stays');
  t.equal(s.previousBans('sshd', '192.0.2.3'), 1, 'history of an active ban stays');
  t.equal(s.previousBans('sshd', '192.0.2.1'), 0);
  t.ok(s.position(existing));
  t.equal(s.position(path.join(dir, 'gone.log')), undefined);
});

t.test('unusable state directories and databases are user errors naming the path', async (t) => {
  const dir = stateDir(t);
  const file = path.join(dir, 'a-file');
  writeFileSync(file, '');
  const under = thrown(() => StateStore.open(path.join(file, 'state')));
  t.ok(under instanceof UserError);
  t.match(under.message, `state directory ${path.join(file, 'state')} is not usable`);
  t.ok(thrown(() => StateStore.open(file)) instanceof UserError, 'a file as state directory');
  const corrupt = path.join(dir, 'corrupt');
  StateStore.open(corrupt).close();
  writeFileSync(path.join(corrupt, DB_FILE), 'this is not a database'.repeat(100));
  const bad = thrown(() => StateStore.open(corrupt));
  t.ok(bad instanceof UserError);
  t.match(bad.message, `cannot open state database ${path.join(corrupt, DB_FILE)}`);
  const newer = path.join(dir, 'newer');
  StateStore.open(newer).close();
  const db = new Database(path.join(newer, DB_FILE));
  db.pragma('user_version = 99');
  db.close();
  const future = thrown(() => StateStore.open(newer));
  t.ok(future instanceof UserError);
  t.match(future.message, /schema version 99, newer than this logban understands/);
});

t.test('the database is in WAL mode under the state directory', async (t) => {
  const dir = stateDir(t);
  open(t, path.join(dir, 'nested', 'state'));
  const db = new Database(path.join(dir, 'nested', 'state', DB_FILE), { readonly: true });
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('user_version', { simple: true }), 1);
  db.close();
});

t.test('tailer positions through the store: a restart neither repeats nor skips a line', async (t) => {
  const { FileTailer } = await import('../../src/sources/file-tailer.js');
  const { appendFileSync } = await import('node:fs');
  const dir = stateDir(t);
  const log = path.join(dir, 'app.log');
  writeFileSync(log, 'before logban\n');
  const seen: string[] = [];
  const run = async (store: StateStore, write: () => void, expect: number) => {
    const tail = new FileTailer({
      logpaths: [log], start: 'end', follow: true, pollIntervalMs: 50, positions: store,
      onChunk: (c) => { seen.push(...c.buf.toString().split('\n').filter(Boolean)); },
    });
    await tail.start();
    write();
    const t0 = Date.now();
    while (seen.length < expect && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    store.savePositions(tail.positions());
    await tail.stop();
  };
  const s1 = StateStore.open(dir);
  await run(s1, () => appendFileSync(log, 'one\ntwo\n'), 2);
  s1.close();
  appendFileSync(log, 'three, while logban was down\n');
  const s2 = open(t, dir);
  await run(s2, () => appendFileSync(log, 'four\n'), 4);
  t.same(seen, ['one', 'two', 'three, while logban was down', 'four']);
});
