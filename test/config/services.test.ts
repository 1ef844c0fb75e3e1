import t from 'tap';
import fs from 'node:fs';
import { parsePorts, parseServices, systemServices } from '../../src/config/services.js';
import { userError } from './tree.js';

const table = parseServices([
  '# comment', 'ssh\t\t22/tcp\t\t\t# SSH Remote Login Protocol', 'http\t\t80/tcp\t\twww',
  'https\t\t443/tcp', 'https\t\t443/udp', 'domain\t\t53/tcp', 'domain\t\t53/udp', 'syslog\t\t514/udp',
  'shell\t\t514/tcp\t\tcmd',
].join('\n'));

t.test('port lists', async (t) => {
  t.same(parsePorts('http,https', 'tcp', 'x', table), [80, 443]);
  t.same(parsePorts('ssh', 'tcp', 'x', table), [22]);
  t.same(parsePorts('www, 8080', 'tcp', 'x', table), [80, 8080], 'aliases, spaces after commas');
  t.same(parsePorts('1000:2000', 'tcp', 'x', table), [[1000, 2000]]);
  t.same(parsePorts('ssh:2222', 'tcp', 'x', table), [[22, 2222]], 'names in ranges');
  t.equal(parsePorts('0:65535', 'tcp', 'x', table), null, 'the full range means every port');
  t.equal(parsePorts('all', 'udp', 'x', table), null);
  t.same(parsePorts('514', 'udp', 'x', table), [514]);
  t.same(parsePorts('syslog', 'udp', 'x', table), [514], 'looked up for the jail protocol');
  t.same(parsePorts('syslog', 'tcp', 'x', table), [514], 'then for any protocol');
});

t.test('bad ports name the jail, file, line and value', async (t) => {
  userError(t, () => parsePorts('htp', 'tcp', 'jail.local:7: [web] port', table), /^jail\.local:7: \[web\] port: /, /"htp"/);
  userError(t, () => parsePorts('70000', 'tcp', 'j:1: [a] port', table), /70000/, /out of range/);
  userError(t, () => parsePorts('2000:1000', 'tcp', 'j:1: [a] port', table), /backwards/);
  userError(t, () => parsePorts(' , ', 'tcp', 'j:1: [a] port', table), /empty/);
});

t.test('the system service table', { skip: fs.existsSync('/etc/services') ? false : 'no /etc/services' }, async (t) => {
  const sys = systemServices();
  // Every name fail2ban's stock jail.conf uses resolves here.
  const names = 'ssh http https smtp submission imap imaps pop3 pop3s ftp ftp-data ftps ftps-data domain ldap ldaps sieve socks imap2 ssmtp';
  for (const n of names.split(' ')) t.ok(parsePorts(n, 'tcp', 'x', sys)?.length === 1, n);
  t.same(parsePorts('ssh', 'tcp', 'x', sys), [22]);
});
