// Runs `logban replay` as a user would and reads its JSON summary.
import { cliNodeFlags, cliPath } from './paths.js';
import { failureText, run } from './proc.js';

export interface ReplayCounts {
  lines: number;
  matches: number;
  bans: number;
}

export interface ReplaySummary extends ReplayCounts {
  seconds: number;
  jails: Record<string, ReplayCounts>;
  /** peak RSS in bytes as replay reports it (`peakRssBytes`, from process.resourceUsage().maxRSS) */
  maxRssBytes?: number;
}

export interface ReplayRun {
  summary: ReplaySummary;
  /** wall-clock seconds of the whole process, Node start-up included */
  wallSeconds: number;
  peakRssBytes?: number;
  rssMethod?: string;
}

export interface ReplayOptions {
  configDir: string;
  /** scratch directory (the replay's working directory) */
  workDir: string;
  backend?: 'dry-run' | 'nftables';
  measureRss?: boolean;
}

function parseSummary(stdout: string): ReplaySummary | undefined {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (!l.startsWith('{')) continue;
    try {
      const v = JSON.parse(l) as Partial<ReplaySummary> & { peakRssBytes?: number };
      if (typeof v.lines === 'number' && typeof v.matches === 'number' && typeof v.seconds === 'number') {
        const rss = v.peakRssBytes;
        return { lines: v.lines, matches: v.matches, bans: v.bans ?? 0, seconds: v.seconds, jails: v.jails ?? {},
          ...(typeof rss === 'number' ? { maxRssBytes: rss } : {}) };
      }
    } catch {
      // not the summary
    }
  }
  // the whole stdout may be one pretty-printed object
  try {
    const v = JSON.parse(stdout) as ReplaySummary;
    if (typeof v.lines === 'number') return v;
  } catch {
    // fall through
  }
  return undefined;
}

export async function replay(opts: ReplayOptions): Promise<ReplayRun> {
  const args = [...cliNodeFlags, cliPath, 'replay', '--config-dir', opts.configDir, '--backend', opts.backend ?? 'dry-run', '--json'];
  // replay keeps no state between runs, so runs are independent; its cwd is the scratch dir
  const r = await run(process.execPath, args, { measureRss: opts.measureRss, timeoutMs: 20 * 60_000, cwd: opts.workDir });
  const summary = r.code === 0 ? parseSummary(r.stdout) : undefined;
  if (!summary) throw new Error(`logban replay --config-dir ${opts.configDir}: ${failureText(r)}`);
  return {
    summary, wallSeconds: r.seconds,
    ...(r.peakRssBytes !== undefined ? { peakRssBytes: r.peakRssBytes, rssMethod: r.rssMethod } : {}),
  };
}

/** Best (fastest by replay's own seconds) of `repeat` runs; counts must agree across runs. */
export async function bestReplay(opts: ReplayOptions, repeat: number): Promise<ReplayRun> {
  let best: ReplayRun | undefined;
  for (let i = 0; i < repeat; i++) {
    const r = await replay(opts);
    if (best && (r.summary.matches !== best.summary.matches || r.summary.bans !== best.summary.bans)) {
      throw new Error(`replay is not deterministic: ${best.summary.matches}/${best.summary.bans} then ` +
        `${r.summary.matches}/${r.summary.bans} matches/bans`);
    }
    if (!best || r.summary.seconds < best.summary.seconds) best = r;
  }
  return best!;
}
