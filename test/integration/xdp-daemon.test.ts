// Issue 6's acceptance through the real daemon: `logban run --backend xdp --xdp-interface veth0`
// inside a fresh server namespace, log failures written to a temp file, and packets sent from
// the attacker namespace. What a user sees: the attacker's packets dropped at XDP (every port),
// its neighbour untouched, the ban lifting by itself after bantime, the drop counters on
// /metrics, and the drop holding across a stop (xdp_keep_on_stop), a kill -9 and a restart.
//
// The daemon runs under `ip netns exec`, whose private mount namespace hides the host's
// /sys/fs/bpf: the daemon mounts a bpffs of its own there, which vanishes with it. A restart
// still finds its maps, by adopting those of the program left attached to the interface.
import t from 'tap';
import fs from 'node:fs';
import { canUseNetns, type NetnsKit } from '../helpers/netns.js';
import {
  metricValue, runCli, scrapeMetrics, sshdFailure, startDaemon, waitFor, type RunningDaemon,
} from '../helpers/daemon.js';
import { kernelScene, type Teardown } from '../helpers/kernel-scene.js';
import { defaultObjectPath } from '../../src/backends/xdp-loader.js';
import { addonPath } from '../../src/backends/bpf/addon.js';

const missing = [defaultObjectPath, addonPath].filter((p) => !fs.existsSync(p));
if (!canUseNetns()) {
  t.plan(0, 'needs root and ip netns');
  process.exit(0);
}
if (missing.length > 0) {
  t.plan(0, `XDP parts not built (${missing.join(', ')}): run node native-rules/build.mjs`);
  process.exit(0);
}

const SSH = 22;
const WEB = 80; // a port the jail does not name: XDP drops every packet of a banned source
const IFACE = 'veth0'; // the server side of the netns kit's veth pair
const METRICS = '127.0.0.1:9464'; // the server namespace's own loopback: no clash with other tests

/** A SYN from src reaches the server and is answered (the kit's agent listens on SSH and WEB). */
const connects = (net: NetnsKit, src: string, port = SSH, ms = 1500) => net.tcpConnect(net.attacker, src, net.serverAddr, port, ms);

async function drops(net: NetnsKit): Promise<{ packets: number; bytes: number }> {
  const text = await scrapeMetrics(net.server, METRICS);
  if (!text.includes('logban_xdp_dropped_packets_total')) throw new Error('no logban_xdp_dropped_packets_total on /metrics');
  return {
    packets: metricValue(text, 'logban_xdp_dropped_packets_total'),
    bytes: metricValue(text, 'logban_xdp_dropped_bytes_total'),
  };
}

async function setup(t: Teardown, settings: Record<string, string>, bantime: string) {
  const { net, log, daemon } = await kernelScene(t, 'xdpd', {
    jails: (log) => ({ sshd: { logpath: log, port: String(SSH), maxretry: '3', findtime: '600', bantime } }),
    settings,
  });
  await net.listen(SSH);
  await net.listen(WEB);
  const opts = { ...daemon, backend: 'xdp' as const, metrics: METRICS, extraArgs: ['--xdp-interface', IFACE] };
  return { net, log, opts };
}

t.test('three failures ban the attacker at XDP, two do not; the ban lifts by itself after bantime', async (t) => {
  const bantime = 6;
  const { net, log, opts } = await setup(t, { reconcile_interval: '60' }, String(bantime));
  const d = await startDaemon(opts);
  t.teardown(() => d.stop());
  await d.waitForLog(/xdp: logban_xdp attached to veth0 in (native|generic) mode/, 1000);
  t.ok(await connects(net, net.attackerAddr), 'before any failure the attacker connects');
  const before = await drops(net);
  t.equal(before.packets, 0, 'the drop counter starts at 0');

  fs.appendFileSync(log, sshdFailure(net.attackerAddr) + sshdFailure(net.attackerAddr));
  await waitFor('two matches counted', async () =>
    metricValue(await scrapeMetrics(net.server, METRICS), 'logban_matches_total', { jail: 'sshd' }) >= 2 || undefined, 10_000, 100);
  t.ok(await connects(net, net.attackerAddr), 'after two failures the attacker still connects');
  t.same(await d.list('sshd'), [], 'and nobody is banned');

  fs.appendFileSync(log, sshdFailure(net.attackerAddr));
  await d.waitForLog(/\[sshd\] Ban 198\.18\.0\.2\b/, 10_000);
  const bannedAt = performance.now();
  // The line is logged when the ban is decided; the map update follows within the batch window.
  const dropAfter = await waitFor('the first dropped connect', async () =>
    (await connects(net, net.attackerAddr, SSH, 300)) ? undefined : performance.now() - bannedAt - 300, 3000, 0);
  t.ok(dropAfter < 1000, `after the third failure a TCP connect from the attacker to the jail port fails (${Math.max(0, dropAfter).toFixed(0)} ms after the Ban line)`);
  t.notOk(await connects(net, net.attackerAddr, WEB, 1000), 'and to any other port: XDP drops every packet from it');
  t.ok(await connects(net, net.neighbourAddr, WEB), 'its neighbour 198.18.0.3 still connects');
  t.ok(await connects(net, net.neighbourAddr, SSH), 'to the jail port too');
  t.ok((performance.now() - bannedAt) / 1000 < bantime - 1, 'those checks ran well inside the bantime');
  const during = await drops(net);
  t.ok(during.packets > before.packets, `logban_xdp_dropped_packets_total rose (${before.packets} -> ${during.packets})`);
  // a dropped SYN is at least 54 bytes on the wire (Ethernet + IPv4 + TCP headers)
  t.ok(during.bytes >= during.packets * 54, `logban_xdp_dropped_bytes_total counts the same packets (${during.bytes} bytes)`);

  // The kernel map has no timeouts: the daemon's expiry timer must send the unban.
  const liftedAfter = await waitFor('the attacker to connect again', async () =>
    (await connects(net, net.attackerAddr, SSH, 400)) ? (performance.now() - bannedAt) / 1000 : undefined, (bantime + 6) * 1000, 100);
  t.comment(`ban lifted ${liftedAfter.toFixed(1)} s after it was logged (bantime ${bantime} s)`);
  t.ok(liftedAfter >= bantime - 2, `not before its bantime (${liftedAfter.toFixed(1)} s)`);
  t.ok(liftedAfter <= bantime + 4, `within bantime + a few seconds (${liftedAfter.toFixed(1)} s)`);
  await d.waitForLog(/\[sshd\] Unban 198\.18\.0\.2\b/, 2000);
  t.ok(await connects(net, net.attackerAddr, WEB), 'every port is open to it again');
  t.same(await d.list('sshd'), [], 'logban list no longer shows it');
  const after = await drops(net);
  t.ok(after.packets >= during.packets, `the counter never goes back (${after.packets})`);
  await d.stop();
});

