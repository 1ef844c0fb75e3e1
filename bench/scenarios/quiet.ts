// c. A quiet web server: 1 line in 100 an attack, five jails reading the same file.
import path from 'node:path';
import { addressList, BENCH_NET, BENCH_NET_SIZE, LARGE_NET, LARGE_NET_SIZE } from '../generate/addresses.js';
import { generateApacheLog } from '../generate/apache.js';
import type { Scenario } from '../scenario.js';
import { QUIET_JAILS } from './filters.js';
import { runThroughput } from './log-throughput.js';

const MAXRETRY = 3;

export const quietScenario: Scenario = {
  id: 'c',
  title: 'quiet web server (1 in 100 an attack), five jails on one file',
  async run(ctx) {
    const file = path.join(ctx.tmpDir, 'access.log');
    const perKind = ctx.smoke ? 10 : 200;
    ctx.log(`generating ${ctx.lines} lines`);
    const log = generateApacheLog({
      file, lines: ctx.lines, seed: 0xc0ffee, endTime: ctx.endTime, spanSeconds: 300,
      attacks: QUIET_JAILS.map((j, i) => ({
        kind: j.kind, share: 1 / 100 / QUIET_JAILS.length,
        addresses: addressList(BENCH_NET, BENCH_NET_SIZE, perKind, i * perKind),
      })),
      clients: addressList(LARGE_NET, LARGE_NET_SIZE, 50_000),
    });
    const expected = Object.fromEntries(QUIET_JAILS.map((j) => {
      const a = log.attacks[j.kind]!;
      return [j.jail, { matches: a.lines, bans: a.addressesWithAtLeast(MAXRETRY) }];
    }));
    const total = Object.values(expected).reduce((n, e) => n + e.matches, 0);
    const out = await runThroughput(ctx, {
      file, lines: log.lines, bytes: log.bytes,
      jails: QUIET_JAILS.map((j) => ({ name: j.jail, filter: j.filter.name, maxretry: MAXRETRY, bantime: 3600, findtime: 600, port: 'http,https' })),
      filters: QUIET_JAILS.map((j) => j.filter),
      expected: { matches: total, jails: expected },
      peerTargets: false,
      minLinesPerSec: 8e6,
    });
    out.notes.push('lines/s counts each line of the file once, although five jails look at it.');
    return out;
  },
};
