// deploy/logban.service: the hardening directives are there with the values the daemon needs,
// and systemd itself accepts the file (systemd-analyze verify, when installed).

import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../helpers/paths.js';

const UNIT = path.join(repoRoot, 'deploy', 'logban.service');
const text = fs.readFileSync(UNIT, 'utf8');

/** key -> values (a key may repeat), from the [Service] section, comments dropped. */
function section(name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1] ?? '';
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const service = section('Service');
const one = (key: string): string | undefined => service.get(key)?.at(-1);
const words = (key: string): string[] => (service.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);

t.test('runs the daemon and reloads it with SIGHUP', async (t) => {
  t.match(one('ExecStart'), /^\/usr\/local\/bin\/logban run --config-dir \S+ --state-dir \/var\/lib\/logban --socket \/run\/logban\/logban\.sock$/);
  t.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  t.equal(one('StateDirectory'), 'logban');
  t.equal(one('RuntimeDirectory'), 'logban');
});

t.test('hardening directives', async (t) => {
  const expected: Record<string, string> = {
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'read-only',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    ProtectKernelTunables: 'yes',
    ProtectKernelModules: 'yes',
    ProtectControlGroups: 'yes',
    RestrictSUIDSGID: 'yes',
    RestrictNamespaces: 'yes',
    LockPersonality: 'yes',
    SystemCallArchitectures: 'native',
    UMask: '0077',
  };
  for (const [key, value] of Object.entries(expected)) t.equal(one(key), value, key);
  t.match(one('MemoryMax'), /^\d+[KMG]$/);
  t.match(one('LimitNOFILE'), /^\d+$/);
  t.not(one('MemoryDenyWriteExecute'), 'yes', "Node's JIT needs W+X memory");
  t.not(one('PrivateNetwork'), 'yes', 'nft must reach the host network namespace');
  t.not(one('PrivateUsers'), 'yes', 'capabilities must be valid in the host user namespace');
});

t.test('capabilities: what nftables and XDP need, nothing broad', async (t) => {
  const bounding = words('CapabilityBoundingSet');
  for (const cap of ['CAP_NET_ADMIN', 'CAP_BPF']) t.ok(bounding.includes(cap), `${cap} granted`);
  for (const cap of ['CAP_SYS_ADMIN', 'CAP_DAC_OVERRIDE', 'CAP_SYS_MODULE', 'CAP_SYS_PTRACE', 'CAP_NET_RAW', 'CAP_SETUID']) {
    t.notOk(bounding.includes(cap), `${cap} not granted`);
  }
  t.same(words('AmbientCapabilities').sort(), [...bounding].sort(), 'ambient set equals the bounding set');
});

t.test('sockets and system calls the backends need stay allowed', async (t) => {
  t.same(words('RestrictAddressFamilies').sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
  const filter = words('SystemCallFilter');
  t.ok(filter.includes('@system-service') && filter.includes('bpf'), 'bpf() allowed on top of @system-service');
  t.ok(words('ReadWritePaths').some((p) => p.replace(/^-/, '') === '/sys/fs/bpf'), 'bpffs writable for pinning');
});

const analyzeMissing = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).error !== undefined;

t.test('systemd-analyze verify accepts the unit', { skip: analyzeMissing && 'systemd-analyze not installed' }, async (t) => {
  // verify checks that ExecStart/ExecReload binaries and the ordering targets exist: give it a
  // small root holding stand-ins for them, so only the unit file itself is judged.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-unit-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const put = (file: string, content: string, mode = 0o644): void => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content, { mode });
  };
  put('usr/local/bin/logban', '#!/bin/sh\n', 0o755);
  put('bin/kill', '#!/bin/sh\n', 0o755);
  for (const target of ['sysinit.target', 'basic.target', 'shutdown.target', 'multi-user.target', 'network.target']) {
    put(`usr/lib/systemd/system/${target}`, '[Unit]\nDescription=stand-in\n');
  }
  put('etc/systemd/system/logban.service', text);
  const res = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '/etc/systemd/system/logban.service'], { encoding: 'utf8' });
  // verify exits 0 even for unknown keys or bad values; it reports them on stderr.
  t.equal(res.status, 0, res.stderr);
  t.equal((res.stdout + res.stderr).trim(), '', 'no warnings');
});
