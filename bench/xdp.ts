// XDP bench: CPU time per dropped packet (softirq time / packets dropped) at the XDP hook and at
// an nftables input hook, each holding 100,000 banned addresses, under a bounded flood between
// two namespaces; and map update rates through XdpBackend beside raw `bpftool batch`.
// Two traffic sources, both from a client namespace over a veth pair into the server namespace:
//  - frames: xdp_frames redirected into the veth (BPF_PROG_TEST_RUN live frames), which reach
//    the server's XDP program before any socket buffer exists, as packets from a NIC driver do;
//  - packet: raw frames from an AF_PACKET socket, which reach veth as socket buffers (veth's
//    native XDP then copies each into a page first: a veth artefact, not a driver's).
// Run: node dist/bench/xdp.js [--seconds 5] [--rate 300000] [--rounds 1] [--json]
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { XdpBackend } from '../src/backends/xdp.js';
import { loadBpfAddon } from '../src/backends/bpf/addon.js';
import type { BanChange } from '../src/types.js';
import { createVethPair, mountPrivateBpffs, must } from './xdp-netns.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const xdpDir = path.join(repoRoot, 'native-rules', 'xdp');
const floodBin = path.join(xdpDir, 'build', 'flood');
const floodXdpBin = path.join(xdpDir, 'build', 'flood_xdp');
const floodXdpObj = path.join(xdpDir, 'build', 'flood_xdp.bpf.o');
const softirqTimeBin = path.join(xdpDir, 'build', 'softirq_time');
const softirqTimeObj = path.join(xdpDir, 'build', 'softirq_time.bpf.o');

/** Runs a command under softirq_time: its stdout, and the exact NET_RX seconds meanwhile. */
async function withNetRxClock(cmd: string, args: readonly string[], netns?: string): Promise<{ stdout: string; netRx: number }> {
  const r = await must(softirqTimeBin, [softirqTimeObj, cmd, ...args], netns);
  const m = /^net_rx_ns (\d+) runs \d+$/m.exec(r.stdout);
  if (!m) throw new Error(`softirq_time printed no measurement: ${r.stdout.trim()}`);
  return { stdout: r.stdout.slice(0, m.index), netRx: Number(m[1]) / 1e9 };
}

export interface XdpBenchOptions {
  /** banned addresses in each filter (default 100,000) */
  banned?: number;
  /** flood rate, packets/s (default 300,000) */
  rate?: number;
  /** flood length per phase, seconds (default 5, at most 10) */
  seconds?: number;
  /** alternating nft/XDP rounds (default 1) */
  rounds?: number;
  log?: (m: string) => void;
}

export interface FloodResult {
  sent: number;
  dropped: number;
  /** softirq time on all CPUs during the flood, seconds (tick-sampled /proc/stat) */
  softirqSeconds: number;
  /** softirq ns per dropped packet, raw */
  nsPerDrop: number;
  /** same, after subtracting the idle softirq rate measured in the same run */
  nsPerDropNet: number;
  /** NET_RX softirq time on all CPUs during the flood, exact (softirq_entry/exit tracepoints
   * timed by a BPF program: native-rules/xdp/bench/softirq_time.bpf.c), seconds */
  netRxSeconds: number;
  /** netRxSeconds per dropped packet, net of the idle NET_RX rate, ns */
  netRxNsPerDrop: number;
}

export type TrafficSource = 'frames' | 'packet';

export interface SourceResult {
  nftables: FloodResult;
  /** XDP attached as the backend picks by default (native on veth) */
  xdpNative: FloodResult;
  /** XDP forced into generic (skb) mode; packet source only (veth takes frames only natively) */
  xdpGeneric?: FloodResult;
  /** xdpNative.nsPerDropNet / nftables.nsPerDropNet (tick-sampled softirq) */
  costRatio: number;
  /** xdpNative.netRxNsPerDrop / nftables.netRxNsPerDrop: the exact ratio */
  exactCostRatio: number;
  exactGenericCostRatio?: number;
  genericCostRatio?: number;
}

