// Small network-namespace kit for the XDP test and bench: two namespaces joined by a veth pair,
// a private bpffs mount for pins, and probes run inside a namespace. Only namespaces and mounts
// created here are touched; everything is removed by destroy().
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand, type CommandResult } from '../src/backends/xdp-loader.js';

export async function must(cmd: string, args: readonly string[], netns?: string): Promise<CommandResult> {
  const r = await runCommand(cmd, args, netns);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}${netns ? ` (in ${netns})` : ''}: ${r.stderr.trim()}`);
  return r;
}

export interface VethPair {
  /** namespace whose interface gets the XDP program (the protected server) */
  server: string;
  /** namespace the traffic comes from */
  client: string;
  serverIf: string;
  clientIf: string;
  serverAddr: string;
  serverAddr6: string;
  serverMac: string;
  destroy(): Promise<void>;
}

/**
 * server ns (serverIf, serverAddr/24, serverAddr6/64) <-veth-> client ns (clientIf, clientAddrs).
 * Addresses are in 198.18.0.0/15 and 2001:db8::/32, which exist only inside these namespaces.
 */
export async function createVethPair(opts: {
  tag: string;
  subnet: number; // 198.18.<subnet>.0/24 (or <v4Net>.0/24), 2001:db8:<subnet>::/64
  v4Net?: string; // first three octets, default `198.18.<subnet>`
  clientAddrs: string[]; // last octets / v6 suffixes, e.g. ['2', '3']
}): Promise<VethPair> {
  const base = `lb-${opts.tag}-${process.pid}`;
  const server = `${base}-s`;
  const client = `${base}-c`;
  const serverIf = 'lbxs0';
  const clientIf = 'lbxc0';
  const net4 = opts.v4Net ?? `198.18.${opts.subnet}`;
  const net6 = `2001:db8:${opts.subnet}::`;
  const destroy = async () => {
    await runCommand('ip', ['netns', 'del', server]);
    await runCommand('ip', ['netns', 'del', client]);
  };
  try {
    await must('ip', ['netns', 'add', server]);
    await must('ip', ['netns', 'add', client]);
    await must('ip', ['-n', server, 'link', 'add', serverIf, 'type', 'veth', 'peer', 'name', clientIf, 'netns', client]);
    for (const [ns, dev] of [[server, serverIf], [client, clientIf]] as const) {
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    await must('ip', ['-n', server, 'addr', 'add', `${net4}.1/24`, 'dev', serverIf]);
    await must('ip', ['-n', server, 'addr', 'add', `${net6}1/64`, 'dev', serverIf, 'nodad']);
    for (const a of opts.clientAddrs) {
      await must('ip', ['-n', client, 'addr', 'add', `${net4}.${a}/24`, 'dev', clientIf]);
      await must('ip', ['-n', client, 'addr', 'add', `${net6}${a}/64`, 'dev', clientIf, 'nodad']);
    }
    const link = JSON.parse((await must('ip', ['-j', '-n', server, 'link', 'show', 'dev', serverIf])).stdout) as Array<{ address: string }>;
    return {
      server, client, serverIf, clientIf,
      serverAddr: `${net4}.1`, serverAddr6: `${net6}1`, serverMac: link[0]!.address,
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** A private bpffs instance under /tmp (no '.' in the path: libbpf rewrites dots in pin paths). */
export async function mountPrivateBpffs(): Promise<{ dir: string; destroy(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lbxdp-'));
  if (dir.includes('.')) throw new Error(`temporary directory ${dir} contains a '.'`);
  await must('mount', ['-t', 'bpf', 'bpf', dir]);
  return {
    dir,
    async destroy() {
      await runCommand('umount', [dir]);
      await rmdir(dir).catch(() => undefined);
    },
  };
}

const tcpProbeCode = `
const net = require('node:net');
const [src, dst, port, ms] = process.argv.slice(1);
const s = net.connect({ host: dst, port: Number(port), localAddress: src });
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, Number(ms));
s.on('connect', () => { console.log('connected'); process.exit(0); });
s.on('error', (e) => { clearTimeout(t); console.log(e.code === 'ECONNREFUSED' ? 'refused' : e.code); process.exit(0); });
`;

/** TCP connect from src to dst:port inside ns: 'refused' (RST came back: the SYN got through
 * to a closed port), 'timeout' (dropped), or 'connected'. */
export async function probeTcp(ns: string, src: string, dst: string, port = 9, ms = 700): Promise<string> {
  const r = await must(process.execPath, ['-e', tcpProbeCode, src, dst, String(port), String(ms)], ns);
  return r.stdout.trim();
}

const udpSendCode = `
const dgram = require('node:dgram');
const [src, dst, port, count] = process.argv.slice(1);
const s = dgram.createSocket(dst.includes(':') ? 'udp6' : 'udp4');
s.bind({ address: src }, async () => {
  for (let i = 0; i < Number(count); i++) await new Promise((r) => s.send(Buffer.alloc(64, i), Number(port), dst, r));
  s.close();
});
`;

/** Send count UDP datagrams of 64 bytes from src to dst:port inside ns. */
export async function sendUdp(ns: string, src: string, dst: string, count: number, port = 9): Promise<void> {
  await must(process.execPath, ['-e', udpSendCode, src, dst, String(port), String(count)], ns);
}

/** ping -c count from src; true when any reply came back. */
export async function pingFrom(ns: string, src: string, dst: string, count = 2): Promise<boolean> {
  const r = await runCommand('ping', ['-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', '-I', src, dst], ns);
  return r.code === 0;
}
