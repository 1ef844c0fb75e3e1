// `logban unban ADDR [--jail JAIL]`: lift a ban in one jail or in all of them.

import { callDaemon } from '../control/client.js';
import { validateAddressArg, writeJson, type ClientOptions } from './client-common.js';

export interface UnbanOptions extends ClientOptions {
  addr: string;
  jail?: string;
  json?: boolean;
}

const UNBAN_TIMEOUT_MS = 30_000;

export async function unbanCommand(opts: UnbanOptions, out: NodeJS.WritableStream): Promise<number> {
  const addr = validateAddressArg(opts.addr);
  const args = opts.jail === undefined ? { addr } : { addr, jail: opts.jail };
  const result = await callDaemon(opts.socket, { cmd: 'unban', args }, opts.timeoutMs ?? UNBAN_TIMEOUT_MS);
  if (opts.json) {
    writeJson(out, result);
    return 0;
  }
  // Not being banned is the state the user asked for, so it is not an error (as fail2ban).
  const where = opts.jail === undefined ? '' : ` in jail ${opts.jail}`;
  if (result.removed === 0) out.write(`${result.addr} was not banned${where}\n`);
  else if (opts.jail !== undefined) out.write(`Unbanned ${result.addr}${where}\n`);
  else out.write(`Unbanned ${result.addr} from ${result.removed} jail${result.removed === 1 ? '' : 's'}\n`);
  return 0;
}
