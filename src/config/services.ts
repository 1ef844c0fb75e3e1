// Port values of a jail (`http,https`, `ssh`, `1000:2000`, `0:65535`, `all`) resolved to numbers
// with the system's service database, as the firewall tools fail2ban drives would.
import fs from 'node:fs';
import type { PortProto } from '../types.js';
import { UserError } from '../errors.js';

/** name -> protocol -> port */
export type ServiceTable = Map<string, Map<string, number>>;

// Used only when /etc/services is absent (minimal containers): without it nft/iptables could
// not resolve names either, but jail.conf files routinely say `ssh` or `http,https`, so the
// handful of names stock fail2ban jails use keep working.
const BUILTIN: Record<string, number> = {
  ftp: 21, 'ftp-data': 20, ssh: 22, telnet: 23, smtp: 25, domain: 53, http: 80, pop3: 110,
  sunrpc: 111, imap2: 143, imap: 143, ldap: 389, https: 443, submissions: 465, ssmtp: 465,
  urd: 465, submission: 587, ldaps: 636, imaps: 993, pop3s: 995, ftps: 990, 'ftps-data': 989,
  socks: 1080, sieve: 4190, 'http-alt': 8080, webcache: 8080, mysql: 3306, postgresql: 5432,
};

/** Parse services(5) text: `name port/proto [aliases...]  # comment`. */
export function parseServices(text: string): ServiceTable {
  const table: ServiceTable = new Map();
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length < 2) continue;
    const m = /^(\d+)\/(\w+)$/.exec(fields[1]!);
    if (!m) continue;
    const port = Number(m[1]);
    const proto = m[2]!.toLowerCase();
    for (const name of [fields[0]!, ...fields.slice(2)]) {
      let byProto = table.get(name);
      if (!byProto) table.set(name, (byProto = new Map()));
      // the first entry wins, as getservbyname returns it
      if (!byProto.has(proto)) byProto.set(proto, port);
    }
  }
  return table;
}

let cached: ServiceTable | undefined;

/** The system's service table (read once), or the built-in fallback when the file is missing. */
export function systemServices(file = '/etc/services'): ServiceTable {
  if (cached && file === '/etc/services') return cached;
  let table: ServiceTable;
  try {
    table = parseServices(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`${file}: cannot read: ${(err as Error).message}`);
    table = new Map(Object.entries(BUILTIN).map(([n, p]) => [n, new Map([['tcp', p], ['udp', p]])]));
  }
  if (file === '/etc/services') cached = table;
  return table;
}

export type PortSpec = Array<number | [number, number]> | null;

/**
 * Resolve a port value. `all`, `any` and `0:65535` mean every port (null). Names are looked up
 * for the jail's protocol first, then for any protocol (a service listed for tcp only is still
 * the same number over sctp). `at` prefixes error messages (file:line: [jail] port).
 */
export function parsePorts(value: string, protocol: PortProto, at: string, services: ServiceTable = systemServices()): PortSpec {
  const words = value.split(/[\s,]+/).filter((w) => w !== '');
  if (words.length === 0) throw new UserError(`${at}: empty port list`);
  const one = (w: string): number => {
    if (/^\d+$/.test(w)) {
      const n = Number(w);
      if (n > 65535) throw new UserError(`${at}: port ${w} is out of range (0-65535)`);
      return n;
    }
    const byProto = services.get(w) ?? services.get(w.toLowerCase());
    const n = byProto?.get(protocol) ?? (byProto ? [...byProto.values()][0] : undefined);
    if (n === undefined) throw new UserError(`${at}: unknown service name ${JSON.stringify(w)} (not in /etc/services); use a port number`);
    return n;
  };
  const out: Array<number | [number, number]> = [];
  for (const w of words) {
    const lw = w.toLowerCase();
    if (lw === 'all' || lw === 'any') return null;
    const range = /^([^:]+):([^:]+)$/.exec(w);
    if (range) {
      const lo = one(range[1]!);
      const hi = one(range[2]!);
      if (lo > hi) throw new UserError(`${at}: port range ${w} runs backwards`);
      if (lo === 0 && hi === 65535) return null;
      out.push(lo === hi ? lo : [lo, hi]);
    } else {
      out.push(one(w));
    }
  }
  return out;
}
