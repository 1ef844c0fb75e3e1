// The shared shape of the log scenarios (a, b, c): replay a generated log through logban, scan
// it with grep, run fail2ban-regex on a prefix, and compare counts and rates within this run.
import fs from 'node:fs';
import path from 'node:path';
import { writeConfigDir, type BenchFilter, type BenchJail } from '../config-dir.js';
import { writePrefix } from '../generate/line-writer.js';
import { bestReplay, replay } from '../logban-cli.js';
import { fail2banRegex, fail2banRegexAvailable } from '../peers/fail2ban-regex.js';
import { grepAvailable, grepCount } from '../peers/grep.js';
import { check, emptyOutcome, target, type BenchContext, type ScenarioOutcome } from '../scenario.js';

export interface ThroughputSpec {
  file: string;
  lines: number;
  bytes: number;
  /** jails without logpath: every one reads `file` */
  jails: ReadonlyArray<Omit<BenchJail, 'logpath'>>;
  filters?: readonly BenchFilter[];
  copyFiltersFrom?: string;
  /** ERE equivalent of the (single) filter, for grep; explain in a note when approximate */
  grepEre?: string;
  /** ground truth from the generator */
  expected?: { matches?: number; bans?: number; jails?: Record<string, { matches?: number; bans?: number }> };
  /** compare with grep and fail2ban-regex (a, b) or only report the engine's rate (c) */
  peerTargets: boolean;
  /** lines/s goal for the engine, when the scenario has one (c) */
  minLinesPerSec?: number;
}

export function prefixLines(ctx: BenchContext): number {
  return Math.min(ctx.lines, ctx.smoke ? 1000 : 20_000);
}

const fmtRate = (n: number): string => `${(n / 1e6).toFixed(2)}M lines/s`;

