import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../src/errors.js';
import { loadConfig, loadFilter } from '../../src/config/load.js';
import { readLayered } from '../../src/config/layout.js';
import type { JailConfig } from '../../src/types.js';
import { fixtures } from '../helpers/paths.js';
import { fail2banView, noFail2ban } from './f2b.js';
import { userError, writeTree } from './tree.js';

const layered = path.join(fixtures, 'config', 'layered');

t.test('jail files layer as jail.conf < jail.d/*.conf < jail.local < jail.d/*.local', async (t) => {
  const { store, files } = readLayered(path.join(layered, 'jail'));
  t.same(files.map((f) => path.relative(layered, f)), [
    'jail.conf', 'jail.d/10-first.conf', 'jail.d/20-second.conf', 'jail.local', 'jail.d/30-last.local',
  ]);
  t.equal(store.get('demo', 'who_conf')?.value, 'jail.conf');
  t.equal(store.get('demo', 'who_d_conf')?.value, 'jail.d/20-second.conf', 'jail.d/*.conf sorted, later wins');
  t.equal(store.get('demo', 'who_local')?.value, 'jail.local');
  t.equal(store.get('demo', 'who_d_local')?.value, 'jail.d/30-last.local');
});

t.test('a jail resolved with its filter', async (t) => {
  const { jails, disabled } = loadConfig(layered);
  t.same(disabled.map((d) => d.name), ['other'], 'disabled jails are listed, their (missing) filter not read');
  t.equal(jails.length, 1);
  const j = jails[0]!;
  t.equal(j.name, 'demo');
  t.equal(j.line, 13);
  t.match(j.file, /layered\/jail\.conf$/);
  t.same(j.logpath, ['/var/log/demo.log', '/var/log/demo2.log'], 'one path per line, head/tail option dropped');
  t.same(j.ports, [22, [8000, 8100]]);
  t.equal(j.protocol, 'udp');
  t.same(j.ignoreip, ['10.0.0.1', '192.0.2.0/24', '::1']);
  t.equal(j.maxretry, 3);
  t.equal(j.bantime, 5400);
  t.equal(j.findtime, 172800);
  t.same(j.increment, { enabled: true, factor: 1, multipliers: [1, 5, 30], maxtime: 604800, rndtime: 0, overalljails: false });
  t.equal(j.ignoreself, true);
  t.equal(j.backend, 'auto');
  const f = j.filter;
  t.same(f.failregex.map((s) => s.value), [
    '^\\[demo-daemon\\] normal <HOST>$',
    '^init-greeting from <HOST> via demo.d/extra.conf',
    '^extra from <HOST>$',
  ], '<mdre-<mode>> tags, [Init] over [Definition], filter.d/NAME.d/*.conf, jail extends %(known/failregex)s');
  t.match(f.failregex[2]!.file, /jail\.local$/, 'the jail-level failregex points at jail.local');
  t.same(f.ignoreregex.map((s) => [s.value, path.basename(s.file), s.line]), [
    ['^ignored <HOST>$', 'demo.local', 2], ['^also ignored <HOST>$', 'demo.local', 3],
  ], 'filter .local extends its .conf with known/; lines are per regex');
  t.same(f.datepattern?.map((s) => s.value), ['^%Y-%m-%d %H:%M:%S']);
  t.same(f.journalmatch, ['_SYSTEMD_UNIT=demo.service']);
  t.equal(f.maxlines, 2);
  t.equal(f.usedns, 'warn');
  t.equal(f.options['lt'], 'file', 'logtype is file for file backends');
  t.equal(f.options['mode'], 'normal');
});

t.test('the same result as fail2ban for the fixture', { skip: noFail2ban }, async (t) => {
  const want = fail2banView(layered)['demo']!;
  const j = loadConfig(layered).jails[0]!;
  t.same(j.filter.failregex.map((s) => s.value), want.failregex);
  t.same(j.filter.ignoreregex.map((s) => s.value), want.ignoreregex);
  t.same(j.filter.journalmatch, want.journalmatch);
  t.equal(j.filter.datepattern?.map((s) => s.value).join('\n'), want.datepattern);
  t.equal(j.filter.maxlines, want.maxlines);
  t.equal(j.maxretry, want.maxretry);
  t.equal(j.bantime, want.bantime);
  t.equal(j.findtime, want.findtime);
  t.same(j.ignoreip, want.ignoreip);
});

