// "a + b together": the first target is on scenarios a and b as one workload (2M lines:
// the seed's Apache flood and the sshd log). Nothing runs here: the figures come from a's and b's
// own runs in this bench run, each rate being total lines over total time (the two replays one
// after the other, grep likewise, fail2ban-regex extrapolated from its prefixes as in a and b).
import { target, type ScenarioResult } from '../scenario.js';

function num(r: ScenarioResult, key: string): number | null {
  const v = r.metrics[key];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
}

/** Seconds for `lines` at `rate` lines/s of each part, summed; null when any part is missing. */
function totalSeconds(parts: Array<{ lines: number; rate: number | null }>): number | null {
  let s = 0;
  for (const p of parts) {
    if (p.rate === null) return null;
    s += p.lines / p.rate;
  }
  return s;
}

export function aPlusB(results: readonly ScenarioResult[]): ScenarioResult | null {
  const a = results.find((r) => r.id === 'a' && r.status === 'ok');
  const b = results.find((r) => r.id === 'b' && r.status === 'ok');
  if (!a || !b) return null;
  const la = num(a, 'lines');
  const lb = num(b, 'lines');
  if (la === null || lb === null) return null;
  const lines = la + lb;
  const rate = (key: string): number | null => {
    const s = totalSeconds([{ lines: la, rate: num(a, key) }, { lines: lb, rate: num(b, key) }]);
    return s === null ? null : lines / s;
  };
  const logban = rate('logban_lines_per_sec');
  const grep = rate('grep_lines_per_sec');
  const f2b = rate('f2b_lines_per_sec');
  const r: ScenarioResult = {
    id: 'a+b', title: 'a and b together (the Apache flood and the sshd log), from their runs above', status: 'ok',
    seconds: 0, metrics: { lines, logban_lines_per_sec: logban, grep_lines_per_sec: grep, f2b_lines_per_sec: f2b },
    targets: [
      target('logban / grep', logban !== null && grep !== null ? logban / grep : null, 'x', '>= 0.5', (v) => v >= 0.5),
      target('logban / fail2ban-regex', logban !== null && f2b !== null ? logban / f2b : null, 'x', '>= 1000', (v) => v >= 1000),
    ],
    checks: [], rates: [], notes: [
      'Nothing is run for this row: rates are total lines over total time of a and b as measured above ' +
      '(replay\'s own seconds, grep -cE, fail2ban-regex extrapolated from its prefix).',
    ],
  };
  if (f2b !== null && grep !== null && 1000 * f2b > grep) {
    r.notes.push(`1000x fail2ban-regex here is ${(1000 * f2b / 1e6).toFixed(1)}M lines/s, ${(1000 * f2b / grep).toFixed(1)}x what ` +
      'grep -cE itself reads of the same files: no matcher that reads every line can meet that target on this machine.');
  }
  if (logban !== null) r.rates.push({ label: 'logban replay', linesPerSec: logban });
  if (grep !== null) r.rates.push({ label: 'GNU grep -cE', linesPerSec: grep });
  if (f2b !== null) r.rates.push({ label: 'fail2ban-regex (prefix)', linesPerSec: f2b });
  return r;
}
