// `logban run --config-dir /etc/fail2ban` on a stock fail2ban installation: fail2ban's sshd
// filter needs lookahead, which RE2 refuses, so the daemon runs logban's own sshd filter in its
// place, says so, and bans; strict_filters turns the substitution into a clear start-up error.
// Runs on a copy of /etc/fail2ban with only logpath redirected (in jail.local, as an
// administrator would), and the dry-run backend, so nothing touches the host.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, sshdFailure, startDaemon } from '../helpers/daemon.js';

const F2B = '/etc/fail2ban';

t.test('a stock /etc/fail2ban runs, with logban\'s sshd filter standing in for the refused one', {
  skip: fs.existsSync(path.join(F2B, 'filter.d', 'sshd.conf')) ? false : 'fail2ban is not installed',
}, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-f2b-import-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const etc = path.join(dir, 'fail2ban');
  fs.cpSync(F2B, etc, { recursive: true });
  const log = path.join(dir, 'auth.log');
  fs.writeFileSync(log, '');
  // sshd is enabled by Debian's jail.d/defaults-debian.conf; only where its log is changes
  fs.writeFileSync(path.join(etc, 'jail.local'), `[sshd]\nenabled = true\nlogpath = ${log}\nmaxretry = 3\n`);

  const d = await startDaemon({
    configDir: etc, stateDir: path.join(dir, 'state'), socket: path.join(dir, 'logban.sock'), backend: 'dry-run',
  });
  t.teardown(() => d.stop());
  const sub = await d.waitForLog(/\[sshd\] .*sshd\.conf:\d+: filter sshd: cannot run .*running logban's built-in filter .*sshd\.conf instead/);
  t.ok(sub, 'the log names fail2ban\'s file and line, the construct, and the built-in filter used instead');

  for (let i = 0; i < 3; i++) fs.appendFileSync(log, sshdFailure('198.18.3.4'));
  await d.waitForLog(/\[sshd\] Ban 198\.18\.3\.4/, 15_000);
  t.pass('three sshd failures ban through the substituted filter');
  // an injected address in the user name is not taken (the built-in filter is anchored)
  for (let i = 0; i < 3; i++) {
    fs.appendFileSync(log, sshdFailure('198.18.3.5', new Date(), 'x from 198.18.9.9 port 22'));
  }
  await d.waitForLog(/\[sshd\] Ban 198\.18\.3\.5/, 15_000);
  t.notMatch(d.stderrText(), /Ban 198\.18\.9\.9/, 'the address inside the user name is never banned');
  t.equal((await d.stop()).code, 0);

  // strict_filters: the substitution becomes an error naming the file and line
  fs.writeFileSync(path.join(etc, 'logban.local'), '[logban]\nstrict_filters = true\n');
  const r = await runCli(['run', '--config-dir', etc, '--backend', 'dry-run', '--state-dir', path.join(dir, 'state'),
    '--socket', path.join(dir, 'logban2.sock'), '--metrics', '']);
  t.not(r.code, 0, 'strict_filters refuses to start');
  t.match(r.stderr, /sshd\.conf:\d+: filter sshd: cannot run/, 'with the file, line and construct');
  t.notMatch(r.stderr, /\n\s+at /, 'and no stack trace');
});