export interface XdpBenchResult {
  banned: number;
  rate: number;
  seconds: number;
  rounds: number;
  /** softirq seconds per second with no flood (other tenants of the machine) */
  idleSoftirqPerSecond: number;
  /** driver-like source: the target is judged on it */
  frames: SourceResult;
  packet: SourceResult;
  updates: {
    /** bans/s through XdpBackend.apply() (parse, key encoding, BPF_MAP_UPDATE_BATCH), median of 3 */
    backendBansPerSecond: number;
    /** unbans/s through XdpBackend.apply(), median of 3 */
    backendUnbansPerSecond: number;
    /** inserts/s of prebuilt keys in one BPF_MAP_UPDATE_BATCH: the kernel's share of the above */
    rawBatchPerSecond: number;
    /** updates/s through one `bpftool batch file -` process */
    bpftoolBatchPerSecond: number;
  };
  /** NET_RX seconds per second with no flood, exact */
  idleNetRxPerSecond: number;
  /** frames.exactCostRatio <= 0.75; backendBansPerSecond >= 300,000 */
  targets: { costRatioMet: boolean; updatesMet: boolean };
}

const USER_HZ = 100; // /proc/stat unit on Linux

function softirqSeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  return Number(cpu[7]) / USER_HZ; // cpu user nice system idle iowait irq softirq
}

/** The i-th banned address: 198.18.0.0 + i (stays below 198.19.255.0, the namespaces' net). */
function bannedAddr(i: number): string {
  const n = (0xc6120000 + i) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function seconds(fromNs: bigint): number {
  return Number(process.hrtime.bigint() - fromNs) / 1e9;
}

/** Insert `count` prebuilt IPv4 keys into an empty map with one addon call; leaves it empty. */
function rawBatchRate(mapPin: string, count: number): number {
  const addon = loadBpfAddon();
  const keys = Buffer.allocUnsafe(count * 4);
  for (let i = 0; i < count; i++) keys.writeUInt32BE((0xc6120000 + i) >>> 0, i * 4);
  const values = Buffer.alloc(count * 4, 0);
  for (let i = 0; i < count; i++) values.writeUInt32LE(1, i * 4);
  const fd = addon.objGet(mapPin);
  try {
    const t0 = process.hrtime.bigint();
    addon.updateMany(fd, keys, 4, values, 4);
    const rate = count / seconds(t0);
    addon.deleteMany(fd, keys, 4);
    return rate;
  } finally {
    addon.close(fd);
  }
}

async function bpftoolBatchRate(mapPin: string, count: number): Promise<number> {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = (0xc6120000 + i) >>> 0;
    const hex = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'));
    lines.push(`map update pinned ${mapPin} key hex ${hex.join(' ')} value hex 01 00 00 00\n`);
  }
  const input = lines.join('');
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bpftool', ['batch', 'file', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`bpftool batch: ${err.trim()}`))));
    child.stdin.end(input);
  });
  return count / seconds(t0);
}

