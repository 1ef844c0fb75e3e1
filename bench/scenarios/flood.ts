// a. The seed's story: an xmlrpc.php flood in an Apache access log.
import path from 'node:path';
import { addressList, BENCH_NET, BENCH_NET_SIZE, LARGE_NET, LARGE_NET_SIZE } from '../generate/addresses.js';
import { generateApacheLog } from '../generate/apache.js';
import { failregexToEre } from '../peers/grep.js';
import type { Scenario } from '../scenario.js';
import { XMLRPC } from './filters.js';
import { runThroughput } from './log-throughput.js';

const MAXRETRY = 3;

export const floodScenario: Scenario = {
  id: 'a',
  title: 'xmlrpc.php flood (Apache access log, 1 in 7 an attack from 10,000 addresses)',
  async run(ctx) {
    const file = path.join(ctx.tmpDir, 'access.log');
    ctx.log(`generating ${ctx.lines} lines`);
    const log = generateApacheLog({
      file, lines: ctx.lines, seed: 0xa11ce, endTime: ctx.endTime, spanSeconds: 300,
      attacks: [{ kind: 'xmlrpc', share: 1 / 7, addresses: addressList(BENCH_NET, BENCH_NET_SIZE, ctx.smoke ? 50 : 10_000) }],
      clients: addressList(LARGE_NET, LARGE_NET_SIZE, 50_000),
    });
    const xmlrpc = log.attacks.xmlrpc!;
    return runThroughput(ctx, {
      file, lines: log.lines, bytes: log.bytes,
      jails: [{ name: 'apache-xmlrpc', filter: XMLRPC.name, maxretry: MAXRETRY, bantime: 240000, findtime: 600, port: 'http,https' }],
      filters: [XMLRPC],
      grepEre: failregexToEre(XMLRPC.failregex[0]!),
      expected: { matches: xmlrpc.lines, bans: xmlrpc.addressesWithAtLeast(MAXRETRY) },
      peerTargets: true,
    });
  },
};
