// `logban test FILTER LOGFILE [--config-dir DIR] [--json] [--now TIME]`, DESIGN.md's contract,
// run as a user would (`node bin/logban.js test ...`): one JSON object per matching line with
// lineno, host, time (epoch seconds or null) and every <F-NAME> capture in lower case; a human
// summary like fail2ban-regex's; clear one-line errors for what the user got wrong.

import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundledConfig, fixtures, repoRoot } from '../helpers/paths.js';
import { logbanCli, runProcess, type ProcessResult } from '../helpers/process.js';

/** From the repository root (filters are also named by relative path); a minute at most. */
const RUN_OPTIONS = { cwd: repoRoot, timeoutMs: 60_000 };

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ProcessResult> {
  return runProcess(cmd, args, { ...RUN_OPTIONS, env });
}

/** Dates without a zone are local time: pin the zone so epochs are exact. */
const UTC_ENV: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC' };

function logban(args: readonly string[], env: NodeJS.ProcessEnv = UTC_ENV): Promise<ProcessResult> {
  return logbanCli(args, { ...RUN_OPTIONS, env });
}

const dir = path.join(fixtures, 'cli');
const accessLog = path.join(dir, 'apache-access.log');
const authLog = path.join(dir, 'auth.log');
const config = ['--config-dir', bundledConfig];
const epoch = (y: number, mo: number, d: number, h: number, mi: number, s: number) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;

type Hit = { lineno: number; host: string; time: number | null } & Record<string, unknown>;

function jsonLines(t: Test, r: ProcessResult): Hit[] {
  t.equal(r.code, 0, 'exit 0');
  t.equal(r.stderr, '', 'nothing on stderr');
  const lines = r.stdout.split('\n');
  t.equal(lines.pop(), '', 'output ends with a newline');
  return lines.map((l) => JSON.parse(l) as Hit);
}

/** `Lines: N lines, N ignored, N matched, N missed` from a summary (ours or fail2ban-regex's). */
function linesSummary(text: string): { lines: number; ignored: number; matched: number; missed: number } | null {
  const m = /^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/m.exec(text);
  return m ? { lines: +m[1], ignored: +m[2], matched: +m[3], missed: +m[4] } : null;
}

t.test('apache-xmlrpc over an Apache access log: one object per matching line', async (t) => {
  const hits = jsonLines(t, await logban(['test', 'apache-xmlrpc', accessLog, ...config, '--json']));
  t.same(hits, [
    { lineno: 1, host: '198.51.100.7', time: epoch(2026, 11, 26, 10, 0, 0) },
    { lineno: 3, host: '198.51.100.7', time: epoch(2026, 11, 26, 10, 0, 5) },
    { lineno: 5, host: '203.0.113.9', time: epoch(2026, 11, 26, 10, 0, 10) },
    { lineno: 8, host: '198.51.100.7', time: epoch(2026, 11, 26, 10, 0, 20) },
  ]);
  // the zone is in the line (+0000): the local zone does not matter
  const berlin = jsonLines(t, await logban(['test', 'apache-xmlrpc', accessLog, ...config, '--json'], { ...process.env, TZ: 'Europe/Berlin' }));
  t.same(berlin, hits, 'same epochs in another local zone');
});

t.test('sshd over an auth.log with year-less dates, --now fixing the year', async (t) => {
  const now = ['--now', '2025-01-10T00:00:00Z'];
  const hits = jsonLines(t, await logban(['test', 'sshd', authLog, ...config, '--json', ...now]));
  t.same(hits, [
    { lineno: 1, host: '198.51.100.23', time: epoch(2025, 1, 5, 3, 4, 5), user: 'root' },
    { lineno: 2, host: '198.51.100.24', time: epoch(2025, 1, 5, 3, 4, 6), user: 'admin' },
    // December is in the future in January 2025: last year's
    { lineno: 4, host: '2001:db8::42', time: epoch(2024, 12, 31, 23, 59, 59), user: 'oracle' },
  ]);
  const epochNow = jsonLines(t, await logban(['test', 'sshd', authLog, ...config, '--json', '--now', String(epoch(2025, 1, 10, 0, 0, 0))]));
  t.same(epochNow, hits, '--now as epoch seconds means the same');
  // a date without a zone is local time, as fail2ban reads it
  const berlin = jsonLines(t, await logban(['test', 'sshd', authLog, ...config, '--json', ...now], { ...process.env, TZ: 'Europe/Berlin' }));
  t.same(berlin.map((h) => h.time), hits.map((h) => (h.time as number) - 3600), 'Europe/Berlin is one hour ahead of UTC in winter');
});

