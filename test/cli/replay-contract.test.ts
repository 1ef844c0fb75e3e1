// `logban replay [--config-dir DIR] [--backend ...] [--json]`, DESIGN.md's contract, run as a
// user would (`node bin/logban.js replay ...`) over configuration directories written like an
// administrator's (bundled jail.conf + a jail.local), always with the dry-run backend.
// Counts are worked out by hand from the fixtures in test/fixtures/cli/.

import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundledConfig, fixtures } from '../helpers/paths.js';
import { writeConfigDir, type ConfigDirSpec } from '../helpers/daemon.js';
import { logbanCli, runProcess, type ProcessResult } from '../helpers/process.js';

/** Both logban and fail2ban-regex: dates in UTC; replays of whole fixtures can take a while. */
const RUN_OPTIONS = { env: { ...process.env, TZ: 'UTC' }, timeoutMs: 120_000 };
const logban = (args: readonly string[]): Promise<ProcessResult> => logbanCli(args, RUN_OPTIONS);
const run = (cmd: string, args: readonly string[]): Promise<ProcessResult> => runProcess(cmd, args, RUN_OPTIONS);

interface Counts {
  lines: number;
  matches: number;
  bans: number;
}
interface Summary extends Counts {
  seconds: number;
  jails: Record<string, Counts>;
}

const dir = path.join(fixtures, 'cli');
const accessLog = path.join(dir, 'apache-access.log');
const authLog = path.join(dir, 'auth.log');

function configDir(t: Test, spec: ConfigDirSpec): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-replay-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return writeConfigDir(d, { ...spec, settings: { backend: 'dry-run', ...spec.settings } });
}

/** `logban replay --json`, checked for the contract's shape; returns the summary. */
async function replayJson(t: Test, cfg: string): Promise<Summary> {
  // --backend dry-run even though logban.local says so: never touch the host's firewall
  const r = await logban(['replay', '--config-dir', cfg, '--backend', 'dry-run', '--json']);
  t.equal(r.code, 0, 'exit 0');
  t.equal(r.stderr, '', 'nothing on stderr');
  const out = r.stdout.split('\n');
  t.equal(out.length, 2, 'one JSON line');
  const s = JSON.parse(out[0]) as Summary;
  for (const k of ['lines', 'matches', 'bans', 'seconds'] as const) t.type(s[k], 'number', `${k} is a number`);
  t.ok(s.seconds >= 0 && Number.isFinite(s.seconds), 'seconds is a duration');
  t.type(s.jails, 'object');
  for (const [name, j] of Object.entries(s.jails)) {
    for (const k of ['lines', 'matches', 'bans'] as const) t.ok(Number.isInteger(j[k]), `jails.${name}.${k} is an integer`);
  }
  return s;
}

function counts(s: Summary): { lines: number; matches: number; bans: number; jails: Record<string, Counts> } {
  return { lines: s.lines, matches: s.matches, bans: s.bans, jails: s.jails };
}

t.test('apache-xmlrpc over a 10-line access log: 4 matches, 1 ban', async (t) => {
  // 198.51.100.7 posts to xmlrpc.php 3 times in 20 s (maxretry 3: banned); 203.0.113.9 once;
  // HTTP/1.1 posts, other URLs, and the request text inside a query string do not match
  const cfg = configDir(t, { jails: { 'apache-xmlrpc': { logpath: accessLog } } });
  const s = await replayJson(t, cfg);
  t.same(counts(s), { lines: 10, matches: 4, bans: 1, jails: { 'apache-xmlrpc': { lines: 10, matches: 4, bans: 1 } } });
});

t.test('two jails on two files: totals are the sums', async (t) => {
  // auth.log: 6 lines, 3 failures (normal mode) from 3 addresses, maxretry 5: no ban
  const cfg = configDir(t, { jails: { 'apache-xmlrpc': { logpath: accessLog }, sshd: { logpath: authLog } } });
  const s = await replayJson(t, cfg);
  t.same(counts(s), {
    lines: 16, matches: 7, bans: 1,
    jails: { 'apache-xmlrpc': { lines: 10, matches: 4, bans: 1 }, sshd: { lines: 6, matches: 3, bans: 0 } },
  });
});

t.test('two jails sharing one file: the file\'s lines count once in the total', async (t) => {
  const cfg = configDir(t, {
    jails: {
      'apache-xmlrpc': { logpath: accessLog },
      'xmlrpc-strict': { logpath: accessLog, filter: 'apache-xmlrpc', maxretry: '4' },
    },
  });
  const s = await replayJson(t, cfg);
  t.same(counts(s), {
    lines: 10, matches: 8, bans: 1,
    jails: { 'apache-xmlrpc': { lines: 10, matches: 4, bans: 1 }, 'xmlrpc-strict': { lines: 10, matches: 4, bans: 0 } },
  });
});

