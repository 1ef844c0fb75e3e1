import t from 'tap';
import { appendFileSync, copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { JournalSource, type JournalSourceOptions } from '../../src/sources/journal.js';
import { journalMatchArgs, formatJournalEntry } from '../../src/sources/journal-format.js';
import { UserError } from '../../src/errors.js';
import { fixtures } from '../helpers/paths.js';
import { LineCollector, tempDir, waitFor } from './collect.js';

// Journal lines carry local time, as fail2ban's do; pin the zone so expectations are fixed.
process.env.TZ = 'UTC';

const stand = path.join(fixtures, 'sources', 'fake-journalctl.mjs');
const entriesFixture = path.join(fixtures, 'sources', 'journal-sshd.jsonl');

const expected = [
  '2026-11-26T13:33:20.120000 web1 sshd[4242]: Failed password for root from 198.51.100.7 port 50022 ssh2',
  '2026-11-26T13:33:22 web1 sshd[4243]: Invalid user admin from 198.51.100.8 port 50100',
  '2026-11-26T13:33:23 web1 sshd[4244]: Failed \ufffd\\nnext',
  '2026-11-26T13:33:24 web1 kernel: [    5.123456] IN=eth0 SRC=198.51.100.9',
  '2026-11-26T13:33:25 web1 sshd[4245]: first line\\nsecond line',
];

function setup(t: { teardown(fn: () => unknown): void }) {
  const dir = tempDir(t, 'journal');
  const entries = path.join(dir, 'journal.jsonl');
  copyFileSync(entriesFixture, entries);
  const log = path.join(dir, 'argv.jsonl');
  const invocations = () => readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
  return { dir, entries, log, invocations };
}

function source(
  t: { teardown(fn: () => unknown): void }, c: LineCollector, s: ReturnType<typeof setup>,
  opts: Partial<JournalSourceOptions>, fakeArgs: string[] = [],
): { src: JournalSource; warnings: string[]; errors: Error[] } {
  const warnings: string[] = [];
  const errors: Error[] = [];
  const src = new JournalSource({
    jail: 'sshd', journalmatch: ['_SYSTEMD_UNIT=sshd.service + _COMM=sshd'],
    journalctl: [process.execPath, stand], restartDelayMs: 50,
    extraArgs: [`--fake-entries=${s.entries}`, `--fake-log=${s.log}`, ...fakeArgs],
    onChunk: c.onChunk, onWarning: (m) => warnings.push(m), onError: (e) => errors.push(e),
    ...opts,
  });
  t.teardown(() => src.stop());
  return { src, warnings, errors };
}

t.test('replay: every entry as a fail2ban-style line, cursor of the last one kept', async (t) => {
  const s = setup(t);
  const c = new LineCollector();
  const { src, errors } = source(t, c, s, { start: 'start', follow: false });
  src.start();
  await src.done();
  t.same(c.lines, expected);
  t.equal(c.unaligned, 0, 'chunks end with a newline');
  t.ok(c.chunks.every((ch) => ch.source === 'journal:sshd'));
  t.equal(src.cursor(), 's=abc;i=105');
  t.same(errors, []);
  const argv = s.invocations()[0]!;
  t.ok(argv.includes('-o') && argv.includes('json'));
  t.notOk(argv.includes('--follow'));
  t.notOk(argv.includes('--lines=0'), 'replay reads the whole journal');
  t.same(argv.slice(-3), ['_SYSTEMD_UNIT=sshd.service', '+', '_COMM=sshd'], 'journalmatch terms as separate arguments');
  // the raw bytes of a non-UTF-8 message are kept as they are
  const raw = Buffer.concat(c.chunks.map((ch) => ch.buf));
  t.ok(raw.includes(Buffer.from([0x20, 0xff, 0x5c, 0x6e])), 'byte 0xff kept, newline escaped');
});

t.test('follow with no cursor: only entries written after start', async (t) => {
  const s = setup(t);
  const c = new LineCollector();
  const { src } = source(t, c, s, {});
  src.start();
  await waitFor(() => { try { return s.invocations().length > 0; } catch { return false; } });
  t.ok(s.invocations()[0]!.includes('--lines=0'));
  t.ok(s.invocations()[0]!.includes('--follow'));
  await new Promise((r) => setTimeout(r, 150));
  t.same(c.lines, [], 'old entries are not read');
  appendFileSync(s.entries, JSON.stringify({
    __CURSOR: 's=abc;i=106', __REALTIME_TIMESTAMP: '1795700010000000', _HOSTNAME: 'web1',
    SYSLOG_IDENTIFIER: 'sshd', _PID: '77', MESSAGE: 'Connection closed by 203.0.113.5 port 4711 [preauth]',
  }) + '\n');
  await waitFor(() => c.lines.length >= 1);
  t.same(c.lines, ['2026-11-26T13:33:30 web1 sshd[77]: Connection closed by 203.0.113.5 port 4711 [preauth]']);
  await waitFor(() => src.cursor() === 's=abc;i=106', 2000, 'cursor');
});

t.test('a saved cursor resumes right after it', async (t) => {
  const s = setup(t);
  const c = new LineCollector();
  const { src } = source(t, c, s, { cursor: 's=abc;i=102' });
  src.start();
  await waitFor(() => c.lines.length >= 3);
  t.same(c.lines, expected.slice(2));
  const argv = s.invocations()[0]!;
  t.equal(argv[argv.indexOf('--after-cursor') + 1], 's=abc;i=102');
  t.notOk(argv.includes('--lines=0'));
});

t.test('journalctl dying is restarted after its last cursor: no entry lost or repeated', async (t) => {
  const s = setup(t);
  const c = new LineCollector();
  const { src, warnings } = source(t, c, s, { cursor: 's=abc;i=101' }, ['--fake-die-after=2']);
  src.start();
  await waitFor(() => c.lines.length >= 4, 5000, 'four entries');
  await new Promise((r) => setTimeout(r, 100));
  t.same(c.lines, expected.slice(1));
  t.equal(src.stats().restarts, 1);
  t.match(warnings.join('\n'), /exited \(code 1\): Failed to iterate through journal: Bad message; restarting/);
  const second = s.invocations()[1]!;
  t.equal(second[second.indexOf('--after-cursor') + 1], 's=abc;i=103');
  t.equal(src.cursor(), 's=abc;i=105');
});

t.test('a missing journalctl is a user error naming the jail', async (t) => {
  const s = setup(t);
  const c = new LineCollector();
  const { src, errors } = source(t, c, s, { journalctl: path.join(s.dir, 'no-such-journalctl') });
  src.start();
  await waitFor(() => errors.length > 0);
  t.ok(errors[0] instanceof UserError);
  t.match(errors[0]!.message, /jail sshd uses backend = systemd, but .*no-such-journalctl was not found/);
});

t.test('journalmatch lines become alternatives', async (t) => {
  t.same(journalMatchArgs(['_SYSTEMD_UNIT=sshd.service + _COMM=sshd']), ['_SYSTEMD_UNIT=sshd.service', '+', '_COMM=sshd']);
  t.same(journalMatchArgs(['_SYSTEMD_UNIT=a.service', '_SYSTEMD_UNIT=b.service _COMM=b']),
    ['_SYSTEMD_UNIT=a.service', '+', '_SYSTEMD_UNIT=b.service', '_COMM=b']);
  t.same(journalMatchArgs(['MESSAGE="two words"', '']), ['MESSAGE=two words']);
  t.same(journalMatchArgs([]), []);
});

t.test('formatting falls back sensibly', async (t) => {
  const fallback = 1795700000000000n;
  t.equal(formatJournalEntry({ MESSAGE: 'bare' }, fallback).toString(), '2026-11-26T13:33:20 bare', 'no host, no ident: date and message');
  t.equal(formatJournalEntry({ _COMM: 'cron', _PID: 'x7', MESSAGE: ['a', 'b'] }, fallback).toString(),
    '2026-11-26T13:33:20 cron[x7]: a b', 'a non-numeric pid is kept as text; repeated fields are joined');
  t.equal(formatJournalEntry({ _HOSTNAME: 'h', MESSAGE: null }, fallback).toString(), '2026-11-26T13:33:20 h ');
});
