// Addresses a jail never bans: its ignoreip entries (addresses, CIDR, host names resolved once
// at load) and, with ignoreself, the loopback ranges and the host's own addresses.
import net from 'node:net';
import os from 'node:os';
import dns from 'node:dns/promises';

export interface IgnoreListSource {
  ignoreip: string[];
  ignoreself: boolean;
}

export class IgnoreList {
  private readonly list = new net.BlockList();
  /** entries as the user wrote them, for status output */
  readonly entries: string[] = [];

  /** Build from config. Host names are resolved once here; a name that does not resolve is
   * reported through `warn` and skipped rather than stopping the daemon. */
  static async create(src: IgnoreListSource, warn: (msg: string) => void): Promise<IgnoreList> {
    const il = new IgnoreList();
    if (src.ignoreself) il.addSelf();
    for (const entry of src.ignoreip) {
      if (!il.addLiteral(entry)) {
        try {
          const found = await dns.lookup(entry, { all: true });
          for (const a of found) il.addLiteral(a.address);
          il.entries.push(entry);
        } catch {
          warn(`ignoreip: "${entry}" is neither an address, a network nor a resolvable host name; ignored`);
        }
      }
    }
    return il;
  }

  /** Synchronous form for entries known to be literal (tests, manual use). */
  static fromLiterals(src: IgnoreListSource): IgnoreList {
    const il = new IgnoreList();
    if (src.ignoreself) il.addSelf();
    for (const e of src.ignoreip) il.addLiteral(e);
    return il;
  }

  has(addr: string, family: 4 | 6): boolean {
    // BlockList.check builds a SocketAddress per call (microseconds, on the ban table's hot
    // path); a jail without ignoreip/ignoreself has nothing to check
    if (this.entries.length === 0) return false;
    return this.list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
  }

  private addSelf(): void {
    this.list.addSubnet('127.0.0.0', 8, 'ipv4');
    this.list.addAddress('::1', 'ipv6');
    this.list.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
    for (const addrs of Object.values(os.networkInterfaces())) {
      for (const a of addrs ?? []) {
        // link-local v6 addresses carry a scope id that BlockList does not accept
        const address = a.address.split('%')[0];
        if (net.isIP(address)) this.list.addAddress(address, a.family === 'IPv4' ? 'ipv4' : 'ipv6');
      }
    }
    this.entries.push('(self)');
  }

  private addLiteral(entry: string): boolean {
    const slash = entry.indexOf('/');
    const host = slash >= 0 ? entry.slice(0, slash) : entry;
    const fam = net.isIP(host);
    if (fam === 0) return false;
    const type = fam === 4 ? 'ipv4' : 'ipv6';
    if (slash >= 0) {
      const bits = Number(entry.slice(slash + 1));
      if (!Number.isInteger(bits) || bits < 0 || bits > (fam === 4 ? 32 : 128)) return false;
      this.list.addSubnet(host, bits, type);
    } else {
      this.list.addAddress(host, type);
    }
    this.entries.push(entry);
    return true;
  }
}
