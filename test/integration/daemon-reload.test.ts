// Reloading the configuration (`logban reload`, SIGHUP) keeps the bans in the kernel and takes
// the new jails and options; the control socket is private (mode 0600). Real daemon, real
// kernel, fresh namespaces.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { canUseNetns, type NetnsKit } from '../helpers/netns.js';
import {
  nftSetElements, runCli, sshdFailure, startDaemon, waitFor, waitForBanned, writeConfigDir, type RunningDaemon,
} from '../helpers/daemon.js';
import { kernelScene, type Teardown } from '../helpers/kernel-scene.js';
import type { StatusResult } from '../../src/control/protocol.js';

if (!canUseNetns()) {
  t.plan(0, 'needs root and ip netns');
  process.exit(0);
}

interface Scenario {
  net: NetnsKit;
  dir: string;
  configDir: string;
  auth: string;
  alt: string;
  d: RunningDaemon;
}

const sshd = (log: string, extra: Record<string, string> = {}) =>
  ({ logpath: log, port: '22', maxretry: '3', findtime: '600', bantime: '600', ...extra });

async function setup(t: Teardown, area: string): Promise<Scenario> {
  const { net, dir, configDir, log: auth, daemon } = await kernelScene(t, area, { jails: (log) => ({ sshd: sshd(log) }) });
  const alt = path.join(dir, 'alt.log');
  fs.writeFileSync(alt, '');
  const d = await startDaemon(daemon);
  t.teardown(() => d.stop());
  return { net, dir, configDir, auth, alt, d };
}

async function cliStatus(socket: string): Promise<StatusResult> {
  const r = await runCli(['status', '--json', '--socket', socket]);
  if (r.code !== 0) throw new Error(`logban status failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusResult;
}

async function linesRead(d: RunningDaemon, jail: string): Promise<number> {
  return (await d.status(jail)).jails[0].lines;
}

t.test('logban reload keeps bans, applies a changed maxretry and starts an added jail', async (t) => {
  const { net, configDir, auth, alt, d } = await setup(t, 'rld');
  await net.listen(22);
  const ban = await runCli(['ban', 'sshd', net.attackerAddr, '--time', '600', '--socket', d.socket]);
  t.equal(ban.code, 0, 'logban ban exits 0');
  const before = (await nftSetElements(net.server, 'sshd'))?.find((e) => e.addr === net.attackerAddr);
  t.ok(before, 'banned in the kernel');

  writeConfigDir(configDir, { jails: { sshd: sshd(auth, { maxretry: '5' }), 'ssh-alt': { ...sshd(alt), filter: 'sshd', port: '2222' } } });
  const reload = await runCli(['reload', '--socket', d.socket]);
  t.equal(reload.code, 0, `logban reload exits 0 (${reload.stderr.trim()})`);
  t.match(reload.stdout, /ssh-alt/, 'it names the added jail');

  const after = (await nftSetElements(net.server, 'sshd'))?.find((e) => e.addr === net.attackerAddr);
  t.ok(after, 'the ban is still in the kernel set after the reload');
  t.ok(after?.timeout !== null && after!.timeout! <= 600 && after?.expires !== null && after!.expires! <= before!.expires!,
    `with its running clock (expires ${before?.expires}s -> ${after?.expires}s), not reset and not permanent`);
  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 22, 1500), 'and still dropped');
  const status = await cliStatus(d.socket);
  t.same(status.jails.map((j) => j.name).sort(), ['ssh-alt', 'sshd'], 'logban status --json lists the new jail');
  t.same(await nftSetElements(net.server, 'ssh-alt'), [], 'the new jail has its (empty) kernel set');
  t.same((await d.list('sshd')).map((b) => b.addr), [net.attackerAddr], 'logban list still shows the ban');

  // maxretry is now 5: four failures do not ban, the fifth does
  const b = '198.18.4.1';
  const linesBefore = await linesRead(d, 'sshd');
  fs.appendFileSync(auth, sshdFailure(b).repeat(4));
  await waitFor('four lines read', async () => (await linesRead(d, 'sshd')) === linesBefore + 4);
  t.notMatch(d.stderrText(), /Ban 198\.18\.4\.1\b/, 'four failures are below the new maxretry');
  fs.appendFileSync(auth, sshdFailure(b));
  await d.waitForLog(/\[sshd\] Ban 198\.18\.4\.1\b/, 15_000);
  t.pass('the fifth failure bans: the new maxretry is in force');

  // the added jail follows its own log
  const c = '198.18.4.2';
  fs.appendFileSync(alt, sshdFailure(c).repeat(3));
  await d.waitForLog(/\[ssh-alt\] Ban 198\.18\.4\.2\b/, 15_000);
  t.same((await waitForBanned(net.server, 'ssh-alt', [c])).map((e) => e.addr), [c], 'the added jail bans into its own set');
  t.ok(d.alive(), 'daemon still running');
});

t.test('SIGHUP reloads too: bans kept, a changed port re-applies them, the new jail appears', async (t) => {
  const { net, configDir, auth, alt, d } = await setup(t, 'hup');
  await net.listen(22);
  await net.listen(2222);
  const ban = await runCli(['ban', 'sshd', net.attackerAddr, '--time', '600', '--socket', d.socket]);
  t.equal(ban.code, 0, 'logban ban exits 0');
  t.ok(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 2222, 3000), 'port 2222 is not covered yet');

  writeConfigDir(configDir, { jails: { sshd: sshd(auth, { port: '22,2222' }), 'ssh-third': { ...sshd(alt), filter: 'sshd' } } });
  const from = d.stderrText().length;
  process.kill(d.pid, 'SIGHUP');
  await d.waitForLog(/reloaded: 2 jail\(s\), added ssh-third/, 15_000, from);
  t.pass('the daemon logged the reload');
  t.ok((await nftSetElements(net.server, 'sshd'))?.some((e) => e.addr === net.attackerAddr), 'the ban is still in the kernel set');
  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 2222, 1500), 'the ban now covers the added port');
  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 22, 1500), 'and the old one');
  t.ok(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, 2222, 3000), 'the neighbour is not affected');
  const status = await cliStatus(d.socket);
  t.same(status.jails.map((j) => j.name).sort(), ['ssh-third', 'sshd'], 'logban status --json lists the new jail');
  t.ok(d.alive(), 'daemon still running');
});

t.test('the control socket is mode 0600 while the daemon runs', async (t) => {
  const { d } = await setup(t, 'sock');
  const st = fs.statSync(d.socket);
  t.ok(st.isSocket(), `${d.socket} is a socket`);
  t.equal((st.mode & 0o777).toString(8), '600', 'mode 0600: only its owner (root) may ban and unban');
  t.equal(st.uid, 0, 'owned by root');
  const r = await runCli(['status', '--socket', d.socket]);
  t.equal(r.code, 0, 'and root can use it');
});
