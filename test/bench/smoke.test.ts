// `npm run bench -- --smoke`: the harness runs every scenario at tiny sizes and writes a report
// whose numbers are sane. Not a timed test: it checks the harness, not logban's speed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../helpers/paths.js';
import type { BenchRun } from '../../bench/report/types.js';
import type { ScenarioResult } from '../../bench/scenario.js';

const runJs = path.join(repoRoot, 'dist', 'bench', 'run.js');
const kernelOk = process.getuid?.() === 0 &&
  spawnSync('nft', ['--version']).status === 0 && spawnSync('ip', ['-V']).status === 0;

const f2bOk = spawnSync('fail2ban-regex', ['--version']).status === 0;

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-bench-smoke-'));
t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));

const r = spawnSync(process.execPath, [runJs, '--smoke', '--out', out], { encoding: 'utf8', timeout: 240_000 });
t.equal(r.status, 0, 'harness exits 0', { stderr: r.stderr.slice(-3000) });
const runs = fs.existsSync(out) ? fs.readdirSync(out) : [];
t.equal(runs.length, 1, 'one result folder per run');
const dir = path.join(out, runs[0] ?? 'missing');
const run = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as BenchRun;
const byId = new Map(run.scenarios.map((s) => [s.id, s]));
const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

t.test('every scenario is reported', async (t) => {
  t.same(run.scenarios.map((s) => s.id), ['a', 'b', 'a+b', 'c', 'd', 'e', 'f', 'xdp']);
  t.equal(run.options.smoke, true);
  for (const s of run.scenarios) {
    t.not(s.status, 'error', `${s.id} ran without error: ${s.reason ?? ''}`);
    const needsKernel = ['d', 'e', 'xdp'].includes(s.id);
    if (!needsKernel || (kernelOk && s.id !== 'xdp')) t.equal(s.status, 'ok', `${s.id} ran: ${s.reason ?? ''}`);
    if (s.status === 'skipped') t.ok(s.reason && s.reason.length > 0, `${s.id} says why it was skipped`);
  }
});

t.test('correctness checks hold', async (t) => {
  for (const s of run.scenarios) {
    for (const c of s.checks) t.ok(c.pass, `${s.id}: ${c.name}: expected ${c.expected}, got ${c.actual}`);
  }
  for (const id of ['a', 'b', 'c']) t.ok((byId.get(id)?.checks.length ?? 0) > 0, `${id} checked its counts`);
});

t.test('a + b together: total lines over total time of a and b, with the issue\'s two targets', async (t) => {
  const a = (byId.get('a') as ScenarioResult).metrics;
  const b = (byId.get('b') as ScenarioResult).metrics;
  const ab = byId.get('a+b') as ScenarioResult;
  const combined = (key: string): number =>
    (Number(a.lines) + Number(b.lines)) / (Number(a.lines) / Number(a[key]) + Number(b.lines) / Number(b[key]));
  t.equal(ab.metrics.lines, Number(a.lines) + Number(b.lines));
  t.ok(Math.abs(Number(ab.metrics.logban_lines_per_sec) - combined('logban_lines_per_sec')) < 1e-6 * combined('logban_lines_per_sec'), 'logban rate');
  t.ok(Math.abs(Number(ab.metrics.grep_lines_per_sec) - combined('grep_lines_per_sec')) < 1e-6 * combined('grep_lines_per_sec'), 'grep rate');
  t.same(ab.targets.map((x) => x.name), ['logban / grep', 'logban / fail2ban-regex']);
  t.ok(Math.abs(ab.targets[0]!.value! - combined('logban_lines_per_sec') / combined('grep_lines_per_sec')) < 1e-9, 'ratio to grep');
});

t.test('log scenarios measured logban and its peers', async (t) => {
  for (const id of ['a', 'b', 'c']) {
    const m = (byId.get(id) as ScenarioResult).metrics;
    t.equal(m.lines, run.options.lines, `${id} generated the asked number of lines`);
    t.ok(positive(m.logban_lines_per_sec), `${id}: logban lines/s ${m.logban_lines_per_sec}`);
    t.ok(positive(m.logban_matches), `${id}: logban found matches`);
  }
  for (const id of ['a', 'b']) {
    const s = byId.get(id) as ScenarioResult;
    t.ok(positive(s.metrics.grep_lines_per_sec) && positive(s.metrics.grep_count), `${id}: grep ran`);
    t.same(s.targets.map((x) => x.name), ['logban / grep', 'logban / fail2ban-regex']);
    t.ok(s.targets[0]!.pass !== null, `${id}: ratio to grep computed`);
    if (f2bOk) {
      t.ok(positive(s.metrics.ratio_logban_to_f2b), `${id}: ratio to fail2ban-regex computed`);
      t.ok(s.checks.some((c) => c.name.includes('fail2ban-regex matched')), `${id}: match count compared with fail2ban-regex`);
    }
  }
});

t.test('memory scenario read peak RSS', async (t) => {
  const m = (byId.get('f') as ScenarioResult).metrics;
  for (const k of ['baseline_peak_rss_mb', 'tracked_peak_rss_mb', 'banned_peak_rss_mb']) {
    t.ok(positive(m[k]) && (m[k] as number) < 24 * 1024, `${k} = ${m[k]} MB`);
  }
  t.equal(m.banned_bans, run.options.lines, 'maxretry 1: every distinct address banned');
  t.equal(m.tracked_bans, 0, 'maxretry high: nobody banned');
});

t.test('kernel scenarios', { skip: kernelOk ? false : 'needs root, ip and nft' }, async (t) => {
  const d = (byId.get('d') as ScenarioResult).metrics;
  for (const k of ['backend_bans_per_sec', 'raw_text_bans_per_sec', 'raw_json_bans_per_sec', 'per_process_bans_per_sec']) {
    t.ok(positive(d[k]), `d: ${k} = ${d[k]}`);
  }
  const e = (byId.get('e') as ScenarioResult).metrics;
  t.equal(e.missing, 0, 'e: every ban reached the kernel');
  t.ok(positive(e.p50_ms) && (e.p99_ms as number) >= (e.p50_ms as number), `e: p50 ${e.p50_ms} ms <= p99 ${e.p99_ms} ms`);
  const names = fs.existsSync('/run/netns')
    ? fs.readdirSync('/run/netns').filter((n) => n.startsWith('lb-bench-') && n.endsWith(`-${r.pid}`))
    : [];
  t.same(names, [], 'no namespace left behind');
});

t.test('report files', async (t) => {
  const svg = fs.readFileSync(path.join(dir, 'chart.svg'), 'utf8');
  t.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(svg, /<\/svg>\s*$/);
  t.match(svg, /logban replay/, 'chart has logban bars');
  const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
  t.match(md, /^# logban benchmark/);
  t.match(md, /smoke sizes/);
  for (const s of run.scenarios) t.match(md, new RegExp(`## ${s.id.replace(/[+]/g, '\\+')}\\. `), `report has a section for ${s.id}`);
});