export async function runXdpBench(opts: XdpBenchOptions = {}): Promise<XdpBenchResult> {
  const banned = opts.banned ?? 100_000;
  const rate = opts.rate ?? 300_000;
  const secs = Math.min(opts.seconds ?? 5, 10);
  const rounds = opts.rounds ?? 1;
  const log = opts.log ?? (() => undefined);
  if (banned > 100_000 * 1.3) throw new Error('banned must stay within 198.18.0.0 .. 198.19.254.255');

  await must('make', ['-s', '-C', xdpDir, 'all']);
  const net = await createVethPair({ tag: 'xdpb', subnet: 254, v4Net: '198.19.255', clientAddrs: ['2'] });
  const bpffs = await mountPrivateBpffs();
  const scratch = await mkdtemp(path.join(tmpdir(), 'lbxdpb-'));
  const mk = (mode: 'native' | 'generic') =>
    new XdpBackend({ interfaces: [net.serverIf], pinDir: bpffs.dir, keepOnStop: false, netns: net.server, log, mode });
  const backend = mk('native');
  const generic = mk('generic');
  try {
    // Spoofed sources must not be filtered by reverse-path checks before the input hook.
    await must('sysctl', ['-q', '-w', 'net.ipv4.conf.all.rp_filter=0', `net.ipv4.conf.${net.serverIf}.rp_filter=0`], net.server);

    // nftables side: a set like logban's (flags timeout) hooked at input.
    const elems: string[] = [];
    for (let i = 0; i < banned; i++) elems.push(`${bannedAddr(i)} timeout 1h`);
    const ruleset = [
      'table inet lbbench {',
      `  set ban4 { type ipv4_addr; flags timeout; size ${banned * 2}; elements = { ${elems.join(', ')} } }`,
      '  chain input { type filter hook input priority filter - 10; policy accept;',
      '    ip saddr @ban4 counter drop',
      '  }',
      '}',
    ].join('\n');
    const rulesFile = path.join(scratch, 'bench.nft');
    await writeFile(rulesFile, ruleset + '\n');
    await must('nft', ['-f', rulesFile], net.server);
    const nftDropped = async (): Promise<number> => {
      const out = await must('nft', ['-j', 'list', 'chain', 'inet', 'lbbench', 'input'], net.server);
      const m = /"counter":\s*\{\s*"packets":\s*(\d+)/.exec(out.stdout);
      return m ? Number(m[1]) : 0;
    };

    // XDP side: maps and program through the backend; update rates measured on the way.
    await backend.start([]);
    const bans: BanChange[] = [];
    const unbans: BanChange[] = [];
    for (let i = 0; i < banned; i++) {
      bans.push({ op: 'ban', jail: 'bench', addr: bannedAddr(i), family: 4, timeout: 3600 });
      unbans.push({ op: 'unban', jail: 'bench', addr: bannedAddr(i), family: 4, timeout: 0 });
    }
    // Median of three ban/unban cycles on the 100,000 addresses (the first one also warms the JIT).
    const banRates: number[] = [];
    const unbanRates: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      let t0 = process.hrtime.bigint();
      await backend.apply(bans);
      banRates.push(banned / seconds(t0));
      t0 = process.hrtime.bigint();
      await backend.apply(unbans);
      unbanRates.push(banned / seconds(t0));
    }
    const backendBansPerSecond = median(banRates);
    const backendUnbansPerSecond = median(unbanRates);
    const rawBatchPerSecond = rawBatchRate(path.join(bpffs.dir, 'lb_ban_v4'), banned);
    const bpftoolBatchPerSecond = await bpftoolBatchRate(path.join(bpffs.dir, 'lb_ban_v4'), banned);
    await backend.apply(bans);
    log(`updates: backend ${backendBansPerSecond.toFixed(0)} bans/s, ${backendUnbansPerSecond.toFixed(0)} unbans/s; raw BPF_MAP_UPDATE_BATCH ${rawBatchPerSecond.toFixed(0)}/s; bpftool batch ${bpftoolBatchPerSecond.toFixed(0)}/s`);

    const flood = async (source: TrafficSource): Promise<{ sent: number; softirq: number; netRx: number }> => {
      const args = [net.clientIf, net.serverMac, net.serverAddr, bannedAddr(0), String(banned), String(rate), String(secs)];
      const s0 = softirqSeconds();
      const r = source === 'frames'
        ? await withNetRxClock(floodXdpBin, [floodXdpObj, ...args], net.client)
        : await withNetRxClock(floodBin, args, net.client);
      return { sent: Number(r.stdout.trim()), softirq: softirqSeconds() - s0, netRx: r.netRx };
    };
    const idle = async (): Promise<{ softirq: number; netRx: number }> => {
      const s0 = softirqSeconds();
      const r = await withNetRxClock('sleep', [String(secs)]);
      return { softirq: softirqSeconds() - s0, netRx: r.netRx };
    };
    // veth accepts redirected frames only when it runs a native XDP program: for nftables
    // under the frames source, a program that passes everything.
    await must('bpftool', ['prog', 'loadall', floodXdpObj, path.join(bpffs.dir, 'flood')]);
    const passPin = path.join(bpffs.dir, 'flood', 'pass');
    const passOn = () => must('bpftool', ['net', 'attach', 'xdpdrv', 'pinned', passPin, 'dev', net.serverIf], net.server);
    const passOff = () => must('bpftool', ['net', 'detach', 'xdpdrv', 'dev', net.serverIf], net.server);

    type Total = { sent: number; dropped: number; softirq: number; netRx: number };
    const zero = (): Total => ({ sent: 0, dropped: 0, softirq: 0, netRx: 0 });
    const totals: Record<TrafficSource, { nft: Total; native: Total; generic: Total }> = {
      frames: { nft: zero(), native: zero(), generic: zero() },
      packet: { nft: zero(), native: zero(), generic: zero() },
    };
    const add = (t: Total, sent: number, dropped: number, f: { softirq: number; netRx: number }, label: string) => {
      t.sent += sent; t.dropped += dropped; t.softirq += f.softirq; t.netRx += f.netRx;
      log(`${label}: sent ${sent}, dropped ${dropped}, softirq ${f.softirq.toFixed(2)} s (ticks), NET_RX ${f.netRx.toFixed(4)} s (exact)`);
    };
    await backend.stop(false);
    let idleSoftirq = 0;
    let idleNetRx = 0;
    for (let round = 0; round < rounds; round++) {
      const i = await idle();
      idleSoftirq += i.softirq;
      idleNetRx += i.netRx;
      for (const source of ['frames', 'packet'] as const) {
        const tag = `round ${round + 1} ${source}`;
        // nftables: no logban program attached, packets reach the input hook.
        if (source === 'frames') await passOn();
        const n0 = await nftDropped();
        const f1 = await flood(source);
        add(totals[source].nft, f1.sent, (await nftDropped()) - n0, f1, `${tag} nftables`);
        if (source === 'frames') await passOff();
        // XDP on the same pinned maps; nftables never sees the packets.
        const variants = source === 'frames' ? [['native', backend]] as const : [['native', backend], ['generic', generic]] as const;
        for (const [mode, b] of variants) {
          await b.start([]);
          const x0 = (await b.droppedCounters()).packets;
          const f2 = await flood(source);
          const drops = Number((await b.droppedCounters()).packets - x0);
          await b.stop(false);
          add(totals[source][mode], f2.sent, drops, f2, `${tag} xdp ${b.attachModes().get(net.serverIf)}`);
        }
      }
    }
    const idleRate = idleSoftirq / (rounds * secs);
    const idleNetRxRate = idleNetRx / (rounds * secs);
    const phase = (p: Total): FloodResult => {
      const r: FloodResult = {
        sent: p.sent,
        dropped: p.dropped,
        softirqSeconds: p.softirq,
        nsPerDrop: p.dropped > 0 ? (p.softirq * 1e9) / p.dropped : NaN,
        nsPerDropNet: p.dropped > 0 ? (Math.max(0, p.softirq - idleRate * rounds * secs) * 1e9) / p.dropped : NaN,
        netRxSeconds: p.netRx,
        netRxNsPerDrop: p.dropped > 0 ? (Math.max(0, p.netRx - idleNetRxRate * rounds * secs) * 1e9) / p.dropped : NaN,
      };
      return r;
    };
    const summary = (source: TrafficSource): SourceResult => {
      const t = totals[source];
      const nftables = phase(t.nft);
      const xdpNative = phase(t.native);
      const r: SourceResult = {
        nftables, xdpNative,
        costRatio: xdpNative.nsPerDropNet / nftables.nsPerDropNet,
        exactCostRatio: xdpNative.netRxNsPerDrop / nftables.netRxNsPerDrop,
      };
      if (t.generic.sent > 0) {
        r.xdpGeneric = phase(t.generic);
        r.genericCostRatio = r.xdpGeneric.nsPerDropNet / nftables.nsPerDropNet;
        r.exactGenericCostRatio = r.xdpGeneric.netRxNsPerDrop / nftables.netRxNsPerDrop;
      }
      return r;
    };
    const frames = summary('frames');
    const packet = summary('packet');
    return {
      banned, rate, seconds: secs, rounds,
      idleSoftirqPerSecond: idleRate,
      idleNetRxPerSecond: idleNetRxRate,
      frames, packet,
      updates: { backendBansPerSecond, backendUnbansPerSecond, rawBatchPerSecond, bpftoolBatchPerSecond },
      // judged on the driver-like source, with the exact clock
      targets: { costRatioMet: frames.exactCostRatio <= 0.75, updatesMet: backendBansPerSecond >= 300_000 },
    };
  } finally {
    await backend.stop(false).catch(() => undefined);
    await generic.stop(false).catch(() => undefined);
    await net.destroy();
    await bpffs.destroy();
    await rm(scratch, { recursive: true, force: true });
  }
}

