// GNU grep as the floor: the cost of scanning the same bytes with an equivalent regex.
import { failureText, hasProgram, run } from '../proc.js';

/** An IPv4 address in POSIX ERE, standing in for fail2ban's <HOST>. */
export const IPV4_ERE = '[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}';

export interface GrepResult {
  count: number;
  seconds: number;
  linesPerSec: number;
}

export function grepAvailable(): boolean {
  return hasProgram('grep');
}

/** Translates a fail2ban failregex that uses only <HOST> and ERE-compatible syntax. */
export function failregexToEre(failregex: string): string {
  if (/<(?!HOST>)[A-Z_-]+>|\(\?|\\[dDsSwW]/.test(failregex)) {
    throw new Error(`failregex needs a hand translation to ERE: ${failregex}`);
  }
  return failregex.replaceAll('<HOST>', IPV4_ERE);
}

/** `grep -cE` in the C locale (grep's fastest mode: the bar logban is held to is not lowered
 * by UTF-8 decoding). Best of `repeat` runs. */
export async function grepCount(file: string, ere: string, lines: number, repeat: number): Promise<GrepResult> {
  let best: GrepResult | undefined;
  for (let i = 0; i < repeat; i++) {
    const r = await run('grep', ['-cE', '--', ere, file], { env: { ...process.env, LC_ALL: 'C' } });
    if (r.code !== 0 && r.code !== 1) throw new Error(`grep failed: ${failureText(r)}`);
    const count = Number(r.stdout.trim());
    if (!best || r.seconds < best.seconds) best = { count, seconds: r.seconds, linesPerSec: lines / r.seconds };
  }
  return best!;
}
