// Binary map keys for the XDP program's maps (native-rules/xdp/logban_xdp.c). Hand-written
// because it is the hot path of a 100,000-ban restore: no intermediate strings or arrays.
import { endianness } from 'node:os';
import type { Family } from '../types.js';

const littleEndian = endianness() === 'LE';

/** Key sizes in bytes, matching the C structs. */
export const KEY_SIZE = {
  exact4: 4, // __u32 address, network order
  exact6: 16, // struct in6_addr
  net4: 8, // struct lpm_v4_key { __u32 prefixlen (host order); __u8 addr[4]; }
  net6: 20, // struct lpm_v6_key { __u32 prefixlen; __u8 addr[16]; }
} as const;
export const VALUE_SIZE = 4;

/** Write a dotted-quad IPv4 address at buf[off..off+4); false when it is not one. */
export function writeIPv4(text: string, buf: Buffer, off: number): boolean {
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      if (++digits > 3 || n > 255) return false;
    } else if (c === 46 && digits > 0 && part < 3) {
      buf[off + part++] = n;
      n = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  if (part !== 3 || digits === 0) return false;
  buf[off + 3] = n;
  return true;
}

/** Write an IPv6 address (with `::` and an optional dotted IPv4 tail) at buf[off..off+16). */
export function writeIPv6(text: string, buf: Buffer, off: number): boolean {
  const groups: number[] = [];
  let gap = -1; // index in groups where `::` stands
  let i = 0;
  const len = text.length;
  if (len < 2) return false;
  if (text.startsWith('::')) {
    gap = 0;
    i = 2;
  } else if (text.charCodeAt(0) === 58) {
    return false;
  }
  while (i < len) {
    // An IPv4 tail (the last segment, with dots) takes the last two groups.
    if (text.indexOf(':', i) === -1 && text.indexOf('.', i) !== -1) {
      const rest = text.slice(i);
      const tmp = Buffer.allocUnsafe(4);
      if (!writeIPv4(rest, tmp, 0)) return false;
      groups.push((tmp[0]! << 8) | tmp[1]!, (tmp[2]! << 8) | tmp[3]!);
      i = len;
      break;
    }
    let v = 0;
    let digits = 0;
    while (i < len) {
      const c = text.charCodeAt(i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      v = (v << 4) | d;
      if (++digits > 4) return false;
      i++;
    }
    if (digits === 0) return false;
    groups.push(v);
    if (i === len) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < len && text.charCodeAt(i) === 58) {
      if (gap !== -1) return false;
      gap = groups.length;
      i++;
    } else if (i === len) {
      return false; // trailing single ':'
    }
  }
  if (groups.length > 8 || (gap === -1 && groups.length !== 8) || (gap !== -1 && groups.length > 7)) {
    return false;
  }
  const zeros = 8 - groups.length;
  let g = 0;
  for (let k = 0; k < 8; k++) {
    let v: number;
    if (gap !== -1 && k >= gap && k < gap + zeros) v = 0;
    else v = groups[g++]!;
    buf[off + 2 * k] = v >> 8;
    buf[off + 2 * k + 1] = v & 0xff;
  }
  return true;
}

/** Address part of `addr` or `addr/prefix`. */
export function addressPart(addr: string): string {
  const slash = addr.indexOf('/');
  return slash === -1 ? addr : addr.slice(0, slash);
}

/** Write an exact-match key for `addr` (family 4: 4 bytes, 6: 16 bytes). */
export function writeExactKey(family: Family, addr: string, buf: Buffer, off: number): boolean {
  return family === 4 ? writeIPv4(addr, buf, off) : writeIPv6(addr, buf, off);
}

/** Write an LPM-trie key: prefix length (host order) then the address with host bits cleared. */
export function writeNetKey(family: Family, addr: string, prefix: number, buf: Buffer, off: number): boolean {
  const bytes = family === 4 ? 4 : 16;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bytes * 8) return false;
  // struct lpm_v4_key.prefixlen is a host-order __u32
  if (littleEndian) buf.writeUInt32LE(prefix, off);
  else buf.writeUInt32BE(prefix, off);
  if (!writeExactKey(family, addr, buf, off + 4)) return false;
  for (let b = 0; b < bytes; b++) {
    const keep = Math.max(0, Math.min(8, prefix - b * 8));
    buf[off + 4 + b] = buf[off + 4 + b]! & ((0xff00 >> keep) & 0xff);
  }
  return true;
}
