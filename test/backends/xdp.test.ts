// XDP backend on the real kernel, inside two network namespaces joined by a veth pair: the
// server namespace's interface runs logban's XDP program, the client namespace holds an
// attacker (198.18.77.2), a neighbour (.3) and a host inside a banned network (.5).
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { XdpBackend } from '../../src/backends/xdp.js';
import { defaultObjectPath, runCommand } from '../../src/backends/xdp-loader.js';
import { addonPath } from '../../src/backends/bpf/addon.js';
import { BanTable } from '../../src/bans/ban-table.js';
import { IgnoreList } from '../../src/bans/ignore-list.js';
import type { BanChange, JailRule } from '../../src/types.js';
import {
  createVethPair, mountPrivateBpffs, must, pingFrom, probeTcp, sendUdp, type VethPair,
} from '../../bench/xdp-netns.js';

const jails: JailRule[] = [{ name: 'sshd', ports: null, protocol: 'tcp' }];
const attacker = '198.18.77.2';
const neighbour = '198.18.77.3';
const inNet = '198.18.77.5';
const attacker6 = '2001:db8:77::2';
const neighbour6 = '2001:db8:77::3';

/** Build the XDP object and the addon if `npm run build:xdp` / `build:addon` have not. */
async function ensureBuilt(): Promise<void> {
  if (!existsSync(defaultObjectPath)) {
    await must('make', ['-s', '-C', path.join(repoRoot, 'native-rules', 'xdp'), 'build/logban_xdp.o']);
  }
  if (!existsSync(addonPath)) {
    const gyp = path.join(repoRoot, 'node_modules', '.bin', 'node-gyp');
    const args = ['rebuild', '--directory', path.join(repoRoot, 'native-rules', 'bpf-addon')];
    // Use this node's own headers when it ships them, rather than downloading them.
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
    await must(gyp, args);
  }
}

