// Address check for `logban ban/unban` input and for addresses received on the control socket:
// only IP literals (optionally with a /prefix) pass, in canonical form, so nothing like a host
// name travels further and the daemon's keys match however the user typed the address.

import { parseAddress } from '../net/address.js';

/** Returns the canonical form of `text`, or throws an Error saying why it is not an address. */
export function canonicalAddress(text: string): string {
  const parsed = parseAddress(text);
  if (parsed === null) throw new Error(`'${text}' is not an IPv4/IPv6 address or network`);
  return parsed.prefix === undefined ? parsed.addr : `${parsed.addr}/${parsed.prefix}`;
}
