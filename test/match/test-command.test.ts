import t from 'tap';
import { Writable } from 'node:stream';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { runTestCommand, type TestCommandArgs } from '../../src/cli/test.js';
import { UserError } from '../../src/errors.js';

function sink(): { out: Writable; text: () => string } {
  let s = '';
  const out = new Writable({ write(chunk, _enc, cb) { s += String(chunk); cb(); } });
  return { out, text: () => s };
}

const dir = path.join(os.tmpdir(), `logban-match-test-${process.pid}`);
mkdirSync(path.join(dir, 'filter.d'), { recursive: true });
writeFileSync(path.join(dir, 'filter.d', 'xmlrpc.conf'), [
  '[Definition]',
  'failregex = ^<HOST> .*"POST /xmlrpc\\.php HTTP/1\\.[01]" <F-STATUS>\\d+</F-STATUS>',
  'ignoreregex = ^192\\.0\\.2\\.99 ',
  '',
].join('\n'));
const log = path.join(dir, 'access.log');
writeFileSync(log, [
  '192.0.2.1 - - [15/Jun/2024:11:00:01 +0000] "POST /xmlrpc.php HTTP/1.0" 200 1',
  '192.0.2.2 - - [15/Jun/2024:11:00:02 +0000] "GET / HTTP/1.1" 200 1',
  '192.0.2.99 - - [15/Jun/2024:11:00:03 +0000] "POST /xmlrpc.php HTTP/1.0" 403 1',
  '[no address] "POST /xmlrpc.php HTTP/1.0" 500',
  '',
].join('\n'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));

const base: TestCommandArgs = { filter: 'xmlrpc', log, configDir: dir, json: false, printMissed: false, printIgnored: false };

t.test('--json prints one object per matching line with lineno, host, time and captures', async (t) => {
  const { out, text } = sink();
  t.equal(await runTestCommand({ ...base, json: true }, out), 0);
  const rows = text().trim().split('\n').map((l) => JSON.parse(l));
  t.same(rows, [{ lineno: 1, host: '192.0.2.1', time: Date.UTC(2024, 5, 15, 11, 0, 1) / 1000, status: '200' }]);
});

t.test('summary counts matched, ignored and missed lines; --print-missed lists them', async (t) => {
  const { out, text } = sink();
  await runTestCommand({ ...base, printMissed: true, printIgnored: true }, out);
  const s = text();
  t.match(s, 'Lines: 4 lines, 1 ignored, 1 matched, 2 missed');
  t.match(s, /\|\s+1\) \[1\] \^<HOST>/);
  t.match(s, /Missed line\(s\):\n\|  192\.0\.2\.2 /);
  t.match(s, /Ignored line\(s\):\n\|  192\.0\.2\.99 /);
  t.match(s, /\[3\] \{\^LN-BEG\}|\[3\] %d/, 'date template hits are reported');
});

t.test('a single line of text instead of a file; a path as FILTER; --now for dates without year', async (t) => {
  const { out, text } = sink();
  await runTestCommand({ ...base, filter: path.join(dir, 'filter.d', 'xmlrpc.conf'), log: '198.51.100.7 - - "POST /xmlrpc.php HTTP/1.1" 404', json: true }, out);
  t.same(JSON.parse(text()), { lineno: 1, host: '198.51.100.7', time: null, status: '404' });
  writeFileSync(path.join(dir, 'filter.d', 'syslog.conf'), '[Definition]\nfailregex = ^ \\S+ app: bad login from <HOST>$\n');
  const s2 = sink();
  await runTestCommand({ ...base, filter: 'syslog', log: 'Dec 31 23:00:00 web app: bad login from 192.0.2.5', json: true, now: '2025-01-01T10:00:00Z' }, s2.out);
  const row = JSON.parse(s2.text());
  t.equal(new Date(row.time * 1000).getFullYear(), 2024, 'December seen on New Year is last year');
});

t.test('errors are user errors', async (t) => {
  await t.rejects(runTestCommand({ ...base, filter: 'nosuch' }, sink().out), UserError);
  await t.rejects(runTestCommand({ ...base, now: 'yesterday-ish' }, sink().out), UserError);
});