if (process.getuid?.() !== 0) {
  t.plan(0, 'needs root (network namespaces, bpffs, XDP)');
} else {
  await ensureBuilt();
  let net: VethPair;
  let bpffs: { dir: string; destroy(): Promise<void> };
  const logs: string[] = [];
  const backends: XdpBackend[] = [];
  const newBackend = (keepOnStop = false) => {
    const b = new XdpBackend({
      interfaces: [net.serverIf], pinDir: bpffs.dir, keepOnStop, netns: net.server,
      log: (m) => logs.push(m),
    });
    backends.push(b);
    return b;
  };

  net = await createVethPair({ tag: 'xdp', subnet: 77, clientAddrs: ['2', '3', '5'] });
  bpffs = await mountPrivateBpffs();
  t.teardown(async () => {
    for (const b of backends) await b.stop(false).catch(() => undefined);
    await net.destroy();
    await bpffs.destroy();
  });

  // A SYN that gets through meets a closed port and comes back as a RST ('refused').
  const passes = async (src: string, dst = net.serverAddr) => (await probeTcp(net.client, src, dst, 9, 1500)) === 'refused';
  const dropped = async (src: string, dst = net.serverAddr) => (await probeTcp(net.client, src, dst, 9, 1000)) === 'timeout';

  let backend: XdpBackend;
  const bantime = 2;
  const changes: BanChange[] = [];
  const table = new BanTable({ maxTracked: 1000, hooks: { change: (c) => changes.push(c) } });
  table.configure([{
    name: 'sshd', maxretry: 3, findtime: 600, bantime,
    increment: { enabled: false, factor: 1, multipliers: [], maxtime: 0, rndtime: 0, overalljails: false },
    ignore: IgnoreList.fromLiterals({ ignoreip: [], ignoreself: false }),
  }]);
  const flush = async () => backend.apply(changes.splice(0));

  backend = newBackend();
  let refused: string | undefined;
  try {
    await backend.start(jails);
  } catch (err) {
    // Only a kernel that refuses XDP altogether is a reason to skip.
    if (!/attaching XDP/.test(String(err))) throw err;
    refused = String(err);
  }
  if (refused !== undefined) {
    t.plan(0, `the kernel refuses XDP: ${refused}`);
  } else {
    t.test('start attaches the program and says in which mode', async (t) => {
      const mode = backend.attachModes().get(net.serverIf);
      t.ok(mode === 'native' || mode === 'generic', `attached in ${mode} mode`);
      t.ok(logs.some((l) => l.includes(`attached to ${net.serverIf} in ${mode} mode`)), 'the log says the mode');
      t.ok(await passes(attacker), 'before any ban the attacker reaches the server');
      t.ok(await backend.healthy(), 'healthy after start');
    });

    t.test('three failures drop every packet from the attacker at XDP, the neighbour passes', async (t) => {
      const now = Date.now() / 1000;
      t.equal(table.failure('sshd', attacker, now), 'counted');
      t.equal(table.failure('sshd', attacker, now), 'counted');
      await flush();
      t.ok(await passes(attacker), 'two failures: still allowed');
      t.equal(table.failure('sshd', attacker, now), 'banned');
      await flush();
      t.ok(backend.isBannedInKernel(4, attacker), 'the attacker is in the hash map');

      const before = await backend.droppedCounters();
      t.ok(await dropped(attacker), 'TCP from the attacker is dropped');
      t.notOk(await pingFrom(net.client, attacker, net.serverAddr), 'ping from the attacker gets no reply');
      await sendUdp(net.client, attacker, net.serverAddr, 50);
      const after = await backend.droppedCounters();
      t.ok(after.packets - before.packets >= 52n, `drop counter rose by ${after.packets - before.packets} packets`);
      t.ok(after.bytes - before.bytes >= 52n * 60n, `and by ${after.bytes - before.bytes} bytes`);

      t.ok(await passes(neighbour), 'TCP from the neighbour passes');
      t.ok(await pingFrom(net.client, neighbour, net.serverAddr), 'ping from the neighbour is answered');
    });

    t.test('the ban lifts by itself after bantime', async (t) => {
      // The daemon drives expiry from the ban table with a timer; this is that timer.
      const waitMs = Math.max(0, (table.nextExpiry() - Date.now() / 1000) * 1000) + 50;
      t.ok(waitMs <= bantime * 1000 + 100, 'expiry is scheduled within bantime');
      await new Promise<void>((resolve) => setTimeout(() => { table.expire(); resolve(); }, waitMs));
      t.same(changes.map((c) => [c.op, c.addr]), [['unban', attacker]], 'the table sent one unban');
      await flush();
      t.notOk(backend.isBannedInKernel(4, attacker), 'gone from the map');
      t.ok(await passes(attacker), 'the attacker reaches the server again');
    });

    t.test('IPv6 bans, CIDR bans through the LPM trie, and unban', async (t) => {
      table.ban('sshd', attacker6, 600);
      table.ban('sshd', '198.18.77.4/30', 600);
      await flush();
      t.ok(backend.isBannedInKernel(4, '198.18.77.4', 30), 'the network is in the LPM trie');
      t.ok(await dropped(attacker6, net.serverAddr6), 'IPv6 TCP from the banned address is dropped');
      t.ok(await passes(neighbour6, net.serverAddr6), 'IPv6 neighbour passes');
      t.ok(await dropped(inNet), 'an address inside the banned /30 is dropped');
      t.ok(await passes(neighbour), 'the neighbour just outside the /30 passes');

      table.unban('198.18.77.4/30');
      table.unban(attacker6);
      await flush();
      t.ok(await passes(inNet), 'after unban the network passes');
      t.ok(await passes(attacker6, net.serverAddr6), 'after unban the IPv6 address passes');
    });

    t.test("one jail's unban does not lift another jail's ban of the same address", async (t) => {
      await backend.apply([
        { op: 'ban', jail: 'sshd', addr: attacker, family: 4, timeout: 600 },
        { op: 'ban', jail: 'nginx', addr: attacker, family: 4, timeout: 600 },
      ]);
      await backend.apply([{ op: 'unban', jail: 'nginx', addr: attacker, family: 4, timeout: 0 }]);
      t.ok(backend.isBannedInKernel(4, attacker), 'still banned by sshd');
      await backend.apply([{ op: 'unban', jail: 'sshd', addr: attacker, family: 4, timeout: 0 }]);
      t.notOk(backend.isBannedInKernel(4, attacker), 'lifted when no jail bans it');

      const ban = { op: 'ban', jail: 'sshd', addr: attacker, family: 4, timeout: 600 } as const;
      const unban = { op: 'unban', jail: 'sshd', addr: attacker, family: 4, timeout: 0 } as const;
      await backend.apply([ban, unban]);
      t.notOk(backend.isBannedInKernel(4, attacker), 'ban then unban in one batch: not banned');
      await backend.apply([unban, ban]);
      t.ok(backend.isBannedInKernel(4, attacker), 'unban then ban in one batch: banned');
      await backend.apply([unban, unban]);
      t.notOk(backend.isBannedInKernel(4, attacker), 'a repeated unban is harmless');
    });

    t.test('a restart keeps dropping from the pinned maps without re-adding', async (t) => {
      await backend.apply([{ op: 'ban', jail: 'sshd', addr: attacker, family: 4, timeout: 600 }]);
      t.ok(await dropped(attacker), 'dropped before the restart');

      // Crash: the old process never stops; the new one takes over the program atomically.
      const second = newBackend();
      await second.start(jails);
      t.ok(logs.some((l) => l.includes(`maps reused from ${bpffs.dir}`)), 'the new instance reuses the pinned maps');
      t.ok(await dropped(attacker), 'still dropped by the new instance, nothing re-added');
      t.notOk(await backend.healthy(), 'the old instance sees its program was replaced');
      t.ok(await second.healthy(), 'the new instance is healthy');

      // Orderly stop: detached, maps kept; the next start drops again at once.
      await second.stop(false);
      const off = await runCommand('ip', ['-j', '-d', 'link', 'show', 'dev', net.serverIf], net.server);
      t.notMatch(off.stdout, /logban_xdp/, 'orderly stop detaches the program');
      t.ok(await passes(attacker), 'with the program detached the attacker passes');
      const third = newBackend(true);
      await third.start(jails);
      t.ok(await dropped(attacker), 'after the restart the pinned ban drops again');

      // keepOnStop: the program stays attached through the stop.
      await third.stop(false);
      const on = await runCommand('ip', ['-j', '-d', 'link', 'show', 'dev', net.serverIf], net.server);
      t.match(on.stdout, /logban_xdp/, 'keepOnStop leaves the program attached');
      t.ok(await dropped(attacker), 'and it keeps dropping');
    });

    t.test('configuration mistakes name the value at fault', async (t) => {
      const missing = new XdpBackend({
        interfaces: ['lbnope0'], pinDir: bpffs.dir, keepOnStop: false, netns: net.server, log: () => undefined,
      });
      await t.rejects(missing.start(jails), { name: 'UserError', message: /xdp_interfaces: interface lbnope0 does not exist/ });
      const none = new XdpBackend({ interfaces: [], keepOnStop: false, log: () => undefined });
      await t.rejects(none.start(jails), { name: 'UserError', message: /at least one interface/ });
      const dotted = new XdpBackend({
        interfaces: [net.serverIf], pinDir: '/sys/fs/bpf/logban.test', keepOnStop: false, netns: net.server, log: () => undefined,
      });
      await t.rejects(dotted.start(jails), { name: 'UserError', message: /must not contain '\.'/ });
    });

    t.test('healthy() notices a detached program; start() repairs it', async (t) => {
      const b = newBackend();
      await b.start(jails);
      t.ok(await b.healthy());
      await runCommand('ip', ['link', 'set', 'dev', net.serverIf, 'xdp', 'off'], net.server);
      await runCommand('ip', ['link', 'set', 'dev', net.serverIf, 'xdpgeneric', 'off'], net.server);
      t.notOk(await b.healthy(), 'detached behind our back: unhealthy');
      await b.start(jails);
      t.ok(await b.healthy(), 'start() re-attached');
      t.ok(await dropped(attacker), 'and the pinned ban drops again');
    });
  }
}