function argValue(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : Number(process.argv[i + 1]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!existsSync('/run') || process.getuid?.() !== 0) {
    console.error('bench/xdp: needs root (network namespaces, bpffs)');
    process.exit(1);
  }
  const json = process.argv.includes('--json');
  const result = await runXdpBench({
    seconds: argValue('--seconds'), rate: argValue('--rate'), rounds: argValue('--rounds'), banned: argValue('--banned'),
    log: json ? undefined : (m) => console.log(m),
  });
  if (json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const f = (n: number) => n.toFixed(0);
    const line = (name: string, r: FloodResult) =>
      console.log(`  ${name.padEnd(20)} ${f(r.netRxNsPerDrop).padStart(6)} ns/drop exact (ticks: ${f(r.nsPerDropNet)}), ${r.dropped} dropped of ${r.sent} sent`);
    console.log(`flood ${result.rate} pps x ${result.seconds} s x ${result.rounds} round(s), ${result.banned} banned addresses`);
    console.log(`idle NET_RX softirq: ${(result.idleNetRxPerSecond * 100).toFixed(2)}% of a CPU (other tenants), subtracted`);
    for (const source of ['frames', 'packet'] as const) {
      const r = result[source];
      console.log(source === 'frames' ? 'source xdp_frames (driver-like):' : 'source AF_PACKET skbs:');
      line('nftables input hook', r.nftables);
      line('XDP native', r.xdpNative);
      if (r.xdpGeneric) line('XDP generic', r.xdpGeneric);
      console.log(`  ratio XDP native/nftables ${r.exactCostRatio.toFixed(3)}` +
        (r.exactGenericCostRatio !== undefined ? `, generic/nftables ${r.exactGenericCostRatio.toFixed(3)}` : ''));
    }
    console.log(`target XDP <= 0.75 x nftables (xdp_frames): ${result.targets.costRatioMet ? 'met' : 'NOT met'}`);
    console.log(`map updates: backend ${f(result.updates.backendBansPerSecond)} bans/s, ${f(result.updates.backendUnbansPerSecond)} unbans/s; kernel alone (one BPF_MAP_UPDATE_BATCH) ${f(result.updates.rawBatchPerSecond)}/s; raw bpftool batch ${f(result.updates.bpftoolBatchPerSecond)}/s (target >= 300000: ${result.targets.updatesMet ? 'met' : 'NOT met'})`);
  }
}
