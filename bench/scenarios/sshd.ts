// b. An sshd auth log, about a third failures, through the bundled `sshd` filter.
import path from 'node:path';
import { addressList, BENCH_NET, BENCH_NET_SIZE, LARGE_NET, LARGE_NET_SIZE } from '../generate/addresses.js';
import { generateSshdLog } from '../generate/sshd.js';
import { IPV4_ERE } from '../peers/grep.js';
import { bundledFilters } from '../paths.js';
import type { Scenario } from '../scenario.js';
import { runThroughput } from './log-throughput.js';

/** The failure lines the generator writes, as one ERE: what grep must find to do sshd's job. */
const SSHD_FAILURES_ERE = `sshd\\[[0-9]+\\]: (Failed password for (invalid user )?[^ ]+ from ${IPV4_ERE} port [0-9]+ ssh2` +
  `|Invalid user [^ ]+ from ${IPV4_ERE} port [0-9]+` +
  `|Connection closed by authenticating user [^ ]+ ${IPV4_ERE} port [0-9]+ \\[preauth\\])$`;

export const sshdScenario: Scenario = {
  id: 'b',
  title: 'sshd auth log (about 1 in 3 a failure), bundled sshd filter',
  async run(ctx) {
    const file = path.join(ctx.tmpDir, 'auth.log');
    ctx.log(`generating ${ctx.lines} lines`);
    const log = generateSshdLog({
      file, lines: ctx.lines, seed: 0x55d, endTime: ctx.endTime, spanSeconds: 300, failureShare: 1 / 3,
      attackers: addressList(BENCH_NET, BENCH_NET_SIZE, ctx.smoke ? 40 : 5000),
      users: addressList(LARGE_NET, LARGE_NET_SIZE, 200),
    });
    const out = await runThroughput(ctx, {
      file, lines: log.lines, bytes: log.bytes,
      jails: [{ name: 'sshd', filter: 'sshd', maxretry: 5, bantime: 600, findtime: 600, port: 'ssh' }],
      copyFiltersFrom: bundledFilters,
      grepEre: SSHD_FAILURES_ERE,
      peerTargets: true,
    });
    for (const [kind, n] of Object.entries(log.kinds)) out.metrics[`generated_${kind}`] = n;
    out.notes.push('grep cannot run the sshd filter (named groups, look-arounds, conditionals): it runs one ERE ' +
      'matching the failure lines the generator writes, the same scanning work. The match count check is ' +
      'against fail2ban-regex running the same filter file. grep also counts "Connection closed by authenticating ' +
      'user" lines, which the sshd filter in its default mode (normal) matches as NOFAIL, so grep_count is higher than ' +
      'logban_matches by design.');
    return out;
  },
};
