// fail2ban-regex as the reference: the same filter file over a prefix of the same log, both
// for speed (fail2ban's own matcher) and for correctness (its matched count).
import { failureText, hasProgram, run } from '../proc.js';

export interface Fail2banRegexResult {
  lines: number;
  matched: number;
  ignored: number;
  missed: number;
  /** fail2ban-regex's own "[processed in X sec]": matching only, without Python's start-up */
  processedSeconds: number | null;
  wallSeconds: number;
  /** lines / processedSeconds (or wall when not printed) */
  linesPerSec: number;
}

export function fail2banRegexAvailable(): boolean {
  return hasProgram('fail2ban-regex');
}

const SUMMARY = /^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/m;
const PROCESSED = /\[processed in ([\d.]+) sec\]/;

export async function fail2banRegex(logFile: string, filterFile: string): Promise<Fail2banRegexResult> {
  const r = await run('fail2ban-regex', ['--print-no-missed', '--print-no-ignored', logFile, filterFile], {
    timeoutMs: 30 * 60_000,
  });
  const m = SUMMARY.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`fail2ban-regex ${logFile} ${filterFile}: ${failureText(r)}`);
  const p = PROCESSED.exec(r.stdout);
  const processedSeconds = p ? Number(p[1]) : null;
  const lines = Number(m[1]);
  // "0.00 sec" happens on tiny inputs: fall back to wall time rather than divide by zero
  const seconds = processedSeconds && processedSeconds > 0 ? processedSeconds : r.seconds;
  return {
    lines, ignored: Number(m[2]), matched: Number(m[3]), missed: Number(m[4]),
    processedSeconds, wallSeconds: r.seconds, linesPerSec: lines / seconds,
  };
}
