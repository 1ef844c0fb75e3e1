// The Markdown report: environment, the targets table, then each scenario's numbers and notes.
import type { BenchRun } from './types.js';
import { fmtMetric, verdict } from './format.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdownReport(run: BenchRun, chartFile: string): string {
  const e = run.environment;
  const out: string[] = [
    '# logban benchmark', '',
    `Run ${run.startedAt} → ${run.finishedAt} with \`${run.command}\`${run.options.smoke ? ' (**smoke sizes: not a measurement**)' : ''}.`, '',
    `Machine: ${e.cpus} × ${e.cpuModel}, ${e.memoryGiB.toFixed(0)} GiB, kernel ${e.kernel}, Node ${e.node}; ` +
      `load average ${e.loadAverage.toFixed(2)} at start. ` +
      Object.values(e.tools).join(', ') + '.', '',
    'Timed numbers are the best of the repeated runs named in each section; ratios are computed within this run, ' +
      'on the same generated files. A loaded or shared machine makes every number noisy.', '',
    '## Targets', '',
    '| scenario | measure | value | goal | result |', '|---|---|---|---|---|',
  ];
  for (const s of run.scenarios) {
    if (s.status !== 'ok') {
      out.push(`| ${s.id} | ${s.status} | | | ${cell(s.reason ?? '')} |`);
      continue;
    }
    for (const t of s.targets) {
      out.push(`| ${s.id} | ${cell(t.name)} | ${t.value === null ? '—' : `${fmtMetric(t.value)} ${t.unit}`} | ${t.goal} ${t.unit} | ${verdict(t.pass)} |`);
    }
  }
  out.push('', `![rates](${chartFile})`, '');
  for (const s of run.scenarios) {
    out.push(`## ${s.id}. ${s.title}`, '');
    if (s.status !== 'ok') {
      out.push(`**${s.status}**: ${s.reason ?? ''}`, '');
      continue;
    }
    out.push(`Took ${s.seconds.toFixed(1)} s including generation.`, '');
    if (s.checks.length) {
      out.push('| correctness check | expected | actual | |', '|---|---|---|---|');
      for (const c of s.checks) out.push(`| ${cell(c.name)} | ${c.expected} | ${c.actual} | ${c.pass ? 'OK' : '**MISMATCH**'} |`);
      out.push('');
    }
    out.push('| metric | value |', '|---|---|');
    for (const [k, v] of Object.entries(s.metrics)) out.push(`| ${k} | ${cell(fmtMetric(v))} |`);
    out.push('');
    for (const n of s.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}
