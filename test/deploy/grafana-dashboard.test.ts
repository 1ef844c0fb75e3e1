// deploy/grafana-dashboard.json: importable JSON whose queries use only the metrics logban
// exports, through the ${DS_PROMETHEUS} input, and whose PromQL parses (promtool, when present).

import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../helpers/paths.js';
import { Metrics } from '../../src/metrics/registry.js';

const DASHBOARD = path.join(repoRoot, 'deploy', 'grafana-dashboard.json');

/** The metrics the dashboard is meant to chart (DESIGN.md and the metrics module). */
const ALLOWED = [
  'logban_lines_total',
  'logban_matches_total',
  'logban_bans_total',
  'logban_unbans_total',
  'logban_banned',
  'logban_backend_apply_seconds',
  'logban_backend_errors_total',
  'logban_bad_lines_total',
  'logban_evictions_total',
  'logban_reconcile_repairs_total',
  'logban_xdp_dropped_packets_total',
  'logban_xdp_dropped_bytes_total',
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_seconds',
];
const HISTOGRAMS = ['logban_backend_apply_seconds'];

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  gridPos: { h: number; w: number; x: number; y: number };
}
interface Variable {
  name: string;
  query: { query: string };
  datasource: { uid: string };
}
interface Dashboard {
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  panels: Panel[];
  templating: { list: Variable[] };
  uid: string;
  title: string;
}

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = [...queryPanels.flatMap((p) => (p.targets ?? []).map((x) => x.expr)), ...dashboard.templating.list.map((v) => v.query.query)];

/** Metric names in a PromQL expression: identifiers followed by `{` or `[` or standing alone,
 * minus functions, keywords, label names and ranges (inside braces, brackets, by/without). */
function metricNames(expr: string): string[] {
  const withoutLabels = expr
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of withoutLabels.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const next = withoutLabels.slice((m.index ?? 0) + word.length).trimStart()[0];
    if (next === '(') continue; // function call
    if (/^(sum|rate|increase|histogram_quantile|label_values|by|le|instance|jail|reason)$/.test(word)) continue;
    names.add(word);
  }
  return [...names];
}

t.test('dashboard is an importable Grafana document with a Prometheus datasource input', async (t) => {
  t.same(
    dashboard.__inputs.map((i) => [i.name, i.type, i.pluginId]),
    [['DS_PROMETHEUS', 'datasource', 'prometheus']],
  );
  t.ok(dashboard.uid.length > 0 && dashboard.title === 'logban');
  const ids = dashboard.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of queryPanels) {
    t.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `${p.title}: panel datasource`);
    t.ok((p.targets ?? []).length > 0, `${p.title}: has queries`);
    for (const target of p.targets ?? []) t.equal(target.datasource?.uid, '${DS_PROMETHEUS}', `${p.title}: target datasource`);
    t.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits the 24-column grid`);
  }
  for (const v of dashboard.templating.list) t.equal(v.datasource.uid, '${DS_PROMETHEUS}', `variable ${v.name}`);
});

t.test('queries reference only the listed metrics, and every listed metric is charted', async (t) => {
  const used = new Set<string>();
  for (const expr of exprs) {
    for (const name of metricNames(expr)) {
      const base = HISTOGRAMS.find((h) => name === `${h}_bucket` || name === `${h}_sum` || name === `${h}_count`) ?? name;
      t.ok(ALLOWED.includes(base), `${name} (in ${expr}) is a known metric`);
      used.add(base);
    }
  }
  t.same([...used].sort(), [...ALLOWED].sort(), 'every metric appears in some panel');
  t.ok(
    exprs.some((e) => /histogram_quantile\(0\.5,.*logban_backend_apply_seconds_bucket/.test(e)) &&
      exprs.some((e) => /histogram_quantile\(0\.99,.*logban_backend_apply_seconds_bucket/.test(e)),
    'apply latency p50 and p99 from the histogram',
  );
});

t.test('every charted metric is exported by logban\'s registry', async (t) => {
  const exported = new Set((await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name));
  for (const name of ALLOWED) t.ok(exported.has(name), `${name} is registered`);
});

const promtoolMissing = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error !== undefined;

t.test('every query is valid PromQL (promtool check rules)', { skip: promtoolMissing && 'promtool not installed (Debian package prometheus)' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-dash-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // Grafana's variables become what Grafana would substitute; label_values() is Grafana's, not
  // PromQL, so its inner selector is checked instead.
  const promql = exprs.map((e) =>
    e
      .replace(/^label_values\((.*), *\w+\)$/, '$1')
      .replace(/^label_values\((.*)\)$/, '$1')
      .replaceAll('$__rate_interval', '1m')
      .replaceAll('$instance', '.*')
      .replaceAll('$jail', '.*'),
  );
  const rules = ['groups:', '- name: dashboard', '  rules:', ...promql.flatMap((e, i) => [`  - record: dashboard:q${i}`, `    expr: ${JSON.stringify(e)}`])];
  const file = path.join(dir, 'rules.yml');
  fs.writeFileSync(file, rules.join('\n') + '\n');
  const res = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  t.equal(res.status, 0, res.stdout + res.stderr);
  t.match(res.stdout, `SUCCESS: ${promql.length} rules found`);
});
