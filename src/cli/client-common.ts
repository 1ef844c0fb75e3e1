// Shared pieces of the CLI commands that talk to the running daemon (status, list, ban, unban,
// reload): option shapes, input validation before anything is sent, and output formatting.

import { UserError } from '../errors.js';
import { canonicalAddress } from '../control/address.js';
import { MAX_BAN_SECONDS, checkBanSeconds } from '../control/protocol.js';

export { DEFAULT_SOCKET_PATH } from '../control/client.js';

/** Options every daemon client command takes. */
export interface ClientOptions {
  /** control socket path (`--socket`, default /run/logban/logban.sock) */
  socket: string;
  /** milliseconds to wait for the daemon's answer; default depends on the command */
  timeoutMs?: number;
}

/** Validates ADDR as typed on the command line; returns its canonical form. */
export function validateAddressArg(text: string): string {
  try {
    return canonicalAddress(text.trim());
  } catch (err) {
    throw new UserError(`logban: ${(err as Error).message}`);
  }
}

/** Validates `--time SECONDS` (whole seconds, or -1 for permanent). */
export function parseBanTime(value: string | number): number {
  const n = typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  const problem = Number.isNaN(n) ? 'not a number' : checkBanSeconds(n);
  if (problem !== null) {
    throw new UserError(`logban: --time must be a whole number of seconds from 1 to ${MAX_BAN_SECONDS}, or -1 for permanent; got '${String(value)}'`);
  }
  return n;
}

/** `3725` -> `1h 2m 5s`; `0` -> `0s`. */
export function formatDuration(totalSeconds: number): string {
  let s = Math.max(0, Math.round(totalSeconds));
  const parts: string[] = [];
  const units: Array<[string, number]> = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ];
  for (const [unit, size] of units) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}

/** Epoch seconds -> `2026-11-26 14:02:00 UTC`. */
export function formatEpoch(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function writeJson(out: NodeJS.WritableStream, value: unknown): void {
  out.write(JSON.stringify(value, null, 2) + '\n');
}

/** Left-aligned text columns separated by two spaces. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
