// The capability set in deploy/logban.service is enough for what the daemon does in the
// kernel, and each capability is there for a reason: nft, the real XDP program and the control
// socket's chgrp are run as root under exactly the unit's bounding set (setpriv), and fail
// without the capability the unit comments name for them. Kernel work happens only in a
// network namespace this test creates, and in a private bpffs instance mounted under /tmp.

import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { repoRoot } from '../helpers/paths.js';
import { resolveGroup } from '../../src/control/server.js';

const unit = fs.readFileSync(path.join(repoRoot, 'deploy', 'logban.service'), 'utf8');
const boundingLine = /^CapabilityBoundingSet=(.*)$/m.exec(unit)?.[1] ?? '';
/** `CAP_NET_ADMIN CAP_BPF` -> ['net_admin', 'bpf'] (setpriv's names) */
const unitCaps = boundingLine.split(/\s+/).filter(Boolean).map((c) => c.replace(/^CAP_/, '').toLowerCase());

const xdpSource = path.join(repoRoot, 'native-rules', 'xdp', 'logban_xdp.c');
const serverModule = path.join(repoRoot, 'dist', 'src', 'control', 'server.js');

function missingTools(): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of ['setpriv', 'nft', 'ip', 'bpftool', 'clang', 'mount']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) return `${tool} not installed`;
  }
  return false;
}
const skip = missingTools();

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, env: env ?? process.env });
}

function must(cmd: string, args: string[]): void {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

/** Runs argv as root inside `ns` with only `caps` in the bounding set, as systemd would. */
function runWithCaps(ns: string, caps: string[], argv: string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const bounding = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return run('ip', ['netns', 'exec', ns, 'setpriv', `--bounding-set=${bounding}`, '--inh-caps=-all', ...argv], env);
}

t.test('the unit grants the capabilities this test exercises', async (t) => {
  t.same([...unitCaps].sort(), ['bpf', 'chown', 'dac_read_search', 'net_admin', 'perfmon']);
});

t.test('nftables: the ban table works with the unit capabilities, not without CAP_NET_ADMIN', { skip }, async (t) => {
  const ns = `lb-deploy-nft-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-caps-'));
  must('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    run('ip', ['netns', 'del', ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const rules = path.join(dir, 'rules.nft');
  fs.writeFileSync(
    rules,
    [
      'add table inet logban',
      'add set inet logban sshd4 { type ipv4_addr; flags timeout; }',
      'add chain inet logban input { type filter hook input priority -10; }',
      'add rule inet logban input ip saddr @sshd4 tcp dport 22 drop',
      'add element inet logban sshd4 { 198.18.0.7 timeout 600s }',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, HOME: dir };
  const ok = runWithCaps(ns, unitCaps, ['nft', '-f', rules], env);
  t.equal(ok.status, 0, ok.stderr);
  const listed = runWithCaps(ns, unitCaps, ['nft', 'get', 'element', 'inet', 'logban', 'sshd4', '{ 198.18.0.7 }'], env);
  t.match(listed.stdout, '198.18.0.7');

  const without = runWithCaps(ns, unitCaps.filter((c) => c !== 'net_admin'), ['nft', 'list', 'tables'], env);
  t.not(without.status, 0, 'nft fails without CAP_NET_ADMIN');
  t.match(without.stderr, /Operation not permitted/);
});

t.test('XDP: the real program loads, pins, attaches and takes map updates with the unit capabilities', { skip }, async (t) => {
  const ns = `lb-deploy-xdp-${process.pid}`;
  // libbpf rewrites '.' in pin paths, so the directory name must not contain one.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-caps-'));
  const bpffs = path.join(dir, 'bpffs');
  fs.mkdirSync(bpffs);
  must('mount', ['-t', 'bpf', 'bpf', bpffs]);
  must('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    run('ip', ['netns', 'del', ns]);
    run('umount', [bpffs]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  must('ip', ['-n', ns, 'link', 'add', 'lb0', 'type', 'veth', 'peer', 'name', 'lb1']);
  must('ip', ['-n', ns, 'link', 'set', 'lb0', 'up']);
  must('ip', ['-n', ns, 'link', 'set', 'lb1', 'up']);
  const obj = path.join(dir, 'logban_xdp.o');
  must('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, '-c', xdpSource, '-o', obj]);
  const prog = path.join(bpffs, 'prog');
  const load = (caps: string[]): SpawnSyncReturns<string> =>
    runWithCaps(ns, caps, ['bpftool', 'prog', 'load', obj, prog, 'type', 'xdp', 'pinmaps', bpffs]);

  for (const dropped of ['bpf', 'perfmon']) {
    const r = load(unitCaps.filter((c) => c !== dropped));
    t.not(r.status, 0, `load fails without CAP_${dropped.toUpperCase()}`);
    fs.rmSync(prog, { force: true });
  }

  const loaded = load(unitCaps);
  t.equal(loaded.status, 0, loaded.stderr);
  const shown = runWithCaps(ns, unitCaps, ['bpftool', '-j', 'prog', 'show', 'pinned', prog]);
  t.equal((JSON.parse(shown.stdout || '{}') as { name?: string }).name, 'logban_xdp');
  const attach = runWithCaps(ns, unitCaps, ['bpftool', 'net', 'attach', 'xdpgeneric', 'pinned', prog, 'dev', 'lb0']);
  t.equal(attach.status, 0, attach.stderr);
  // 198.18.0.9 in network byte order, value 1 = banned
  const update = runWithCaps(ns, unitCaps, ['bpftool', 'map', 'update', 'pinned', path.join(bpffs, 'lb_ban_v4'), 'key', '198', '18', '0', '9', 'value', '1', '0', '0', '0']);
  t.equal(update.status, 0, update.stderr);
  const detach = runWithCaps(ns, unitCaps, ['bpftool', 'net', 'detach', 'xdpgeneric', 'dev', 'lb0']);
  t.equal(detach.status, 0, detach.stderr);
});

t.test('control socket: chgrp to socketgroup needs CAP_CHOWN, which the unit grants', { skip: skip || (!fs.existsSync(serverModule) && 'dist not built') }, async (t) => {
  const ns = `lb-deploy-sock-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-caps-'));
  must('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    run('ip', ['netns', 'del', ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // Starts a ControlServer giving the socket to group `daemon` (root is not a member), prints
  // the socket's gid and mode.
  const script = (sock: string): string => `
    import fs from 'node:fs';
    import { ControlServer } from ${JSON.stringify(serverModule)};
    const log = { info() {}, warn() {}, error() {} };
    const server = new ControlServer({ path: ${JSON.stringify(sock)}, group: 'daemon', handler: {}, log });
    try { await server.start(); const st = fs.statSync(${JSON.stringify(sock)});
      console.log(JSON.stringify({ gid: st.gid, mode: st.mode & 0o777 })); await server.stop(); }
    catch (err) { console.log(JSON.stringify({ error: err.message })); }`;
  const withCaps = runWithCaps(ns, unitCaps, [process.execPath, '--input-type=module', '-e', script(path.join(dir, 'a.sock'))]);
  t.same(JSON.parse(withCaps.stdout), { gid: resolveGroup('daemon'), mode: 0o660 });
  const without = runWithCaps(ns, unitCaps.filter((c) => c !== 'chown'), [process.execPath, '--input-type=module', '-e', script(path.join(dir, 'b.sock'))]);
  t.match((JSON.parse(without.stdout) as { error?: string }).error, /^cannot set owner\/mode of control socket .*b\.sock: EPERM/);
});
