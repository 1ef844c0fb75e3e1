// A hand-written SVG bar chart (no chart library): rates per scenario on a log scale, since the
// peers differ by orders of magnitude.
import type { ScenarioResult } from '../scenario.js';
import { fmtNumber } from './format.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const WIDTH = 960;
const LABEL_W = 260;
const VALUE_W = 110;
const BAR_H = 18;
const GAP = 6;
const HEAD_H = 26;
const COLORS = ['#2b6cb0', '#9c4221', '#2f855a', '#6b46c1', '#b7791f'];

export function rateChart(scenarios: readonly ScenarioResult[], caption: string): string {
  const groups = scenarios.filter((s) => s.status === 'ok' && s.rates.length > 0);
  const all = groups.flatMap((g) => g.rates.map((r) => r.linesPerSec)).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...all, 10)));
  const hi = Math.ceil(Math.log10(Math.max(...all, 100)));
  const plotW = WIDTH - LABEL_W - VALUE_W - 20;
  const x = (v: number): number => ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * plotW;
  const parts: string[] = [];
  let y = 40;
  for (const g of groups) {
    parts.push(`<text x="10" y="${y + 16}" class="head">${esc(`${g.id}. ${g.title}`)} (${esc(g.rateUnit ?? 'lines/s')})</text>`);
    y += HEAD_H;
    g.rates.forEach((r, i) => {
      const w = Math.max(1, x(r.linesPerSec));
      parts.push(`<text x="${LABEL_W - 8}" y="${y + BAR_H - 5}" text-anchor="end">${esc(r.label)}</text>`,
        `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLORS[i % COLORS.length]}"/>`,
        `<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + BAR_H - 5}">${esc(fmtNumber(r.linesPerSec))}</text>`);
      y += BAR_H + GAP;
    });
    y += 8;
  }
  const axisY = y + 4;
  const ticks: string[] = [];
  for (let e = lo; e <= hi; e++) {
    const tx = LABEL_W + x(10 ** e);
    ticks.push(`<line x1="${tx.toFixed(1)}" y1="34" x2="${tx.toFixed(1)}" y2="${axisY}" class="grid"/>`,
      `<text x="${tx.toFixed(1)}" y="${axisY + 16}" text-anchor="middle">${esc(fmtNumber(10 ** e))}</text>`);
  }
  const height = axisY + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    '<style>.head{font-weight:bold;font-size:13px}.grid{stroke:#ddd;stroke-width:1}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" class="head">${esc(caption)}</text>`,
    ...ticks,
    ...parts,
    `<text x="${LABEL_W}" y="${height - 6}" fill="#555">rate, log scale</text>`,
    '</svg>',
    '',
  ].join('\n');
}