t.test('sshd[mode=aggressive] also counts closed preauth connections', async (t) => {
  const args = [authLog, ...config, '--json', '--now', '2025-01-10T00:00:00Z'];
  const normal = jsonLines(t, await logban(['test', 'sshd', ...args]));
  const aggressive = jsonLines(t, await logban(['test', 'sshd[mode=aggressive]', ...args]));
  t.same(aggressive.map((h) => h.lineno), [1, 2, 4, 5]);
  t.same(aggressive[3], { lineno: 5, host: '198.51.100.25', time: epoch(2025, 1, 5, 3, 4, 8), user: 'root' });
  t.same(aggressive.slice(0, 3), normal, 'the normal-mode hits are unchanged');
});

t.test('a filter given as a path, with <F-NAME> captures under lower-case names', async (t) => {
  const hits = jsonLines(t, await logban(['test', path.join(dir, 'captures.conf'), path.join(dir, 'apache-auth-captures.log'), '--json']));
  t.same(hits, [
    { lineno: 1, host: '198.51.100.9', time: epoch(2026, 11, 26, 10, 0, 0), user: 'alice', method: 'GET', uri: '/admin' },
    { lineno: 3, host: '2001:db8::9', time: epoch(2026, 11, 26, 10, 0, 2), user: 'carol', method: 'POST', uri: '/login' },
  ]);
  // a relative path is relative to the current directory (the repository root here), and the
  // bundled filter read as a file gives what its name gives
  const byPath = jsonLines(t, await logban(['test', 'config/filter.d/apache-xmlrpc.conf', accessLog, '--json']));
  const byName = jsonLines(t, await logban(['test', 'apache-xmlrpc', accessLog, ...config, '--json']));
  t.same(byPath, byName);
});

t.test('a single log line instead of a file', async (t) => {
  const line = '198.51.100.8 - - [26/Nov/2026:10:00:00 +0000] "POST /xmlrpc.php HTTP/1.0" 200 412 "-" "-"';
  t.same(jsonLines(t, await logban(['test', 'apache-xmlrpc', line, ...config, '--json'])), [
    { lineno: 1, host: '198.51.100.8', time: epoch(2026, 11, 26, 10, 0, 0) },
  ]);
  // no date in the line: time is null, not absent
  const undated = await logban(['test', 'apache-xmlrpc', '198.51.100.8 "POST /xmlrpc.php HTTP/1.0" 200', ...config, '--json']);
  t.equal(undated.stdout, '{"lineno":1,"host":"198.51.100.8","time":null}\n');
  const miss = await logban(['test', 'apache-xmlrpc', '198.51.100.8 "GET / HTTP/1.1" 200', ...config, '--json']);
  t.equal(miss.code, 0);
  t.equal(miss.stdout, '', 'a line that does not match prints nothing');
});

