// `logban list [--json]`: every active ban with its jail and remaining time.

import { callDaemon } from '../control/client.js';
import type { BanListEntry } from '../control/protocol.js';
import { formatDuration, formatEpoch, formatTable, writeJson, type ClientOptions } from './client-common.js';

export interface ListOptions extends ClientOptions {
  json: boolean;
  /** only this jail's bans */
  jail?: string;
}

const LIST_TIMEOUT_MS = 30_000;

export function formatBanList(bans: readonly BanListEntry[]): string {
  if (bans.length === 0) return 'No active bans.\n';
  const rows = bans.map((b) => [
    b.jail,
    b.addr,
    b.expires === null ? 'permanent' : formatEpoch(b.expires),
    b.remainingSeconds === null ? '-' : formatDuration(b.remainingSeconds),
  ]);
  return formatTable(['JAIL', 'ADDRESS', 'EXPIRES', 'REMAINING'], rows);
}

export async function listCommand(opts: ListOptions, out: NodeJS.WritableStream): Promise<number> {
  const args = opts.jail === undefined ? {} : { jail: opts.jail };
  const bans = await callDaemon(opts.socket, { cmd: 'list', args }, opts.timeoutMs ?? LIST_TIMEOUT_MS);
  if (opts.json) writeJson(out, bans);
  else out.write(formatBanList(bans));
  return 0;
}
