// `logban status [JAIL] [--json]`: the daemon's jails, or one jail's counters and bans, laid out
// like fail2ban-client's status so people (and their habits) carry over.

import { callDaemon } from '../control/client.js';
import type { BanListEntry, JailStatus, StatusResult } from '../control/protocol.js';
import { formatDuration, writeJson, type ClientOptions } from './client-common.js';

export interface StatusOptions extends ClientOptions {
  json: boolean;
  jail?: string;
}

const STATUS_TIMEOUT_MS = 10_000;

export function formatDaemonStatus(status: StatusResult): string {
  return [
    'Status',
    `|- Backend:\t${status.backend}`,
    `|- Uptime:\t${formatDuration(status.uptimeSeconds)}`,
    `|- Number of jail:\t${status.jails.length}`,
    `\`- Jail list:\t${status.jails.map((j) => j.name).join(', ')}`,
    '',
  ].join('\n');
}

export function formatJailStatus(jail: JailStatus, backend: string, bans: readonly BanListEntry[]): string {
  return [
    `Status for the jail: ${jail.name}`,
    `|- Filter:\t${jail.filter}`,
    `|  |- Lines read:\t${jail.lines}`,
    `|  |- Currently failed:\t${jail.currentlyFailed}`,
    `|  |- Total failed:\t${jail.matches}`,
    `|  \`- File list:\t${jail.logFiles.join(' ')}`,
    `\`- Actions:\t${backend}`,
    `   |- Currently banned:\t${jail.currentlyBanned}`,
    `   |- Total banned:\t${jail.totalBanned}`,
    `   \`- Banned IP list:\t${bans.map((b) => b.addr).join(' ')}`,
    '',
  ].join('\n');
}

export async function statusCommand(opts: StatusOptions, out: NodeJS.WritableStream): Promise<number> {
  const timeout = opts.timeoutMs ?? STATUS_TIMEOUT_MS;
  const args = opts.jail === undefined ? {} : { jail: opts.jail };
  const status = await callDaemon(opts.socket, { cmd: 'status', args }, timeout);
  if (opts.json) {
    writeJson(out, status);
    return 0;
  }
  if (opts.jail === undefined) {
    out.write(formatDaemonStatus(status));
    return 0;
  }
  const bans = await callDaemon(opts.socket, { cmd: 'list', args: { jail: opts.jail } }, timeout);
  for (const jail of status.jails) {
    out.write(formatJailStatus(jail, status.backend, bans.filter((b) => b.jail === jail.name)));
  }
  return 0;
}