t.test('the human summary: lines, matched, missed; --print-missed lists the misses', async (t) => {
  const r = await logban(['test', 'apache-xmlrpc', accessLog, ...config]);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.same(linesSummary(r.stdout), { lines: 10, ignored: 0, matched: 4, missed: 6 });
  t.notMatch(r.stdout, /Missed line/, 'misses are not listed unless asked');

  const m = await logban(['test', 'apache-xmlrpc', accessLog, ...config, '--print-missed']);
  t.equal(m.code, 0);
  const block = /\|- Missed line\(s\):\n((?:\|  .*\n)*)`-/.exec(m.stdout);
  t.ok(block, 'a block of missed lines');
  const listed = (block?.[1] ?? '').split('\n').filter(Boolean).map((l) => l.slice(3));
  const fileLines = fs.readFileSync(accessLog, 'utf8').split('\n');
  t.same(listed, [2, 4, 6, 7, 9, 10].map((n) => fileLines[n - 1]), 'exactly the six lines that did not match, in order');
});

const haveFail2banRegex = spawnSync('fail2ban-regex', ['--version'], { stdio: 'ignore' }).status === 0;

t.test('match counts agree with fail2ban-regex on the same filter file', { skip: haveFail2banRegex ? false : 'fail2ban-regex is not installed' }, async (t) => {
  const filterFile = path.join(bundledConfig, 'filter.d', 'apache-xmlrpc.conf');
  const theirs = linesSummary((await run('fail2ban-regex', [accessLog, filterFile])).stdout);
  const ours = linesSummary((await logban(['test', filterFile, accessLog])).stdout);
  t.ok(theirs, 'fail2ban-regex printed its Lines: summary');
  t.same(ours, theirs, 'apache-xmlrpc: same lines/ignored/matched/missed');

  // sshd has lines that match only a "no failure" regex (a successful login, a closed preauth
  // connection): fail2ban-regex counts them as ignored, not matched
  const sshdTheirs = linesSummary((await run('fail2ban-regex', [authLog, path.join(bundledConfig, 'filter.d', 'sshd.conf')], UTC_ENV)).stdout);
  const sshdOurs = linesSummary((await logban(['test', 'sshd', authLog, ...config, '--now', '2025-01-10T00:00:00Z'])).stdout);
  t.same(sshdOurs, sshdTheirs, 'sshd: same lines/ignored/matched/missed');
});

t.test('lines with NUL bytes or invalid UTF-8 are skipped and counted; line numbers stay true', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-test-cmd-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const log = path.join(tmp, 'binary.log');
  const ok = (addr: string, s: number) => `${addr} - - [26/Nov/2026:10:00:0${s} +0000] "POST /xmlrpc.php HTTP/1.0" 200 1`;
  fs.writeFileSync(log, Buffer.concat([
    Buffer.from(ok('198.51.100.1', 0) + '\n'),
    Buffer.from([0, 0xff, 0xfe]), Buffer.from(' "POST /xmlrpc.php HTTP/1.0"\n'),
    Buffer.from('198.51.100.2 - - [26/Nov/2026:10:00:01 +0000] "POST /xmlrpc.php '), Buffer.from([0xff]), Buffer.from(' HTTP/1.0" 200 1\r\n'),
    Buffer.from(ok('198.51.100.3', 2) + '\r\n'),
  ]));
  t.same(jsonLines(t, await logban(['test', 'apache-xmlrpc', log, ...config, '--json'])), [
    { lineno: 1, host: '198.51.100.1', time: epoch(2026, 11, 26, 10, 0, 0) },
    { lineno: 4, host: '198.51.100.3', time: epoch(2026, 11, 26, 10, 0, 2) },
  ], 'CRLF line ends are fine; the two bad lines are skipped');
  const r = await logban(['test', 'apache-xmlrpc', log, ...config]);
  t.equal(r.code, 0);
  t.match(r.stdout, /^Lines: 4 lines, 0 ignored, 2 matched, 0 missed, 2 skipped\b/m);
});

/** One line on stderr, no stack trace, nothing on stdout, exit != 0. */
function oneLineError(t: Test, r: ProcessResult, ...mentions: (string | RegExp)[]): void {
  t.not(r.code, 0, 'exit code is not 0');
  t.equal(r.stdout, '', 'nothing on stdout');
  t.match(r.stderr, /^logban: [^\n]+\n$/, 'exactly one line, prefixed logban:');
  t.notMatch(r.stderr, /\bat .*\.js:\d+/, 'no stack trace');
  for (const m of mentions) t.match(r.stderr, m);
}

t.test('a filter RE2 cannot run is refused in one line naming the file, line and construct', async (t) => {
  const file = path.join(dir, 'lookahead.conf');
  for (const json of [[], ['--json']]) {
    const r = await logban(['test', file, accessLog, ...json]);
    oneLineError(t, r, `${file}:4:`, '(?!', /lookahead/);
  }
});

t.test('missing configuration directory, unknown filter, bad --now: one clear line', async (t) => {
  oneLineError(t, await logban(['test', 'apache-xmlrpc', accessLog, '--config-dir', '/nonexistent/logban']),
    '/nonexistent/logban', /does not exist/);
  oneLineError(t, await logban(['test', 'no-such-filter', accessLog, ...config]),
    '"no-such-filter"', path.join(bundledConfig, 'filter.d', 'no-such-filter.conf'));
  oneLineError(t, await logban(['test', 'sshd', authLog, ...config, '--now', 'yesterday']), '--now', '"yesterday"');
  // a filter path that does not exist must be named, whatever --config-dir is
  const missing = path.join(dir, 'no-such-filter.conf');
  const r = await logban(['test', missing, accessLog, '--config-dir', '/nonexistent/logban']);
  oneLineError(t, r);
  t.match(r.stderr, missing, 'names the missing filter file');
});