t.test('filter arguments over [Init] over [Definition]', async (t) => {
  const plain = loadFilter(layered, 'demo');
  t.equal(plain.failregex[1]!.value, '^init-greeting from <HOST> via demo.d/extra.conf');
  const withArgs = loadFilter(layered, 'demo[mode=aggressive, greeting="hi, there", who=\'arg\']');
  t.same(withArgs.failregex.map((s) => s.value), [
    '^\\[demo-daemon\\] normal <HOST>$',
    '^\\[demo-daemon\\] aggressive <HOST>$',
    '^hi, there from <HOST> via arg',
  ]);
  t.equal(withArgs.options['mode'], 'aggressive');
  const byPath = loadFilter('/nonexistent', path.join(layered, 'filter.d', 'demo.conf') + '[who=path]');
  t.equal(byPath.failregex[1]!.value, '^init-greeting from <HOST> via path', 'a filter given as a path');
  t.equal(loadFilter(layered, 'demo', { backend: 'systemd' }).options['logtype'], 'journal', 'systemd backend -> journal logtype');
});

const base = {
  'filter.d/f.conf': '[Definition]\nfailregex = ^fail <HOST>$\n',
};

t.test('values absent everywhere take fail2ban defaults', async (t) => {
  const dir = writeTree(t, { ...base, 'jail.conf': '[x]\nenabled = true\nfilter = f\n' });
  const j: JailConfig = loadConfig(dir).jails[0]!;
  t.equal(j.maxretry, 5);
  t.equal(j.findtime, 600);
  t.equal(j.bantime, 600);
  t.equal(j.ports, null);
  t.equal(j.protocol, 'tcp');
  t.equal(j.usedns, 'warn');
  t.equal(j.backend, 'auto');
  t.equal(j.ignoreself, true);
  t.same(j.logpath, []);
  t.equal(j.filter.maxlines, 1);
});

t.test('a filter given as an absolute path from a jail', async (t) => {
  const dir = writeTree(t, { 'elsewhere/mine.conf': '[Definition]\nfailregex = ^mine <HOST>$\n', 'jail.conf': '' });
  const jail = `[x]\nenabled = true\nfilter = ${path.join(dir, 'elsewhere', 'mine')}\n`;
  const dir2 = writeTree(t, { 'jail.conf': jail });
  t.same(loadConfig(dir2).jails[0]!.filter.failregex.map((s) => s.value), ['^mine <HOST>$']);
});

