// `npm run bench`: generates the inputs, runs the scenarios with their peers, prints a table and
// writes results.json, report.md and chart.svg to a fresh folder under bench/results/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { removeAllNamespacesSync } from './netns.js';
import { cliPath, repoRoot } from './paths.js';
import { markdownReport } from './report/markdown.js';
import { rateChart } from './report/svg.js';
import { summaryTable } from './report/table.js';
import type { BenchEnvironment, BenchRun } from './report/types.js';
import { SkipScenario, type BenchContext, type Scenario, type ScenarioResult } from './scenario.js';
import { aPlusB } from './scenarios/a-plus-b.js';
import { banApplyScenario } from './scenarios/ban-apply.js';
import { floodScenario } from './scenarios/flood.js';
import { latencyScenario } from './scenarios/latency.js';
import { memoryScenario } from './scenarios/memory.js';
import { quietScenario } from './scenarios/quiet.js';
import { sshdScenario } from './scenarios/sshd.js';
import { xdpScenario } from './scenarios/xdp.js';

export const SCENARIOS: readonly Scenario[] = [floodScenario, sshdScenario, quietScenario, banApplyScenario,
  latencyScenario, memoryScenario, xdpScenario];

const tmpDirs = new Set<string>();

function cleanupSync(): void {
  removeAllNamespacesSync();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  tmpDirs.clear();
}

function toolVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !r.stdout) return 'absent';
  return (r.stdout || r.stderr).split('\n')[0]!.trim();
}

function environment(): BenchEnvironment {
  return {
    node: process.version, kernel: os.release(), cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? '?', memoryGiB: os.totalmem() / 2 ** 30,
    loadAverage: os.loadavg()[0] ?? 0,
    tools: {
      grep: toolVersion('grep', ['--version']),
      nft: toolVersion('nft', ['--version']),
      'fail2ban-regex': toolVersion('fail2ban-regex', ['--version']),
      logban: cliPath,
    },
  };
}

const positiveInt = (v: string): number => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
};

export async function runScenario(s: Scenario, base: Omit<BenchContext, 'tmpDir'>): Promise<ScenarioResult> {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), `logban-bench-${s.id}-`));
  tmpDirs.add(tmpDir);
  const started = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const outcome = await s.run({ ...base, tmpDir, log: (m) => base.log(`[${s.id}] ${m}`) });
    return { id: s.id, title: s.title, status: 'ok', seconds: seconds(), ...outcome };
  } catch (e) {
    const skipped = e instanceof SkipScenario;
    return {
      id: s.id, title: s.title, status: skipped ? 'skipped' : 'error', seconds: seconds(),
      reason: e instanceof Error ? e.message : String(e), metrics: {}, targets: [], checks: [], notes: [], rates: [],
    };
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    tmpDirs.delete(tmpDir);
  }
}

async function main(): Promise<number> {
  const program = new Command('bench')
    .description("logban's benchmark: generated logs through logban, GNU grep and fail2ban-regex; kernel scenarios in a network namespace")
    .option('--scenarios <list>', `comma-separated scenario ids (${SCENARIOS.map((s) => s.id).join(',')})`)
    .option('--lines <n>', 'lines per generated log', positiveInt)
    .option('--repeat <n>', 'timed runs per measurement, the best kept', positiveInt)
    .option('--smoke', 'tiny sizes, to check the harness works (numbers mean nothing)', false)
    .option('--out <dir>', 'where results go', path.join(repoRoot, 'bench', 'results'))
    .showHelpAfterError();
  program.parse(process.argv);
  const o = program.opts<{ scenarios?: string; lines?: number; repeat?: number; smoke: boolean; out: string }>();
  const ids = o.scenarios ? o.scenarios.split(',').map((s) => s.trim()).filter(Boolean) : SCENARIOS.map((s) => s.id);
  const unknown = ids.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length) {
    process.stderr.write(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => `${s.id} (${s.title})`).join('; ')}\n`);
    return 2;
  }
  const lines = o.lines ?? (o.smoke ? 3000 : 1_000_000);
  const repeat = o.repeat ?? (o.smoke ? 1 : 3);
  const startedAt = new Date();
  const env = environment();
  const log = (m: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);
  if (env.loadAverage > env.cpus * 0.5) log(`note: load average ${env.loadAverage.toFixed(2)} on ${env.cpus} CPUs: numbers will be noisy`);

  const results: ScenarioResult[] = [];
  for (const s of SCENARIOS.filter((x) => ids.includes(x.id))) {
    log(`scenario ${s.id}: ${s.title}`);
    const r = await runScenario(s, { lines, smoke: o.smoke, repeat, endTime: Math.floor(Date.now() / 1000), log });
    log(`scenario ${s.id}: ${r.status}${r.reason ? ` (${r.reason})` : ''} in ${r.seconds.toFixed(1)} s`);
    results.push(r);
    // right after b, so that it reads with a and b in the table
    const ab = s.id === 'b' ? aPlusB(results) : null;
    if (ab) results.push(ab);
  }

  const run: BenchRun = {
    startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
    command: ['npm run bench --', ...process.argv.slice(2)].join(' '),
    options: { lines, smoke: o.smoke, repeat, scenarios: ids }, environment: env, scenarios: results,
  };
  const dir = path.join(path.resolve(o.out), startedAt.toISOString().replace(/[:.]/g, '-'));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(run, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'chart.svg'), rateChart(results, `logban benchmark ${run.startedAt}${o.smoke ? ' (smoke sizes)' : ''}`));
  fs.writeFileSync(path.join(dir, 'report.md'), markdownReport(run, 'chart.svg'));
  process.stdout.write(`\n${summaryTable(run)}\n\nresults: ${path.join(dir, 'results.json')}\nreport:  ${path.join(dir, 'report.md')}\n`);
  return results.some((r) => r.status === 'error') ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    cleanupSync();
    process.exit(130);
  });
}

main().then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  cleanupSync();
  process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
