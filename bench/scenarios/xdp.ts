// xdp. The XDP engineer's benchmark (bench/xdp.ts, runXdpBench): CPU per dropped packet at the
// XDP hook vs the nftables input hook under a bounded flood between two namespaces, and map
// update rates. Loaded lazily so the other scenarios run even where the XDP parts cannot load.
import type { XdpBenchResult } from '../xdp.js';
import { kernelSkipReason } from '../netns.js';
import { hasProgram } from '../proc.js';
import { emptyOutcome, SkipScenario, target, type MetricValue, type Scenario, type ScenarioOutcome } from '../scenario.js';

/** Nested result objects become flat metric names (`frames_costRatio`). */
function flatten(value: unknown, prefix: string, into: Record<string, MetricValue>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}_${k}` : k, into);
  } else if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || value === null) {
    into[prefix] = value;
  } else if (value !== undefined) {
    into[prefix] = JSON.stringify(value);
  }
}

/** The result is read by field names rather than typed field by field: its shape belongs to
 * bench/xdp.ts and may grow; a renamed field leaves a target unmeasured instead of a broken build. */
function toOutcome(r: XdpBenchResult, smoke: boolean): ScenarioOutcome {
  const out = emptyOutcome();
  flatten(r, '', out.metrics);
  const num = (k: string): number | null => (typeof out.metrics[k] === 'number' ? out.metrics[k] as number : null);
  // CPU per drop is NET_RX softirq time, clocked exactly by a BPF program on the softirq
  // tracepoints (/proc/stat's 10 ms ticks could not see an XDP drop of driver-like frames).
  // The target is judged on xdp_frames, which reach XDP before any socket buffer exists, as
  // from a NIC driver; over veth, socket buffers are first copied into a page for XDP (a veth
  // artefact), so that source is shown beside it.
  const frames = num('frames_exactCostRatio');
  const cost = num('packet_exactCostRatio');
  const generic = num('packet_exactGenericCostRatio');
  const bans = num('updates_backendBansPerSecond');
  out.targets.push(target('XDP native / nft CPU per dropped packet (xdp_frames, driver-like)', frames, 'x', '<= 0.75', (v) => v <= 0.75));
  out.notes.push(`socket buffers over veth (not judged: veth copies each into a page before XDP): XDP native / nft ` +
    `${cost?.toFixed(3) ?? '?'}x, generic / nft ${generic?.toFixed(3) ?? '?'}x.`);
  out.targets.push(target('XdpBackend map updates', bans, 'bans/s', '>= 300000', (v) => v >= 300_000));
  for (const [k, label] of [['updates_backendBansPerSecond', 'XdpBackend.apply (bans)'],
    ['updates_rawBatchPerSecond', 'raw BPF_MAP_UPDATE_BATCH'], ['updates_bpftoolBatchPerSecond', 'bpftool batch']] as const) {
    const v = num(k);
    if (v !== null && v > 0) out.rates.push({ label, linesPerSec: v });
  }
  out.rateUnit = 'map updates/s';
  out.notes.push(`Run by bench/xdp.ts runXdpBench() (its own design): ${r.banned} banned addresses, a ${r.rate} packets/s ` +
    `flood for ${r.seconds} s per phase between two namespaces; CPU per drop is NET_RX softirq time (exact, ` +
    'BPF-timed softirq_entry/exit) over dropped packets, net of the idle rate measured in the same run.');
  if (smoke) out.notes.push('Smoke sizes: a short, slow flood; the ratios mean little.');
  return out;
}

export const xdpScenario: Scenario = {
  id: 'xdp',
  title: 'XDP vs nftables: CPU per dropped packet, map update rate (bench/xdp.ts)',
  async run(ctx) {
    const skip = kernelSkipReason();
    if (skip) throw new SkipScenario(skip);
    if (!hasProgram('bpftool')) throw new SkipScenario('needs bpftool');
    let mod: typeof import('../xdp.js');
    try {
      mod = await import('../xdp.js');
    } catch (e) {
      throw new SkipScenario(`bench/xdp.ts cannot load: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      const r = await mod.runXdpBench(ctx.smoke
        ? { banned: 1000, rate: 50_000, seconds: 1, rounds: 1, log: ctx.log }
        : { banned: 100_000, rounds: 1, log: ctx.log });
      return toOutcome(r, ctx.smoke);
    } catch (e) {
      // an unbuilt native part is a missing prerequisite, like a missing nft: say how to build it
      const msg = e instanceof Error ? e.message : String(e);
      if (/not built/i.test(msg)) throw new SkipScenario(msg);
      throw e;
    }
  },
};
