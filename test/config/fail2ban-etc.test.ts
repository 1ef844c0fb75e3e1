// The system's real fail2ban configuration: every jail in its jail.conf, force-enabled, must
// resolve in logban's config layer exactly as in fail2ban's own reader.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { fail2banView, noFail2ban } from './f2b.js';
import { writeTree } from './tree.js';

const etc = '/etc/fail2ban';
const skip = !fs.existsSync(path.join(etc, 'jail.conf')) ? 'no /etc/fail2ban/jail.conf' : false;

t.test('every jail of /etc/fail2ban/jail.conf resolves, with the same values as fail2ban', { skip }, async (t) => {
  // A config dir that is /etc/fail2ban plus a jail.local enabling every jail of jail.conf.
  const names = [...fs.readFileSync(path.join(etc, 'jail.conf'), 'utf8').matchAll(/^\[([^\]\n]+)\]/gm)]
    .map((m) => m[1]!)
    .filter((n) => n !== 'DEFAULT' && n !== 'INCLUDES');
  t.ok(names.length > 20, `${names.length} jails in jail.conf`);
  const dir = writeTree(t, { 'jail.local': names.map((n) => `[${n}]\nenabled = true\n`).join('\n') });
  for (const entry of fs.readdirSync(etc)) {
    if (entry !== 'jail.local') fs.symlinkSync(path.join(etc, entry), path.join(dir, entry));
  }
  const { jails } = loadConfig(dir);
  const mine = new Map(jails.map((j) => [j.name, j]));
  for (const n of names) t.ok(mine.has(n), `jail ${n} resolved`);

  if (noFail2ban) {
    t.comment(`not compared with fail2ban: ${noFail2ban}`);
    return;
  }
  const theirs = fail2banView(dir);
  for (const [name, want] of Object.entries(theirs)) {
    const j = mine.get(name);
    if (!want.enabled || !j) {
      t.fail(`fail2ban: ${name} ${want.error ?? 'not enabled'}`);
      continue;
    }
    const f = j.filter;
    const got = {
      failregex: f.failregex.map((s) => s.value),
      ignoreregex: f.ignoreregex.map((s) => s.value),
      journalmatch: f.journalmatch,
      usedns: f.usedns,
      maxlines: f.maxlines,
      prefregex: f.prefregex?.value,
      datepattern: f.datepattern?.map((s) => s.value).join('\n'),
      maxretry: j.maxretry,
      findtime: j.findtime,
      bantime: j.bantime,
    };
    const expected = Object.fromEntries(Object.keys(got).map((k) => [k, (want as Record<string, unknown>)[k]]));
    // fail2ban sends no maxlines command when unset: the engine's default is 1 line
    expected['maxlines'] ??= 1;
    t.same(got, expected, name);
  }
});
