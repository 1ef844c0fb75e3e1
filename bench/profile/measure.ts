// Times `logban replay` on the inputs written by make-inputs.js: per scenario, the median of
// N runs of replay's own seconds, the process's wall and CPU time (user+sys, children
// included, from GNU time) and peak RSS, next to `LC_ALL=C grep -cE` on the same file.
// CPU time is the number to trust on a shared machine; wall time shows waiting.
//
//   node dist/bench/profile/measure.js DIR [--scenarios a,b,c,f] [--runs 5] [--cli bin/logban.js] [--grep]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cliNodeFlags, cliPath } from '../paths.js';

interface Sample {
  replaySeconds: number;
  wall: number;
  cpu: number;
  rssMb: number;
  lines: number;
  matches: number;
  bans: number;
  jails: Record<string, { matches: number; bans: number }>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs argv under GNU time; returns its stdout and the %e %U %S %M figures. */
function timed(argv: string[], env?: NodeJS.ProcessEnv): { stdout: string; wall: number; cpu: number; rssKb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...argv], { encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 << 20 });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`${argv.join(' ')} failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return { stdout: r.stdout, wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssKb: Number(m[4]) };
}

function replayOnce(cli: string, configDir: string): Sample {
  const t = timed([process.execPath, ...cliNodeFlags, cli, 'replay', '--config-dir', configDir, '--backend', 'dry-run', '--json']);
  const line = t.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON summary from replay: ${t.stdout.slice(-500)}`);
  const s = JSON.parse(line) as { lines: number; matches: number; bans: number; seconds: number; jails: Sample['jails'] };
  return { replaySeconds: s.seconds, wall: t.wall, cpu: t.cpu, rssMb: t.rssKb / 1024, lines: s.lines, matches: s.matches, bans: s.bans, jails: s.jails };
}

function main(argv: string[]): void {
  const dir = argv[0];
  if (!dir) throw new Error('usage: measure.js DIR [--scenarios a,b,c,f] [--runs N] [--cli PATH] [--grep]');
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const scenarios = (opt('--scenarios') ?? 'a,b,c,f').split(',');
  const runs = Number(opt('--runs') ?? 5);
  const cli = path.resolve(opt('--cli') ?? cliPath);
  const withGrep = argv.includes('--grep');
  for (const id of scenarios) {
    const d = path.join(dir, id);
    const expected = JSON.parse(fs.readFileSync(path.join(d, 'expected.json'), 'utf8')) as { file: string; lines: number; grepEre?: string };
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) samples.push(replayOnce(cli, path.join(d, 'config')));
    const first = samples[0]!;
    for (const s of samples) {
      if (s.matches !== first.matches || s.bans !== first.bans) throw new Error(`${id}: counts differ between runs`);
    }
    const rs = median(samples.map((s) => s.replaySeconds));
    const cpu = median(samples.map((s) => s.cpu));
    const row: Record<string, unknown> = {
      scenario: id, runs, lines: first.lines, matches: first.matches, bans: first.bans,
      replay_s: +rs.toFixed(3), wall_s: +median(samples.map((s) => s.wall)).toFixed(3), cpu_s: +cpu.toFixed(3),
      lines_per_s: Math.round(expected.lines / rs), lines_per_cpu_s: Math.round(expected.lines / cpu),
      peak_rss_mb: +median(samples.map((s) => s.rssMb)).toFixed(1),
      replay_s_all: samples.map((s) => s.replaySeconds), cpu_s_all: samples.map((s) => s.cpu),
    };
    if (Object.keys(first.jails).length > 1) row.jails = first.jails;
    if (withGrep && expected.grepEre) {
      const g: Array<{ wall: number; cpu: number; count: number }> = [];
      for (let i = 0; i < runs; i++) {
        const t = timed(['grep', '-cE', '--', expected.grepEre, expected.file], { ...process.env, LC_ALL: 'C' });
        g.push({ wall: t.wall, cpu: t.cpu, count: Number(t.stdout.trim()) });
      }
      const gw = median(g.map((x) => x.wall));
      const gc = median(g.map((x) => x.cpu));
      Object.assign(row, {
        grep_count: g[0]!.count, grep_wall_s: gw, grep_cpu_s: gc,
        grep_lines_per_s: Math.round(expected.lines / Math.max(gw, 0.01)),
        ratio_to_grep_wall: +(gw / rs).toFixed(3), ratio_to_grep_cpu: +(gc / cpu).toFixed(3),
      });
    }
    process.stdout.write(JSON.stringify(row) + '\n');
  }
}

main(process.argv.slice(2));