export async function runThroughput(ctx: BenchContext, spec: ThroughputSpec): Promise<ScenarioOutcome> {
  const out = emptyOutcome();
  const m = out.metrics;
  m.lines = spec.lines;
  m.bytes = spec.bytes;
  const configDir = writeConfigDir(path.join(ctx.tmpDir, 'config'), {
    jails: spec.jails.map((j) => ({ ...j, logpath: spec.file })),
    filters: spec.filters, copyFiltersFrom: spec.copyFiltersFrom,
  });

  ctx.log(`replay of ${spec.lines} lines (best of ${ctx.repeat})`);
  const full = await bestReplay({ configDir, workDir: ctx.tmpDir }, ctx.repeat);
  const s = full.summary;
  const rate = spec.lines / s.seconds;
  Object.assign(m, {
    logban_lines: s.lines, logban_matches: s.matches, logban_bans: s.bans,
    logban_seconds: s.seconds, logban_wall_seconds: full.wallSeconds,
    logban_lines_per_sec: rate, logban_wall_lines_per_sec: spec.lines / full.wallSeconds,
  });
  for (const [name, j] of Object.entries(s.jails)) {
    m[`jail_${name}_matches`] = j.matches;
    m[`jail_${name}_bans`] = j.bans;
  }
  out.rates.push({ label: 'logban replay', linesPerSec: rate });
  out.notes.push(`logban lines/s = generated lines / replay's own "seconds" (best of ${ctx.repeat}); ` +
    `the whole process incl. Node start-up took ${full.wallSeconds.toFixed(2)} s ` +
    `(${fmtRate(spec.lines / full.wallSeconds)}).`);

  out.checks.push(check('replay lines = generated lines', spec.lines, s.lines));
  if (spec.expected?.matches !== undefined) out.checks.push(check('replay matches = generated attack lines', spec.expected.matches, s.matches));
  if (spec.expected?.bans !== undefined) out.checks.push(check('replay bans = attackers reaching maxretry', spec.expected.bans, s.bans));
  for (const [name, e] of Object.entries(spec.expected?.jails ?? {})) {
    const j = s.jails[name];
    if (e.matches !== undefined) out.checks.push(check(`${name}: matches = generated lines`, e.matches, j?.matches ?? -1));
    if (e.bans !== undefined) out.checks.push(check(`${name}: bans = attackers reaching maxretry`, e.bans, j?.bans ?? -1));
  }

  let grepRate: number | null = null;
  if (spec.grepEre && grepAvailable()) {
    ctx.log('grep -cE');
    const g = await grepCount(spec.file, spec.grepEre, spec.lines, ctx.repeat);
    grepRate = g.linesPerSec;
    Object.assign(m, { grep_count: g.count, grep_seconds: g.seconds, grep_lines_per_sec: g.linesPerSec,
      ratio_logban_to_grep: rate / g.linesPerSec });
    out.rates.push({ label: 'GNU grep -cE', linesPerSec: g.linesPerSec });
    out.notes.push(`grep: LC_ALL=C grep -cE '${spec.grepEre}' (best of ${ctx.repeat}), counted ${g.count} lines.`);
  }

  let f2bRate: number | null = null;
  if (fail2banRegexAvailable()) {
    const n = prefixLines(ctx);
    const prefixFile = path.join(ctx.tmpDir, 'prefix.log');
    writePrefix(spec.file, prefixFile, n);
    const prefixConfig = writeConfigDir(path.join(ctx.tmpDir, 'config-prefix'), {
      jails: spec.jails.map((j) => ({ ...j, logpath: prefixFile })),
      filters: spec.filters, copyFiltersFrom: spec.copyFiltersFrom,
    });
    ctx.log(`replay and fail2ban-regex on the first ${n} lines`);
    const pr = (await replay({ configDir: prefixConfig, workDir: ctx.tmpDir })).summary;
    m.prefix_lines = n;
    let slowest = Infinity;
    for (const jail of spec.jails) {
      const filterName = jail.filter.replace(/\[.*$/, '');
      const f = await fail2banRegex(prefixFile, path.join(prefixConfig, 'filter.d', `${filterName}.conf`));
      const ours = spec.jails.length === 1 ? pr.matches : pr.jails[jail.name]?.matches ?? -1;
      const key = spec.jails.length === 1 ? '' : `${jail.name}_`;
      Object.assign(m, {
        [`f2b_${key}matched`]: f.matched, [`replay_prefix_${key}matches`]: ours,
        [`f2b_${key}processed_seconds`]: f.processedSeconds, [`f2b_${key}wall_seconds`]: f.wallSeconds,
        [`f2b_${key}lines_per_sec`]: f.linesPerSec,
      });
      out.checks.push(check(`${jail.name}: replay matches = fail2ban-regex matched (first ${n} lines)`, f.matched, ours));
      slowest = Math.min(slowest, f.linesPerSec);
    }
    f2bRate = slowest;
    if (spec.jails.length === 1) {
      m.ratio_logban_to_f2b = rate / f2bRate;
      out.rates.push({ label: 'fail2ban-regex (prefix)', linesPerSec: f2bRate });
    }
    out.notes.push(`fail2ban-regex ran on the first ${n} lines only; its lines/s is extrapolated from that prefix ` +
      `using its own "[processed in X sec]" (matching time without Python start-up, which favours it).`);
  } else {
    out.notes.push('fail2ban-regex is not installed: no reference count and no ratio.');
  }

  if (spec.peerTargets) {
    out.targets.push(target('logban / grep', grepRate === null ? null : rate / grepRate, 'x', '>= 0.5', (v) => v >= 0.5));
    out.targets.push(target('logban / fail2ban-regex', f2bRate === null ? null : rate / f2bRate, 'x', '>= 1000', (v) => v >= 1000));
  }
  if (spec.minLinesPerSec !== undefined) {
    out.targets.push(target('logban lines/s', rate, 'lines/s', `>= ${spec.minLinesPerSec / 1e6}M`, (v) => v >= spec.minLinesPerSec!));
  }
  fs.rmSync(path.join(ctx.tmpDir, 'prefix.log'), { force: true });
  return out;
}
