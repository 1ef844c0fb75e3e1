// `logban ban JAIL ADDR [--time SECONDS]`: ban an address by hand in a jail.

import { callDaemon } from '../control/client.js';
import { formatDuration, formatEpoch, parseBanTime, validateAddressArg, writeJson, type ClientOptions } from './client-common.js';

export interface BanOptions extends ClientOptions {
  jail: string;
  addr: string;
  /** `--time` as given: whole seconds, -1 = permanent; undefined = the jail's bantime */
  time?: string | number;
  json?: boolean;
}

// Generous: the daemon answers once the kernel holds the ban, which waits for a batch window.
const BAN_TIMEOUT_MS = 30_000;

export async function banCommand(opts: BanOptions, out: NodeJS.WritableStream): Promise<number> {
  const addr = validateAddressArg(opts.addr);
  const seconds = opts.time === undefined ? undefined : parseBanTime(opts.time);
  const args = seconds === undefined ? { jail: opts.jail, addr } : { jail: opts.jail, addr, seconds };
  const result = await callDaemon(opts.socket, { cmd: 'ban', args }, opts.timeoutMs ?? BAN_TIMEOUT_MS);
  if (opts.json) {
    writeJson(out, result);
    return 0;
  }
  const until =
    result.expires === null
      ? 'permanently'
      : `until ${formatEpoch(result.expires)} (${formatDuration(result.expires - Date.now() / 1000)})`;
  if (result.created) out.write(`Banned ${result.addr} in jail ${result.jail} ${until}\n`);
  else out.write(`${result.addr} was already banned in jail ${result.jail}; now banned ${until}\n`);
  return 0;
}
