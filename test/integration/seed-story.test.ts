// The seed's story on the real kernel: a WordPress server flooded with POST /xmlrpc.php,
// configured with fail2ban's files unchanged. Three matching lines ban the address in an nft set
// with a 240000 s timeout and its TCP packets to 80 and 443 are dropped; two lines do not ban;
// a neighbour is untouched; an element leaves the set when its timeout runs out.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canUseNetns, createNetns } from '../helpers/netns.js';
import { execIn, nftSetElements, runCli, startDaemon, waitFor } from '../helpers/daemon.js';

// fail2ban's files, exactly as the seed has them
const FILTER = `[Definition]
failregex = ^<HOST>.*\\"POST /xmlrpc.php HTTP/1.0
ignoreregex =
`;
const JAIL = `[apache-xmlrpc]
enabled  = true
port     = http,https
filter   = apache-xmlrpc
logpath  = /var/log/apache2/access.log
maxretry = 3
bantime  = 240000
`;

function accessLine(addr: string, when = new Date()): string {
  const mon = when.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${p(when.getUTCDate())}/${mon}/${when.getUTCFullYear()}:${p(when.getUTCHours())}:${p(when.getUTCMinutes())}:${p(when.getUTCSeconds())} +0000`;
  return `${addr} - - [${stamp}] "POST /xmlrpc.php HTTP/1.0" 200 370 "-" "Mozilla/5.0 (compatible; botnet)"\n`;
}

t.test('the seed story: fail2ban files in, nftables bans out', { skip: canUseNetns() ? false : 'needs root and ip netns' }, async (t) => {
  const net = await createNetns('story');
  t.teardown(() => net.destroy());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-story-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const configDir = path.join(dir, 'etc');
  fs.mkdirSync(path.join(configDir, 'filter.d'), { recursive: true });
  fs.writeFileSync(path.join(configDir, 'filter.d', 'apache-xmlrpc.conf'), FILTER);
  fs.writeFileSync(path.join(configDir, 'jail.conf'), JAIL);
  // the administrator's local override, as in fail2ban: only where the log is on this host
  const log = path.join(dir, 'access.log');
  fs.writeFileSync(path.join(configDir, 'jail.local'), `[apache-xmlrpc]\nlogpath = ${log}\n`);
  fs.writeFileSync(log, accessLine('198.18.0.99')); // old traffic: read from the end, not banned

  await net.listen(80);
  await net.listen(443);
  await net.listen(22);
  const d = await startDaemon({
    netns: net.server, configDir, stateDir: path.join(dir, 'state'), socket: path.join(dir, 'logban.sock'), backend: 'nftables',
  });
  t.teardown(() => d.stop());

  // before: everybody connects
  t.ok(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 80, 2000), 'attacker reaches port 80 before the flood');

  // two lines do not ban
  fs.appendFileSync(log, accessLine(net.attackerAddr) + accessLine(net.attackerAddr) + accessLine(net.neighbourAddr) + accessLine(net.neighbourAddr));
  fs.appendFileSync(log, accessLine('63.251.225.206') + accessLine('63.251.225.206'));
  await waitFor('two failures counted', async () => {
    const st = await d.status('apache-xmlrpc');
    return st.jails[0].matches >= 6;
  });
  t.same(await nftSetElements(net.server, 'apache-xmlrpc'), [], 'two matching lines do not ban');

  // the third line bans; measure the time from the append to the element in the kernel set
  const t0 = performance.now();
  fs.appendFileSync(log, accessLine(net.attackerAddr));
  const probe = ['nft', 'get', 'element', 'inet', 'logban', 'apache-xmlrpc-v4', `{ ${net.attackerAddr} }`];
  await waitFor('attacker in the kernel set', async () => (await execIn(net.server, probe)).code === 0, 15_000, 1);
  const latencyMs = performance.now() - t0;
  t.comment(`append of the third line -> address in the nft set: ${latencyMs.toFixed(1)} ms (includes one nft get per probe)`);

  fs.appendFileSync(log, accessLine('63.251.225.206'));
  await d.waitForLog(/\[apache-xmlrpc\] Ban 63\.251\.225\.206/, 15_000);
  t.match(d.stderrText(), /NOTICE\s+\[apache-xmlrpc\] Ban 198\.18\.0\.2\b/, 'fail2ban-style log line');

  const elems = await nftSetElements(net.server, 'apache-xmlrpc');
  const attacker = elems?.find((e) => e.addr === net.attackerAddr);
  t.ok(attacker, 'attacker is in the set');
  t.equal(attacker?.timeout, 240000, 'with the jail\'s 240000 s timeout');
  t.ok((attacker?.expires ?? 0) > 239_900 && (attacker?.expires ?? 0) <= 240000, `expires in ${attacker?.expires} s`);
  t.ok(elems?.some((e) => e.addr === '63.251.225.206'), 'the seed\'s address is in the set');
  t.notOk(elems?.some((e) => e.addr === net.neighbourAddr), 'the neighbour (two lines) is not');
  t.notOk(elems?.some((e) => e.addr === '198.18.0.99'), 'lines before the daemon started are not read');

  // the kernel drops the attacker's TCP to 80 and 443, not to 22, and not the neighbour's
  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 80, 1500), 'attacker -> 80 dropped');
  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 443, 1500), 'attacker -> 443 dropped');
  t.ok(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 22, 2000), 'attacker -> 22 still connects (port = http,https)');
  t.ok(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, 80, 2000), 'neighbour -> 80 connects');

  // the ruleset has the documented shape
  const ruleset = await net.nft(net.server, ['list', 'table', 'inet', 'logban']);
  t.match(ruleset, /type filter hook input priority -200; policy accept;/);
  t.match(ruleset, /ip saddr @apache-xmlrpc-v4 tcp dport \{ 80, 443 \} drop/);

  // a ban already in force is not banned twice
  fs.appendFileSync(log, accessLine(net.attackerAddr));
  await waitFor('line counted', async () => (await d.status('apache-xmlrpc')).jails[0].matches >= 9);
  t.equal(d.stderrText().match(/Ban 198\.18\.0\.2\b/g)?.length, 1, 'one Ban line for the attacker');

  // an element leaves the set by itself when its timeout runs out
  const r = await runCli(['ban', 'apache-xmlrpc', '198.18.1.50', '--time', '2', '--socket', d.socket]);
  t.equal(r.code, 0, r.stderr);
  t.ok((await nftSetElements(net.server, 'apache-xmlrpc'))?.some((e) => e.addr === '198.18.1.50'), 'short ban in the set');
  await waitFor('short ban expired in the kernel', async () =>
    !(await nftSetElements(net.server, 'apache-xmlrpc'))?.some((e) => e.addr === '198.18.1.50'), 10_000, 200);
  t.pass('the element left the set when its timeout ran out');

  const stop = await d.stop();
  t.equal(stop.code, 0, 'SIGTERM stops cleanly');
  t.ok((await nftSetElements(net.server, 'apache-xmlrpc'))?.some((e) => e.addr === net.attackerAddr), 'bans outlive the daemon');
});
