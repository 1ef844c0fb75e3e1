// What survives what, on the real kernel: a manual ban across `kill -9` of the daemon plus
// `nft flush ruleset`, and the periodic reconciliation repairing a flush while the daemon runs.
// Each case runs the daemon (`logban run`) inside a fresh pair of namespaces.
import t from 'tap';
import { canUseNetns } from '../helpers/netns.js';
import {
  metricValue, nftSetElements, runCli, scrapeMetrics, startDaemon, waitFor,
} from '../helpers/daemon.js';
import { kernelScene, type Teardown } from '../helpers/kernel-scene.js';

if (!canUseNetns()) {
  t.plan(0, 'needs root and ip netns');
  process.exit(0);
}

const SSH = 22;

/** Namespaces, an empty auth.log, an sshd jail on it; reconcile_interval in seconds. */
const durabilityScene = (t: Teardown, reconcileInterval: string) => kernelScene(t, 'dur', {
  jails: (log) => ({ sshd: { logpath: log, port: String(SSH), maxretry: '3', bantime: '600' } }),
  settings: { reconcile_interval: reconcileInterval },
});

t.test('a manual ban survives kill -9 of the daemon plus nft flush ruleset, with its remaining time', async (t) => {
  const { net, daemon: opts } = await durabilityScene(t, '60');
  await net.listen(SSH);
  t.ok(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, SSH, 3000), 'before any ban the attacker connects');

  const first = await startDaemon(opts);
  t.teardown(() => first.stop());
  const ban = await runCli(['ban', 'sshd', net.attackerAddr, '--time', '600', '--socket', opts.socket]);
  t.equal(ban.code, 0, `logban ban exits 0 (${ban.stderr.trim()})`);
  const bannedAt = Date.now() / 1000;
  // the crash comes right after the command returned: the ban was confirmed, so it must be durable
  await first.kill9();
  t.notOk(first.alive(), 'daemon killed');
  const before = await nftSetElements(net.server, 'sshd');
  t.same(before?.map((e) => e.addr), [net.attackerAddr], 'the kernel kept the ban while no daemon ran');

  await net.nft(net.server, ['flush', 'ruleset']);
  t.equal(await nftSetElements(net.server, 'sshd'), null, 'nft flush ruleset removed the table');
  t.ok(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, SSH, 3000), 'with the table flushed the attacker gets through');
  // let time pass so a restored ban (600 - elapsed) cannot be confused with a fresh one (600)
  await new Promise((r) => setTimeout(r, 3000));

  const restartAt = Date.now() / 1000;
  const second = await startDaemon(opts);
  t.teardown(() => second.stop());
  await second.waitForLog(/\[sshd\] Restore Ban 198\.18\.0\.2\b/, 15_000);
  const after = await nftSetElements(net.server, 'sshd');
  const el = after?.find((e) => e.addr === net.attackerAddr);
  t.ok(el, 'the ban is back in the kernel set after the restart');
  const checkedAt = Date.now() / 1000;
  // the element was (re)added with the time left, not a fresh 600 s
  t.ok(el?.timeout !== null && el!.timeout! <= Math.ceil(600 - (restartAt - bannedAt)) + 1,
    `timeout ${el?.timeout}s is the remaining time (<= ${Math.ceil(600 - (restartAt - bannedAt)) + 1}), not 600`);
  t.ok(el?.timeout !== null && el!.timeout! >= Math.floor(600 - (checkedAt - bannedAt)) - 2,
    `timeout ${el?.timeout}s is not shorter than what is left (${Math.floor(600 - (checkedAt - bannedAt))})`);
  t.ok(el?.expires !== null && el!.expires! <= el!.timeout!, 'and it is counting down');
  const listed = await second.list('sshd');
  t.same(listed.map((b) => b.addr), [net.attackerAddr], 'logban list shows the restored ban');

  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, SSH, 1500), 'TCP from the banned address to the banned port is dropped again');
  t.ok(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, SSH, 3000), 'its neighbour still connects');
  await second.stop();
});

t.test('the periodic reconciliation repairs an external nft flush ruleset while the daemon runs', async (t) => {
  const { net, daemon } = await durabilityScene(t, '1');
  const metrics = '127.0.0.1:9464'; // the namespace's own loopback: no clash with other tests
  await net.listen(SSH);
  const d = await startDaemon({ ...daemon, metrics });
  t.teardown(() => d.stop());

  const ban = await runCli(['ban', 'sshd', net.attackerAddr, '--time', '600', '--socket', d.socket]);
  t.equal(ban.code, 0, 'logban ban exits 0');
  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, SSH, 1500), 'banned address is dropped');
  const repairsBefore = metricValue(await scrapeMetrics(net.server, metrics), 'logban_reconcile_repairs_total');
  t.equal(repairsBefore, 0, 'no repair before the flush');

  const logAt = d.stderrText().length;
  await net.nft(net.server, ['flush', 'ruleset']);
  const flushedAt = performance.now();
  const el = await waitFor('the ban back in the kernel', async () => (await nftSetElements(net.server, 'sshd'))?.find((e) => e.addr === net.attackerAddr), 20_000, 100);
  const seconds = (performance.now() - flushedAt) / 1000;
  t.comment(`repaired ${seconds.toFixed(2)} s after the flush (reconcile_interval = 1)`);
  t.ok(seconds < 10, `repaired within a few seconds (${seconds.toFixed(2)} s)`);
  t.ok(el.timeout !== null && el.timeout <= 600, `restored with its remaining time (${el.timeout}s)`);
  await d.waitForLog(/reconcile.*restored 1 ban\(s\)/, 10_000, logAt);
  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, SSH, 1500), 'the banned address is dropped again');
  t.ok(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, SSH, 3000), 'its neighbour still connects');
  const repairsAfter = await waitFor('the repair counted', async () => {
    const v = metricValue(await scrapeMetrics(net.server, metrics), 'logban_reconcile_repairs_total');
    return v > repairsBefore ? v : undefined;
  }, 10_000, 200);
  t.ok(repairsAfter >= 1, `logban_reconcile_repairs_total went from ${repairsBefore} to ${repairsAfter}`);
  t.ok(d.alive(), 'the daemon kept running');
  await d.stop();
});
