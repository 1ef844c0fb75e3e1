// Address parsing shared by every stage. Text from log lines is attacker-controlled, and nft
// resolves anything that is not a literal as a host name, so nothing reaches a backend without
// passing through parseAddress() first. Output is canonical, so the same address always has the
// same key: IPv4 dotted quad without leading zeros, IPv6 in RFC 5952 form (lower case, longest
// zero run compressed), IPv4-mapped IPv6 folded to IPv4, networks masked to their prefix.
import net from 'node:net';
import type { Family } from '../types.js';

export interface ParsedAddress {
  /** canonical literal; for a network, the network address (host bits cleared) */
  addr: string;
  family: Family;
  /** prefix length when the text was a network narrower than a single host; else undefined */
  prefix?: number;
}

const MAX_TEXT = 64; // longest valid form: full IPv6 with embedded IPv4 and "/128" is 49 chars

/**
 * Parse an address or network (`a.b.c.d`, `a.b.c.d/n`, IPv6, IPv6/n, `::ffff:a.b.c.d`).
 * Returns null for anything else: host names, out-of-range octets (`999.1.1.1`), leading zeros
 * (`010.1.1.1` is octal to some parsers), zone ids (`fe80::1%eth0`), bad prefixes.
 * A `/32` (`/128`) network is returned as a plain address.
 */
export function parseAddress(text: string): ParsedAddress | null {
  if (text.length === 0 || text.length > MAX_TEXT) return null;
  // Fast path: the common case is a bare IPv4 address from a log line.
  const v4 = ipv4ToInt(text);
  if (v4 >= 0) return { addr: text, family: 4 };

  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  let prefix: number | undefined;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p)) return null;
    prefix = Number(p);
  }

  const h4 = ipv4ToInt(host);
  if (h4 >= 0) {
    if (prefix === undefined) return { addr: host, family: 4 }; // unreachable: fast path took it
    if (prefix > 32) return null;
    if (prefix === 32) return { addr: host, family: 4 };
    return { addr: intToIpv4(maskIpv4(h4, prefix)), family: 4, prefix };
  }

  if (net.isIPv6(host) === false || host.includes('%')) return null;
  const words = parseIpv6Words(host);
  if (!words) return null;
  if (prefix !== undefined && prefix > 128) return null;

  if (isV4Mapped(words)) {
    const n = ((words[6] << 16) | words[7]) >>> 0;
    if (prefix === undefined || prefix === 128) return { addr: intToIpv4(n), family: 4 };
    if (prefix >= 96) return { addr: intToIpv4(maskIpv4(n, prefix - 96)), family: 4, prefix: prefix - 96 };
    // a prefix shorter than /96 covers more than the mapped range: keep it as IPv6
  }
  if (prefix === undefined || prefix === 128) return { addr: formatIpv6Words(words), family: 6 };
  return { addr: formatIpv6Words(maskIpv6Words(words, prefix)), family: 6, prefix };
}

/** `true` when parseAddress accepts the text. */
export function isValidAddress(text: string): boolean {
  return parseAddress(text) !== null;
}

/**
 * Strict dotted-quad IPv4 to an unsigned 32-bit integer; -1 when the text is not exactly that
 * (no whitespace, no leading zeros, every octet 0..255). Hand-written: it runs per matched line.
 */
export function ipv4ToInt(text: string): number {
  const len = text.length;
  if (len < 7 || len > 15) return -1;
  let result = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      result = result * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return result * 256 + octet;
}

/** Unsigned 32-bit integer to dotted quad. */
export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function maskIpv4(n: number, prefix: number): number {
  if (prefix === 0) return 0;
  return (n & (0xffffffff << (32 - prefix))) >>> 0;
}

/** Eight 16-bit words of an IPv6 literal already accepted by net.isIPv6 (no zone id). */
function parseIpv6Words(text: string): number[] | null {
  let s = text.toLowerCase();
  // embedded IPv4 in the last 32 bits (`::ffff:1.2.3.4`): rewrite it as two hex words
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    const n = ipv4ToInt(s.slice(lastColon + 1));
    if (n < 0) return null;
    s = `${s.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
  const dbl = s.indexOf('::');
  let words: number[];
  if (dbl >= 0) {
    const head = parse(s.slice(0, dbl));
    const rest = parse(s.slice(dbl + 2));
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    words = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    words = parse(s);
  }
  if (words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff))) return null;
  return words;
}

function isV4Mapped(w: number[]): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff;
}

function maskIpv6Words(words: number[], prefix: number): number[] {
  return words.map((w, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    return bits === 0 ? 0 : w & ((0xffff << (16 - bits)) & 0xffff);
  });
}

/** RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero words as `::`. */
function formatIpv6Words(words: number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Address literal (canonical or not) of the given family to an unsigned integer. */
export function addressToBigInt(addr: string, family: Family): bigint {
  if (family === 4) {
    const n = ipv4ToInt(addr);
    if (n < 0) throw new RangeError(`not an IPv4 address: ${addr}`);
    return BigInt(n);
  }
  const words = net.isIPv6(addr) ? parseIpv6Words(addr) : null;
  if (!words) throw new RangeError(`not an IPv6 address: ${addr}`);
  return words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

/** Unsigned integer to the canonical literal of the given family. */
export function bigIntToAddress(n: bigint, family: Family): string {
  if (family === 4) return intToIpv4(Number(n & 0xffffffffn));
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  return formatIpv6Words(words);
}

/** Address width in bits. */
export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** `addr` or `addr/prefix`, as people and the store write it. */
export function formatAddress(a: { addr: string; prefix?: number }): string {
  return a.prefix === undefined ? a.addr : `${a.addr}/${a.prefix}`;
}
