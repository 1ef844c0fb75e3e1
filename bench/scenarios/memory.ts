// f. Peak memory with a million distinct failing addresses, and with a million active bans.
import path from 'node:path';
import { addressList, LARGE_NET, LARGE_NET_SIZE } from '../generate/addresses.js';
import { generateApacheLog } from '../generate/apache.js';
import { writeConfigDir } from '../config-dir.js';
import { replay, type ReplayRun } from '../logban-cli.js';
import { check, emptyOutcome, target, type Scenario } from '../scenario.js';
import { XMLRPC } from './filters.js';

const MB = 1024 * 1024;

function peak(r: ReplayRun): { bytes: number | null; method: string } {
  if (r.summary.maxRssBytes !== undefined) return { bytes: r.summary.maxRssBytes, method: 'replay --json peakRssBytes' };
  if (r.peakRssBytes !== undefined) return { bytes: r.peakRssBytes, method: r.rssMethod ?? '?' };
  return { bytes: null, method: 'unavailable' };
}

export const memoryScenario: Scenario = {
  id: 'f',
  title: 'memory: 1M distinct failing addresses; 1M active bans (dry-run)',
  async run(ctx) {
    const out = emptyOutcome();
    const n = ctx.lines;
    const file = path.join(ctx.tmpDir, 'distinct.log');
    ctx.log(`generating ${n} lines from ${n} distinct addresses`);
    // every line a failure from an address not seen before
    generateApacheLog({
      file, lines: n, seed: 0xf00d, endTime: ctx.endTime, spanSeconds: 300,
      attacks: [{ kind: 'xmlrpc', share: 1, addresses: addressList(LARGE_NET, LARGE_NET_SIZE, n), order: 'cycle' }],
      clients: addressList(LARGE_NET, LARGE_NET_SIZE, 1),
    });
    const emptyLog = path.join(ctx.tmpDir, 'one.log');
    generateApacheLog({
      file: emptyLog, lines: 1, seed: 1, endTime: ctx.endTime, spanSeconds: 1, attacks: [],
      clients: addressList(LARGE_NET, LARGE_NET_SIZE, 1),
    });
    const settings = { max_tracked_addresses: String(Math.max(n, 1_000_000)) };
    const runs: Array<{ key: string; log: string; maxretry: number; expectBans: number }> = [
      { key: 'baseline', log: emptyLog, maxretry: 3, expectBans: 0 },
      { key: 'tracked', log: file, maxretry: 1_000_000, expectBans: 0 },
      { key: 'banned', log: file, maxretry: 1, expectBans: n },
    ];
    let method = '';
    for (const r of runs) {
      const configDir = writeConfigDir(path.join(ctx.tmpDir, `config-${r.key}`), {
        jails: [{ name: 'apache-xmlrpc', filter: XMLRPC.name, logpath: r.log, maxretry: r.maxretry, bantime: 240000, findtime: 600 }],
        filters: [XMLRPC], settings,
      });
      ctx.log(`replay (${r.key})`);
      const res = await replay({ configDir, workDir: ctx.tmpDir, measureRss: true });
      const p = peak(res);
      method = p.method;
      out.metrics[`${r.key}_peak_rss_mb`] = p.bytes === null ? null : p.bytes / MB;
      // the outside reading, as a cross-check of what replay says about itself
      if (res.peakRssBytes !== undefined && res.summary.maxRssBytes !== undefined) {
        out.metrics[`${r.key}_peak_rss_mb_${res.rssMethod === 'time -f %M' ? 'gnu_time' : 'vmhwm'}`] = res.peakRssBytes / MB;
      }
      out.metrics[`${r.key}_matches`] = res.summary.matches;
      out.metrics[`${r.key}_bans`] = res.summary.bans;
      out.metrics[`${r.key}_seconds`] = res.summary.seconds;
      if (r.key !== 'baseline') {
        out.checks.push(check(`${r.key}: matches = distinct failing lines`, n, res.summary.matches));
        out.checks.push(check(`${r.key}: bans`, r.expectBans, res.summary.bans));
      }
    }
    out.metrics.rss_method = method;
    const tracked = out.metrics.tracked_peak_rss_mb as number | null;
    out.targets.push(target(`peak RSS, ${n.toLocaleString('en-US')} tracked addresses`, tracked, 'MB', '<= 300', (v) => v <= 300));
    out.notes.push(`Peak RSS of the whole replay process (main thread and workers) read by ${method}. ` +
      `"banned" uses the dry-run backend: it is the process's memory, not the kernel's ` +
      '(the kernel adds about 100 bytes per nft set element). "baseline" is a one-line log: the fixed cost.');
    out.notes.push(`logban.local sets max_tracked_addresses = ${settings.max_tracked_addresses} so the ceiling does not ` +
      'evict entries before a million are held.');
    return out;
  },
};
