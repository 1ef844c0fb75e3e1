// logban's own default configuration directory must load as shipped.
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { bundledConfig } from '../helpers/paths.js';

t.test('the bundled config loads', async (t) => {
  const { jails, disabled, settings } = loadConfig(bundledConfig);
  t.same(jails.map((j) => j.name).sort(), ['apache-xmlrpc', 'sshd'], 'sshd and apache-xmlrpc are enabled');
  t.ok(disabled.length > 0, 'other jails are present but disabled');
  const x = jails.find((j) => j.name === 'apache-xmlrpc')!;
  t.equal(x.maxretry, 3);
  t.equal(x.bantime, 240000);
  t.same(x.ports, [80, 443]);
  t.same(x.logpath, ['/var/log/apache2/access.log']);
  t.same(x.filter.failregex.map((s) => s.value), ['^<HOST>.*\\"POST /xmlrpc.php HTTP/1.0']);
  t.same(x.filter.ignoreregex, []);
  const sshd = jails.find((j) => j.name === 'sshd')!;
  t.same(sshd.ports, [22]);
  t.same(sshd.logpath, ['/var/log/auth.log']);
  t.ok(sshd.filter.failregex.length > 0, 'sshd filter has regexes');
  t.same(sshd.ignoreip, ['127.0.0.1/8', '::1']);
  t.equal(settings.backend, 'auto');
});
