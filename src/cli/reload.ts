// `logban reload`: re-read the configuration in the running daemon without dropping bans
// (the same as sending it SIGHUP, but reports what changed and any configuration error).

import { callDaemon } from '../control/client.js';
import { writeJson, type ClientOptions } from './client-common.js';

export interface ReloadOptions extends ClientOptions {
  json?: boolean;
}

const RELOAD_TIMEOUT_MS = 120_000;

export async function reloadCommand(opts: ReloadOptions, out: NodeJS.WritableStream): Promise<number> {
  const result = await callDaemon(opts.socket, { cmd: 'reload', args: {} }, opts.timeoutMs ?? RELOAD_TIMEOUT_MS);
  if (opts.json) {
    writeJson(out, result);
    return 0;
  }
  const lines = [`Reloaded: ${result.jails.length} jail${result.jails.length === 1 ? '' : 's'} enabled (${result.jails.join(', ')})`];
  if (result.added.length > 0) lines.push(`Added: ${result.added.join(', ')}`);
  if (result.removed.length > 0) lines.push(`Removed: ${result.removed.join(', ')}`);
  out.write(lines.join('\n') + '\n');
  return 0;
}