t.test('log times, not the wall clock, drive findtime', async (t) => {
  // findtime 5 min, maxretry 3. "close": 09:00:00, 09:01:40, 09:03:20 (200 s from first to
  // last): banned. "spread": 09:00:00, 09:04:10, 09:08:20 (500 s): not banned. fail2ban does
  // not slide a strict window: past findtime it scales the count to the rate over the known
  // interval (FailTicket.adjustTime): at 09:08:20, round(2 / 500 s * 300 s) = 1, plus this one
  // is 2 < 3. (Gaps of 200 s would ban: round(2 / 400 * 300) = 2, plus one is 3.) The replay
  // itself takes well under a second, so wall-clock times would ban both.
  const cfg = configDir(t, {
    jails: {
      'xmlrpc-spread': { filter: 'apache-xmlrpc', logpath: path.join(dir, 'findtime-spread.log'), maxretry: '3', findtime: '5m' },
      'xmlrpc-close': { filter: 'apache-xmlrpc', logpath: path.join(dir, 'findtime-close.log'), maxretry: '3', findtime: '5m' },
    },
  });
  const s = await replayJson(t, cfg);
  t.same(s.jails['xmlrpc-spread'], { lines: 3, matches: 3, bans: 0 }, 'spread over more than findtime: no ban');
  t.same(s.jails['xmlrpc-close'], { lines: 3, matches: 3, bans: 1 }, 'within findtime: banned');
  t.equal(s.bans, 1);
});

t.test('the human summary names lines, matches, bans and seconds', async (t) => {
  const cfg = configDir(t, { jails: { 'apache-xmlrpc': { logpath: accessLog } } });
  const r = await logban(['replay', '--config-dir', cfg, '--backend', 'dry-run']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^lines 10, matches 4, bans 1, \d+\.\d+ s\b/);
  t.match(r.stdout, /^ {2}apache-xmlrpc: lines 10, matches 4, bans 1$/m);
});

/** A mixed access log: xmlrpc floods (HTTP/1.0 and 1.1), ordinary traffic, IPv6, lines
 * without an address. (Not host names: fail2ban resolves them, logban does not.) */
function generatedLog(lines: number): string {
  let seed = 0x9e3779b9;
  const rnd = (n: number): number => {
    // mulberry32: a small deterministic generator with usable low bits
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
  const p = (n: number) => String(n).padStart(2, '0');
  const requests = [
    '"POST /xmlrpc.php HTTP/1.0"', '"POST /xmlrpc.php HTTP/1.0"', '"POST /xmlrpc.php HTTP/1.1"',
    '"GET /xmlrpc.php HTTP/1.0"', '"GET / HTTP/1.1"', '"POST /wp-login.php HTTP/1.0"',
    '"GET /search?q=POST+/xmlrpc.php+HTTP/1.0 HTTP/1.1"',
  ];
  const out: string[] = [];
  const base = Date.UTC(2026, 10, 26, 8, 0, 0);
  for (let i = 0; i < lines; i++) {
    const d = new Date(base + i * 250);
    const stamp = `[${p(d.getUTCDate())}/Nov/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
    const addr = rnd(5) === 0 ? `2001:db8::${(rnd(50) + 1).toString(16)}` : `198.18.${rnd(4)}.${rnd(250) + 1}`;
    const req = requests[rnd(requests.length)];
    const tail = `${[200, 403, 500][rnd(3)]} ${rnd(5000)} "-" "agent/${rnd(9)}"`;
    out.push(rnd(40) === 0 ? `- - ${stamp} ${req} ${tail}` : `${addr} - - ${stamp} ${req} ${tail}`);
  }
  return out.join('\n') + '\n';
}

/** `Lines: N lines, N ignored, N matched, ...` as fail2ban-regex prints it. */
function fail2banRegexCounts(text: string): { lines: number; ignored: number; matched: number } | null {
  const m = /^Lines: (\d+) lines, (\d+) ignored, (\d+) matched/m.exec(text);
  return m ? { lines: +m[1], ignored: +m[2], matched: +m[3] } : null;
}

const haveFail2banRegex = spawnSync('fail2ban-regex', ['--version'], { stdio: 'ignore' }).status === 0;

t.test('replay matches what fail2ban-regex matches with the same filter file', { skip: haveFail2banRegex ? false : 'fail2ban-regex is not installed' }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-replay-f2b-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const generated = path.join(tmp, 'access.log');
  fs.writeFileSync(generated, generatedLog(3000));
  const filterFile = path.join(bundledConfig, 'filter.d', 'apache-xmlrpc.conf');
  for (const log of [accessLog, generated]) {
    const f2b = await run('fail2ban-regex', [log, filterFile]);
    const theirs = fail2banRegexCounts(f2b.stdout);
    t.ok(theirs, `fail2ban-regex printed its Lines: summary for ${path.basename(log)}`);
    if (!theirs) continue;
    const cfg = configDir(t, { jails: { 'apache-xmlrpc': { logpath: log } } });
    const s = await replayJson(t, cfg);
    t.equal(s.lines, theirs.lines, `${path.basename(log)}: same line count (${theirs.lines})`);
    t.equal(s.matches, theirs.matched, `${path.basename(log)}: same match count (${theirs.matched})`);
  }
});