t.test('the drop holds across a stop with xdp_keep_on_stop, a kill -9 and restarts', async (t) => {
  const { net, opts } = await setup(t, { reconcile_interval: '60', xdp_keep_on_stop: 'true' }, '600');
  const daemons: RunningDaemon[] = [];
  const start = async () => {
    const d = await startDaemon(opts);
    daemons.push(d);
    return d;
  };
  t.teardown(async () => {
    for (const d of daemons) await d.stop();
  });

  const first = await start();
  const ban = await runCli(['ban', 'sshd', net.attackerAddr, '--time', '3600', '--socket', opts.socket]);
  t.equal(ban.code, 0, `logban ban exits 0 (${ban.stderr.trim()})`);
  t.notOk(await connects(net, net.attackerAddr, WEB, 1000), 'the manually banned attacker is dropped');
  // a burst of SYNs, so that counters restarted from zero could not pass for carried on
  await Promise.all(Array.from({ length: 20 }, () => connects(net, net.attackerAddr, WEB, 300)));
  const counted = await drops(net);
  t.ok(counted.packets >= 20, `drops counted (${counted.packets})`);

  // Probe all the way through stop, downtime and restart: not one handshake may get through.
  let probing = true;
  let probes = 0;
  let leaks = 0;
  const prober = (async () => {
    while (probing) {
      probes++;
      if (await connects(net, net.attackerAddr, WEB, 300)) leaks++;
    }
  })();

  await first.stop();
  await first.waitForLog(/xdp: program left attached/, 1000);
  t.ok(await connects(net, net.neighbourAddr, WEB), 'with the daemon stopped the neighbour connects');
  t.notOk(await connects(net, net.attackerAddr, SSH, 1000), 'and the attacker is still dropped');

  const second = await start();
  // its bpffs (mounted in the private mount namespace of `ip netns exec`) went with the first daemon
  t.match(second.stderrText(), /xdp: maps adopted from the program still attached to veth0/, 'the restarted daemon adopted the maps still in use');
  t.match(second.stderrText(), /xdp: maps reused from/, 'and reused them');
  t.notOk(await connects(net, net.attackerAddr, SSH, 1000), 'after the restart the attacker is still dropped');
  t.same((await second.list('sshd')).map((b) => b.addr), [net.attackerAddr], 'logban list still shows the ban');
  const afterRestart = await drops(net);
  t.ok(afterRestart.packets >= counted.packets, `the drop counter carried on (${counted.packets} -> ${afterRestart.packets})`);

  await second.kill9();
  t.notOk(await connects(net, net.attackerAddr, SSH, 1000), 'after kill -9 the attacker is still dropped');
  t.ok(await connects(net, net.neighbourAddr, SSH), 'and the neighbour still connects');
  const third = await start();
  t.notOk(await connects(net, net.attackerAddr, SSH, 1000), 'after the next start the attacker is still dropped');
  t.same((await third.list('sshd')).map((b) => b.addr), [net.attackerAddr], 'logban list still shows the ban');

  probing = false;
  await prober;
  t.equal(leaks, 0, `none of ${probes} connects from the attacker got through during stop, downtime and restarts`);

  const unban = await runCli(['unban', net.attackerAddr, '--socket', opts.socket]);
  t.equal(unban.code, 0, 'logban unban exits 0');
  t.ok(await connects(net, net.attackerAddr, WEB), 'once unbanned the attacker connects');

  // A ban that ends while no daemon runs: the map has no timeouts, so the next start lifts it.
  const short = await runCli(['ban', 'sshd', net.attackerAddr, '--time', '3', '--socket', opts.socket]);
  t.equal(short.code, 0, 'a 3 s ban');
  const shortAt = performance.now();
  await third.kill9();
  t.notOk(await connects(net, net.attackerAddr, WEB, 1000), 'kill -9 right after: the kernel keeps dropping');
  await new Promise((r) => setTimeout(r, Math.max(0, 3500 - (performance.now() - shortAt))));
  const fourth = await start();
  t.match(fourth.stderrText(), /xdp: removed 1 map entry that no active ban claims/, 'the next start removed the ban that ended meanwhile');
  t.ok(await connects(net, net.attackerAddr, WEB), 'and the attacker connects again');
  t.same(await fourth.list('sshd'), [], 'logban list shows no ban');
  await fourth.stop();
});
