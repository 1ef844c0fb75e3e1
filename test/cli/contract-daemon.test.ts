// The README's `npm start` (logban run on the bundled config/) with a temporary state dir and
// the dry-run backend — never nftables on the host — driven through the command line as a user
// would: status, ban / list / unban round trips, --time -1, addresses refused before sending,
// reload, SIGTERM, and bans surviving a restart.

import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundledConfig } from '../helpers/paths.js';
import { nftSetElements, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { logbanCli, type ProcessResult } from '../helpers/process.js';
import { canUseNetns, createNetns } from '../helpers/netns.js';

interface ListEntry {
  jail: string;
  addr: string;
  expires: number | null;
  remainingSeconds: number | null;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-contract-daemon-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const stateDir = path.join(tmp, '.state');
const socket = path.join(stateDir, 'logban.sock');

function start(): Promise<RunningDaemon> {
  // what `npm start` runs, with --backend dry-run and a port chosen by the system
  return startDaemon({ configDir: bundledConfig, stateDir, socket, backend: 'dry-run', metrics: '127.0.0.1:0' });
}

const cli = (...args: string[]): Promise<ProcessResult> => logbanCli([...args, '--socket', socket]);

async function list(t: Test): Promise<ListEntry[]> {
  const r = await cli('list', '--json');
  t.equal(r.code, 0, 'logban list --json exits 0');
  return JSON.parse(r.stdout) as ListEntry[];
}

function oneLineError(t: Test, r: ProcessResult, ...mentions: (string | RegExp)[]): void {
  t.not(r.code, 0, 'exit code is not 0');
  t.equal(r.stdout, '', 'nothing on stdout');
  t.match(r.stderr, /^logban: [^\n]+\n$/, 'one line on stderr');
  for (const m of mentions) t.match(r.stderr, m);
}

t.test('npm start equivalent with the dry-run backend: the CLI round trip', async (t) => {
  const d = await start();
  t.teardown(() => d.stop());
  t.match(d.stderrText(), /dry-run backend: decisions are logged, nothing is blocked/, 'says it only logs');
  t.notMatch(d.stderrText(), /nftables/, 'no nftables anywhere near the host');

  // status, human and JSON: both bundled jails
  const status = await cli('status');
  t.equal(status.code, 0);
  t.match(status.stdout, /Backend:\s+dry-run/);
  t.match(status.stdout, /Number of jail:\s+2/);
  t.match(status.stdout, /Jail list:\s+.*\bsshd\b/);
  t.match(status.stdout, /Jail list:\s+.*\bapache-xmlrpc\b/);
  const sj = await cli('status', '--json');
  t.equal(sj.code, 0);
  const parsed = JSON.parse(sj.stdout) as { backend: string; jails: Array<{ name: string; filter: string }> };
  t.equal(parsed.backend, 'dry-run');
  t.same(parsed.jails.map((j) => j.name).sort(), ['apache-xmlrpc', 'sshd']);
  const one = await cli('status', 'apache-xmlrpc');
  t.equal(one.code, 0);
  t.match(one.stdout, /apache-xmlrpc/);
  oneLineError(t, await cli('status', 'no-such-jail'), /no-such-jail/);

  // ban with the jail's bantime (apache-xmlrpc: 240000 s)
  const ban = await cli('ban', 'apache-xmlrpc', '198.18.5.5');
  t.equal(ban.code, 0, `ban exits 0 (${ban.stderr.trim()})`);
  t.match(ban.stdout, /^Banned 198\.18\.5\.5 in jail apache-xmlrpc until /);
  await d.waitForLog(/\[apache-xmlrpc\] Ban 198\.18\.5\.5\b/, 5000);
  let bans = await list(t);
  const b = bans.find((e) => e.addr === '198.18.5.5');
  t.equal(b?.jail, 'apache-xmlrpc');
  t.ok(b && b.remainingSeconds !== null && b.remainingSeconds > 239_900 && b.remainingSeconds <= 240_000, `about 240000 s left (${b?.remainingSeconds})`);

  // --time -1 is a value for commander, not an option: a permanent ban; also --time=-1
  const perm = await cli('ban', 'sshd', '198.18.5.6', '--time', '-1');
  t.equal(perm.code, 0, `--time -1 accepted (${perm.stderr.trim()})`);
  t.match(perm.stdout, /^Banned 198\.18\.5\.6 in jail sshd permanently/);
  const perm2 = await cli('ban', 'sshd', '2001:db8::6', '--time=-1', '--json');
  t.equal(perm2.code, 0);
  t.match(JSON.parse(perm2.stdout), { jail: 'sshd', addr: '2001:db8::6', expires: null, created: true });
  const timed = await cli('ban', 'sshd', '198.18.6.0/24', '--time', '120');
  t.equal(timed.code, 0);

  bans = await list(t);
  t.match(bans.find((e) => e.addr === '198.18.5.6'), { jail: 'sshd', expires: null, remainingSeconds: null }, 'permanent in the list');
  t.match(bans.find((e) => e.addr === '2001:db8::6'), { jail: 'sshd', expires: null });
  const net = bans.find((e) => e.addr === '198.18.6.0/24');
  t.ok(net && net.remainingSeconds !== null && net.remainingSeconds <= 120 && net.remainingSeconds > 100, 'a network with its own time');
  const human = await cli('list');
  t.equal(human.code, 0);
  t.match(human.stdout, /^sshd\s+198\.18\.5\.6\s+permanent\b/m);
  const onlySshd = await cli('list', '--jail', 'sshd', '--json');
  t.notOk((JSON.parse(onlySshd.stdout) as ListEntry[]).some((e) => e.jail !== 'sshd'), 'list --jail filters');

  // bad input is refused by the CLI itself: the message is about the input even when no daemon
  // could have answered (a socket nobody listens on)
  const dead = path.join(tmp, 'nobody-listens.sock');
  for (const addr of ['999.1.1.1', 'example.org', '198.18.0.1/33', '']) {
    oneLineError(t, await logbanCli(['ban', 'sshd', addr, '--socket', dead]), `'${addr}'`, /not an IPv4\/IPv6 address/);
    oneLineError(t, await logbanCli(['unban', addr, '--socket', dead]), /not an IPv4\/IPv6 address/);
  }
  const badTime = await logbanCli(['ban', 'sshd', '198.18.5.9', '--time', '10m', '--socket', dead]);
  t.not(badTime.code, 0);
  t.match(badTime.stderr, /--time/);
  const live = await cli('ban', 'sshd', '999.1.1.1');
  oneLineError(t, live, `'999.1.1.1'`, /not an IPv4\/IPv6 address/);
  oneLineError(t, await cli('ban', 'no-such-jail', '198.18.5.9'), /no jail named "no-such-jail"/);

  // unban: everywhere, or in one jail; a second unban says there was nothing
  const unban = await cli('unban', '198.18.5.5');
  t.equal(unban.code, 0);
  t.match(unban.stdout, /^Unbanned 198\.18\.5\.5 from 1 jail/);
  await d.waitForLog(/\[apache-xmlrpc\] Unban 198\.18\.5\.5\b/, 5000);
  const again = await cli('unban', '198.18.5.5');
  t.match(again.stdout, /was not banned/);
  t.equal((await cli('unban', '198.18.6.0/24', '--jail', 'sshd')).code, 0);
  bans = await list(t);
  t.same(bans.map((e) => e.addr).sort(), ['198.18.5.6', '2001:db8::6'], 'only the permanent bans are left');

  // reload keeps bans
  const reload = await cli('reload');
  t.equal(reload.code, 0);
  t.same((await list(t)).map((e) => e.addr).sort(), ['198.18.5.6', '2001:db8::6'], 'reload kept the bans');

  const exit = await d.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: exit 0');
  oneLineError(t, await cli('status'), 'no daemon running');
});

t.test('bans survive a restart on the same state dir', async (t) => {
  const d = await start();
  t.teardown(() => d.stop());
  await d.waitForLog(/restored 2 ban\(s\)/, 5000);
  const bans = await list(t);
  t.same(bans.map((e) => [e.jail, e.addr, e.expires]).sort(), [['sshd', '198.18.5.6', null], ['sshd', '2001:db8::6', null]]);
  t.same(await d.stop(), { code: 0, signal: null });
});

t.test('the loopback is never banned, not even by hand (DESIGN.md)', async (t) => {
  const d = await start();
  t.teardown(() => d.stop());
  const r = await cli('ban', 'sshd', '127.0.0.1');
  const listed = (await list(t)).some((e) => e.addr === '127.0.0.1');
  t.notOk(listed, 'no ban of 127.0.0.1 in the list');
  t.not(r.code, 0, 'refused with an error');
  await cli('unban', '127.0.0.1');
  t.same(await d.stop(), { code: 0, signal: null });
});

t.test('as root, --backend auto picks nftables and says so (inside a network namespace only)', {
  skip: canUseNetns() ? false : 'needs root and `ip netns`',
}, async (t) => {
  const net = await createNetns('cli');
  t.teardown(() => net.destroy());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-contract-auto-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'logban.sock');
  const d = await startDaemon({ netns: net.server, configDir: bundledConfig, stateDir: dir, socket: sock, backend: 'auto' });
  t.teardown(() => d.stop());
  t.match(d.stderrText(), /backend auto: using nftables \(\S*nft\), table inet logban/);
  t.notMatch(d.stderrText(), /falling back/);
  const r = await logbanCli(['ban', 'sshd', net.attackerAddr, '--socket', sock]);
  t.equal(r.code, 0, `ban through the CLI (${r.stderr.trim()})`);
  const elems = await nftSetElements(net.server, 'sshd');
  t.ok(elems?.some((e) => e.addr === net.attackerAddr && e.timeout === 600), `${net.attackerAddr} in the sshd set for 600 s`);
  t.same(await d.stop(), { code: 0, signal: null });
});
