// Scenario d's measuring half, run INSIDE the bench's network namespace
// (`ip netns exec NS node dist/bench/ns-ban-apply.js --bans N --per-process M`) so that
// logban's backend and plain nft both run exactly as they would on a server, without
// `ip netns exec` in front of every nft process. Prints one JSON object.
import { availableParallelism } from 'node:os';
import { NftBackend } from '../src/backends/nftables.js';
import type { BanChange } from '../src/types.js';
import { addressList, BENCH_NET, BENCH_NET_SIZE } from './generate/addresses.js';
import { addAllJson, addAllText, addAllTextParallel, addEachProcess, allPresent, createTimeoutSet, nftOrThrow, sample } from './nft-raw.js';

export interface BanApplyReport {
  bans: number;
  timeout: number;
  backend: { seconds: number; set: string; table: string; verified: boolean };
  rawText: { seconds: number; verified: boolean };
  /** the same elements split over one nft per core, all started at once */
  rawTextParallel: { processes: number; seconds: number; verified: boolean };
  /** the same transaction with `expires` on every element, as the backend sends re-bans */
  rawTextRefresh: { seconds: number; verified: boolean };
  rawJson: { seconds: number; verified: boolean };
  perProcess: { count: number; seconds: number; verified: boolean };
}

const JAIL = 'bench';
const TIMEOUT = 240000;

interface NftListing {
  nftables: Array<{ set?: { family: string; table: string; name: string; type: string; flags?: string[] } }>;
}

/** The ipv4 set the backend made for the bench's jail (read while still empty: cheap). */
function findJailSet(): { table: string; set: string } {
  const listing = JSON.parse(nftOrThrow(['-j', 'list', 'ruleset']).stdout) as NftListing;
  for (const item of listing.nftables) {
    const s = item.set;
    if (s && s.type === 'ipv4_addr' && s.name.includes(JAIL) && !(s.flags ?? []).includes('interval')) {
      return { table: s.table, set: s.name };
    }
  }
  throw new Error(`no ipv4 set for jail "${JAIL}" after NftBackend.start()`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const bans = opt('--bans', 100_000);
  const perProcess = opt('--per-process', 300);
  const addrs = addressList(BENCH_NET, BENCH_NET_SIZE, bans);
  const probe = sample(addrs, 200);

  // logban's backend, as the daemon drives it: start() then one apply() of every change
  const backend = new NftBackend({ table: 'logban', chainPriority: -10, log: () => undefined });
  await backend.start([{ name: JAIL, ports: null, protocol: 'tcp' }]);
  const where = findJailSet();
  const changes: BanChange[] = addrs.map((addr) => ({ op: 'ban', jail: JAIL, addr, family: 4, timeout: TIMEOUT }));
  const t0 = process.hrtime.bigint();
  await backend.apply(changes);
  const backendSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const backendVerified = allPresent(where.table, where.set, probe);
  await backend.stop(false);

  createTimeoutSet('benchraw', 'text');
  createTimeoutSet('benchraw', 'refresh');
  createTimeoutSet('benchraw', 'json');
  createTimeoutSet('benchraw', 'each');
  createTimeoutSet('benchraw', 'parallel');
  const text = addAllText('benchraw', 'text', addrs, TIMEOUT);
  const refresh = addAllText('benchraw', 'refresh', addrs, TIMEOUT, true);
  const processes = Math.min(4, availableParallelism());
  const parallel = await addAllTextParallel('benchraw', 'parallel', addrs, TIMEOUT, processes);
  const json = addAllJson('benchraw', 'json', addrs, TIMEOUT);
  const each = addEachProcess('benchraw', 'each', addrs.slice(0, perProcess), TIMEOUT);

  const report: BanApplyReport = {
    bans, timeout: TIMEOUT,
    backend: { seconds: backendSeconds, ...where, verified: backendVerified },
    rawText: { seconds: text.seconds, verified: allPresent('benchraw', 'text', probe) },
    rawTextParallel: { processes, seconds: parallel.seconds, verified: allPresent('benchraw', 'parallel', probe) },
    rawTextRefresh: { seconds: refresh.seconds, verified: allPresent('benchraw', 'refresh', probe) },
    rawJson: { seconds: json.seconds, verified: allPresent('benchraw', 'json', probe) },
    perProcess: { count: Math.min(perProcess, bans), seconds: each.seconds,
      verified: allPresent('benchraw', 'each', sample(addrs.slice(0, perProcess), 50)) },
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
