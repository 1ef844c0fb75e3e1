// The console summary: one row per target and per correctness check.
import type { BenchRun } from './types.js';
import { fmtMetric, verdict } from './format.js';

function render(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

export function summaryTable(run: BenchRun): string {
  const rows: string[][] = [['scenario', 'measure', 'value', 'goal', 'result']];
  for (const s of run.scenarios) {
    if (s.status !== 'ok') {
      rows.push([s.id, s.status.toUpperCase(), '', '', (s.reason ?? '').slice(0, 100)]);
      continue;
    }
    for (const t of s.targets) {
      rows.push([s.id, t.name, t.value === null ? '—' : `${fmtMetric(t.value)} ${t.unit}`, `${t.goal} ${t.unit}`, verdict(t.pass)]);
    }
    for (const c of s.checks) {
      rows.push([s.id, c.name, String(c.actual), `= ${c.expected}`, c.pass ? 'OK' : 'MISMATCH']);
    }
    for (const r of s.rates) rows.push([s.id, r.label, `${fmtMetric(r.linesPerSec)} ${s.rateUnit ?? 'lines/s'}`, '', '']);
  }
  return render(rows);
}
