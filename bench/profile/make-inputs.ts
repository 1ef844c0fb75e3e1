// Writes the inputs of the throughput and memory scenarios (a, b, c, f) once, into a directory
// that stays, so `logban replay` can be timed and profiled again and again on the same bytes
// while the matcher and pipeline are tuned. Same generators, seeds and filters as the bench
// scenarios; the end time is fixed so two runs write identical files.
//
//   node dist/bench/profile/make-inputs.js DIR [--lines N]
//
// DIR/<a|b|c|f>/config is a config dir for `logban replay --config-dir`; DIR/<x>/expected.json
// holds the generator's ground truth (and the grep ERE for a and b).
import fs from 'node:fs';
import path from 'node:path';
import { addressList, BENCH_NET, BENCH_NET_SIZE, LARGE_NET, LARGE_NET_SIZE } from '../generate/addresses.js';
import { generateApacheLog } from '../generate/apache.js';
import { generateSshdLog } from '../generate/sshd.js';
import { writeConfigDir } from '../config-dir.js';
import { failregexToEre, IPV4_ERE } from '../peers/grep.js';
import { bundledFilters } from '../paths.js';
import { QUIET_JAILS, XMLRPC } from '../scenarios/filters.js';

const END_TIME = 1_795_000_000;

const SSHD_FAILURES_ERE = `sshd\\[[0-9]+\\]: (Failed password for (invalid user )?[^ ]+ from ${IPV4_ERE} port [0-9]+ ssh2` +
  `|Invalid user [^ ]+ from ${IPV4_ERE} port [0-9]+` +
  `|Connection closed by authenticating user [^ ]+ ${IPV4_ERE} port [0-9]+ \\[preauth\\])$`;

function main(argv: string[]): void {
  const dir = argv[0];
  if (!dir) throw new Error('usage: make-inputs.js DIR [--lines N]');
  const li = argv.indexOf('--lines');
  const lines = li >= 0 ? Number(argv[li + 1]) : 1_000_000;
  const sub = (s: string): string => {
    const d = path.join(dir, s);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };
  const save = (d: string, v: unknown): void => fs.writeFileSync(path.join(d, 'expected.json'), JSON.stringify(v, null, 2) + '\n');

  // a. seed flood
  {
    const d = sub('a');
    const file = path.join(d, 'access.log');
    const log = generateApacheLog({
      file, lines, seed: 0xa11ce, endTime: END_TIME, spanSeconds: 300,
      attacks: [{ kind: 'xmlrpc', share: 1 / 7, addresses: addressList(BENCH_NET, BENCH_NET_SIZE, 10_000) }],
      clients: addressList(LARGE_NET, LARGE_NET_SIZE, 50_000),
    });
    writeConfigDir(path.join(d, 'config'), {
      jails: [{ name: 'apache-xmlrpc', filter: XMLRPC.name, logpath: file, maxretry: 3, bantime: 240000, findtime: 600, port: 'http,https' }],
      filters: [XMLRPC],
    });
    const x = log.attacks.xmlrpc!;
    save(d, { file, lines: log.lines, bytes: log.bytes, matches: x.lines, bans: x.addressesWithAtLeast(3), grepEre: failregexToEre(XMLRPC.failregex[0]!) });
  }
  // b. sshd auth log with the bundled filter
  {
    const d = sub('b');
    const file = path.join(d, 'auth.log');
    const log = generateSshdLog({
      file, lines, seed: 0x55d, endTime: END_TIME, spanSeconds: 300, failureShare: 1 / 3,
      attackers: addressList(BENCH_NET, BENCH_NET_SIZE, 5000),
      users: addressList(LARGE_NET, LARGE_NET_SIZE, 200),
    });
    writeConfigDir(path.join(d, 'config'), {
      jails: [{ name: 'sshd', filter: 'sshd', logpath: file, maxretry: 5, bantime: 600, findtime: 600, port: 'ssh' }],
      copyFiltersFrom: bundledFilters,
    });
    save(d, { file, lines: log.lines, bytes: log.bytes, kinds: log.kinds, grepEre: SSHD_FAILURES_ERE });
  }
  // c. quiet server, five jails on one file
  {
    const d = sub('c');
    const file = path.join(d, 'access.log');
    const jails = QUIET_JAILS;
    const log = generateApacheLog({
      file, lines, seed: 0xc0ffee, endTime: END_TIME, spanSeconds: 300,
      attacks: jails.map((j, i) => ({ kind: j.kind, share: 1 / 100 / jails.length, addresses: addressList(BENCH_NET, BENCH_NET_SIZE, 200, i * 200) })),
      clients: addressList(LARGE_NET, LARGE_NET_SIZE, 50_000),
    });
    writeConfigDir(path.join(d, 'config'), {
      jails: jails.map((j) => ({ name: j.jail, filter: j.filter.name, logpath: file, maxretry: 3, bantime: 3600, findtime: 600, port: 'http,https' })),
      filters: jails.map((j) => j.filter),
    });
    save(d, {
      file, lines: log.lines, bytes: log.bytes,
      jails: Object.fromEntries(jails.map((j) => [j.jail, { matches: log.attacks[j.kind]!.lines, bans: log.attacks[j.kind]!.addressesWithAtLeast(3) }])),
    });
  }
  // f. a million distinct failing addresses, nobody banned
  {
    const d = sub('f');
    const file = path.join(d, 'distinct.log');
    const log = generateApacheLog({
      file, lines, seed: 0xf00d, endTime: END_TIME, spanSeconds: 300,
      attacks: [{ kind: 'xmlrpc', share: 1, addresses: addressList(LARGE_NET, LARGE_NET_SIZE, lines), order: 'cycle' }],
      clients: addressList(LARGE_NET, LARGE_NET_SIZE, 1),
    });
    writeConfigDir(path.join(d, 'config'), {
      jails: [{ name: 'apache-xmlrpc', filter: XMLRPC.name, logpath: file, maxretry: 1_000_000, bantime: 240000, findtime: 600 }],
      filters: [XMLRPC], settings: { max_tracked_addresses: String(Math.max(lines, 1_000_000)) },
    });
    save(d, { file, lines: log.lines, bytes: log.bytes, matches: log.attacks.xmlrpc!.lines, bans: 0 });
  }
}

main(process.argv.slice(2));