t.test('errors name file, line, jail and key', async (t) => {
  const jailWith = (extra: string): string =>
    writeTree(t, { ...base, 'jail.conf': '[DEFAULT]\nfilter = f\n[sshd]\nenabled = true\n', 'jail.local': `[sshd]\n${extra}\n` });
  userError(t, () => loadConfig(jailWith('maxretry = abc')), /jail\.local:2: \[sshd\] maxretry: "abc" is not a number$/);
  userError(t, () => loadConfig(jailWith('bantime = forever')), /jail\.local:2: \[sshd\] bantime: "forever" is not a time value/);
  userError(t, () => loadConfig(jailWith('port = http,nosuchservice')), /jail\.local:2: \[sshd\] port: unknown service name "nosuchservice"/);
  userError(t, () => loadConfig(jailWith('protocol = icmp')), /jail\.local:2: \[sshd\] protocol: "icmp" is not one of/);
  userError(t, () => loadConfig(jailWith('maxlines = 0')), /jail\.local:2: \[sshd\] maxlines: 0 is below the minimum 1/);
  userError(t, () => loadConfig(jailWith('ignoreself = maybe')), /jail\.local:2: \[sshd\] ignoreself: "maybe" is not a boolean/);
  userError(t, () => loadConfig(jailWith('usedns = sometimes')), /jail\.local:2: \[sshd\] usedns: "sometimes" must be yes, warn, no or raw/);
  userError(t, () => loadConfig(jailWith('filter = nope')), /jail\.local:2: \[sshd\] filter: jail \[sshd\] uses filter "nope", but neither .*filter\.d\/nope\.conf nor .*nope\.local exists/);
  userError(t, () => loadConfig(jailWith('filter = f[=x]')), /jail\.local:2: \[sshd\] filter: invalid filter reference/);
  userError(t, () => loadConfig(jailWith('logpath = %(nothere)s')), /jail\.local:2: \[sshd\] logpath: %\(nothere\)s is not defined in \[sshd\] or \[DEFAULT\]$/);
  const badFilter = writeTree(t, {
    'filter.d/f.conf': '[Definition]\nfailregex = ^%(missing)s <HOST>\n',
    'jail.conf': '[web]\nenabled = true\nfilter = f\n',
  });
  userError(t, () => loadConfig(badFilter), /filter\.d\/f\.conf:2: \[Definition\] failregex: %\(missing\)s is not defined/, /used by jail \[web\]/);
  const noFilter = writeTree(t, { 'jail.conf': '[web]\nenabled = true\n' });
  userError(t, () => loadConfig(noFilter), /jail\.conf:1: \[web\] has no filter/);
  userError(t, () => loadConfig('/nonexistent/logban-config'), /configuration directory \/nonexistent\/logban-config does not exist/);
  userError(t, () => loadConfig(writeTree(t, { 'logban.conf': '[logban]\n' })), /no jail\.conf or jail\.local/);
  userError(t, () => loadFilter(layered, 'nope'), /filter "nope" not found/);
  userError(t, () => loadFilter(layered, './no/such/filter.conf'), /filter file \.\/no\/such\/filter\.conf does not exist/);
  userError(t, () => loadFilter(layered, 'demo[who'), /invalid filter "demo\[who"/);
});

t.test('random jail values only ever throw UserError', async (t) => {
  const dir = writeTree(t, {
    'filter.d/f.conf': '[INCLUDES]\nbefore = c.conf\n[Definition]\nfailregex = ^x <HOST> <t> %(d)s\n[Init]\nt = <u>\nu = y\n',
    'filter.d/c.conf': '[DEFAULT]\nd = dd\n',
    'jail.conf': '[DEFAULT]\nfilter = f\n[j]\nenabled = true\n',
  });
  let seed = 99;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const keys = ['maxretry', 'findtime', 'bantime', 'port', 'protocol', 'ignoreip', 'ignoreself', 'usedns', 'maxlines',
    'bantime.increment', 'bantime.factor', 'bantime.multipliers', 'bantime.maxtime', 'bantime.rndtime', 'logpath',
    'failregex', 'datepattern', 'filter', 'backend', 'enabled', 'journalmatch', 'logtimezone', 'prefregex'];
  const atoms = ['1', '0', '-1', '10m', 'abc', 'http', 'ssh', ':', ',', ' ', '%(d)s', '%(known/failregex)s', '%%', '%',
    '<t>', '<known/t>', '[', ']', 'f[t=1]', 'f[', '=', '"', 'tcp', 'yes', 'warn', '1:2', '65536', '\n  ', '.', 'e5', '*', '('];
  let errors = 0;
  for (let i = 0; i < 400; i++) {
    const lines = ['[j]'];
    for (let k = rnd(4); k >= 0; k--) {
      let v = '';
      for (let n = rnd(5); n >= 0; n--) v += atoms[rnd(atoms.length)];
      lines.push(`${keys[rnd(keys.length)]} = ${v}`);
    }
    fs.writeFileSync(path.join(dir, 'jail.local'), lines.join('\n') + '\n');
    try {
      loadConfig(dir);
    } catch (err) {
      if (!(err instanceof UserError)) {
        t.fail(`${(err as Error).name}: ${(err as Error).message} for ${JSON.stringify(lines.join('\n'))}`);
        return;
      }
      errors++;
    }
  }
  t.ok(errors > 0 && errors < 400, `both valid and invalid inputs generated (${errors}/400 rejected)`);
});
