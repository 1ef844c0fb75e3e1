// Connection-tied filters (sshd) matched chunk by chunk in parallel, with the <F-MLFID> step
// deferred to DeferredMerger in file order, must give exactly the events of matching the chunks
// one after the other with the connection cache passed along.
import t from 'tap';
import { compileFilter, type CompiledFilter } from '../../src/match/compile.js';
import { canDeferMerge, CompiledGroup, type MatchState } from '../../src/match/chunk.js';
import { DeferredMerger } from '../../src/match/merge.js';
import { fromWire } from '../../src/match/wire.js';
import { loadFilter } from '../../src/config/load.js';
import { bundledConfig } from '../helpers/paths.js';
import { filterDef } from './filter-def.js';
import type { MatchEvent } from '../../src/types.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Interleaved sshd connections: failures, key probes, successes after failures, disconnects. */
function sshdLog(connections: number, seed: number): string[] {
  const rnd = prng(seed);
  const scripts: string[][] = [];
  for (let c = 0; c < connections; c++) {
    const ip = `198.18.${c % 50}.${1 + (c % 200)}`;
    const port = 30000 + c;
    // a control character inside a capture takes the merger's other road (DeferredWire.odd)
    const user = ['root', 'admin', 'deploy', 'x from 198.19.0.1', 'ro\u0001ot', 'ünï😀'][(c >> 1) % 6];
    const steps: string[] = [`Connection from ${ip} port ${port} on 198.18.255.1 port 22 rdomain ""`];
    const kind = c % 5;
    if (kind === 0 || kind === 1) for (let i = 0; i < 1 + (c % 3); i++) steps.push(`Failed password for ${user} from ${ip} port ${port} ssh2`);
    if (kind === 1) steps.push(`Accepted password for ${user} from ${ip} port ${port} ssh2`);
    if (kind === 2) steps.push(`Failed publickey for ${user} from ${ip} port ${port} ssh2: RSA SHA256:abcdef`);
    if (kind === 3) steps.push(`Invalid user ${user} from ${ip} port ${port}`);
    steps.push(kind === 4 ? `Connection closed by ${ip} port ${port} [preauth]` : `Disconnected from authenticating user ${user} ${ip} port ${port} [preauth]`);
    scripts.push(steps.map((s) => `sshd[${10000 + c}]: ${s}`));
  }
  // interleave: pick a random open connection for each next line
  const out: string[] = [];
  const open = scripts.map((s) => ({ s, i: 0 }));
  let sec = 0;
  while (open.length) {
    const k = Math.floor(rnd() * Math.min(open.length, 40));
    const o = open[k];
    sec += rnd() < 0.3 ? 1 : 0;
    const hh = String(10 + Math.floor(sec / 3600)).padStart(2, '0');
    const mm = String(Math.floor(sec / 60) % 60).padStart(2, '0');
    const ss = String(sec % 60).padStart(2, '0');
    out.push(`Nov 18 ${hh}:${mm}:${ss} web1 ${o.s[o.i++]}`);
    if (o.i === o.s.length) open.splice(k, 1);
  }
  return out;
}

function chunks(lines: string[], perChunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < lines.length; i += perChunk) out.push(Buffer.from(lines.slice(i, i + perChunk).join('\n') + '\n'));
  return out;
}

const ARRIVAL = Date.UTC(2026, 10, 18, 12, 0, 0) / 1000;

t.test('deferred connection merging gives the events of sequential matching', async (t) => {
  const all = [
    compileFilter(loadFilter(bundledConfig, 'sshd')),
    compileFilter(loadFilter(bundledConfig, 'sshd', { mode: 'aggressive', publickey: 'invalid' })),
    compileFilter(filterDef('Failed password for \\S+ from <HOST>', { usedns: 'no' })),
  ];
  t.ok(canDeferMerge(all[0]) && canDeferMerge(all[1]), 'sshd is connection-tied and batched');
  t.notOk(canDeferMerge(all[2]), 'a stateless filter is not deferred');
  const lines = sshdLog(3000, 7);
  // two connection-tied jails on one log (their records are sorted by line on the main thread),
  // and one alone (its records come in line order)
  const cases: Array<[CompiledFilter[], number]> = [[all, 17], [all, 256], [all, 5000], [[all[0]], 17], [[all[0]], 5000]];
  for (const [filters, per] of cases) {
    const seqGroup = new CompiledGroup(filters);
    const sequential: MatchEvent[] = [];
    let state: MatchState | undefined;
    const seqMatches = filters.map(() => 0);
    for (const c of chunks(lines, per)) {
      const r = seqGroup.process(c, ARRIVAL, state, { maxLineLength: 65536 });
      state = r.state;
      sequential.push(...r.events);
      r.matchesPerJail.forEach((m, i) => (seqMatches[i] += m));
    }
    const parGroup = new CompiledGroup(filters);
    const merger = new DeferredMerger(filters);
    const deferred: MatchEvent[] = [];
    const parMatches = filters.map(() => 0);
    let statesSent = 0;
    for (const c of chunks(lines, per)) {
      const w = parGroup.processToWire(c, ARRIVAL, undefined, { maxLineLength: 65536, deferMerge: true });
      if (w.state !== undefined) statesSent++;
      const r = fromWire(w);
      merger.complete(r);
      deferred.push(...r.events);
      r.matchesPerJail.forEach((m, i) => (parMatches[i] += m));
    }
    t.equal(statesSent, 0, 'no state travels between chunks');
    t.ok(sequential.length > 1000, `${filters.length} jail(s), ${per} lines per chunk: ${sequential.length} events`);
    // compared as text: a deep diff of thousands of objects is slow to print
    const firstDiff = sequential.findIndex((e, i) => JSON.stringify(e) !== JSON.stringify(deferred[i]));
    t.equal(deferred.length, sequential.length, `${per} lines per chunk: as many events`);
    t.equal(firstDiff, -1, `${per} lines per chunk: same events in the same order` +
      (firstDiff >= 0 ? ` (first difference at ${firstDiff}: ${JSON.stringify(sequential[firstDiff])} vs ${JSON.stringify(deferred[firstDiff])})` : ''));
    t.same(parMatches, seqMatches, `${per} lines per chunk: same match counts`);
    if (per === 17 && filters.length > 1) {
      // the test means something: forgetting connections at chunk boundaries changes events
      const forgetful: MatchEvent[] = [];
      for (const c of chunks(lines, per)) {
        const r = fromWire(parGroup.processToWire(c, ARRIVAL, undefined, { maxLineLength: 65536, deferMerge: true }));
        new DeferredMerger(filters).complete(r);
        forgetful.push(...r.events);
      }
      t.not(JSON.stringify(forgetful), JSON.stringify(sequential), 'connections straddle chunks');
    }
  }
});
