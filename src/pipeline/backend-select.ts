// Picks the kernel backend. `auto` means nftables when we can use it (root and an `nft`
// binary), otherwise the dry-run backend, said plainly in the log: a new user starting logban
// without root must see that nothing is being blocked.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { Backend, LogbanSettings } from '../types.js';
import { NftBackend } from '../backends/nftables.js';
import { DryRunBackend } from '../backends/dry-run.js';
import { XdpBackend } from '../backends/xdp.js';
import type { Logger } from '../log.js';

export function findExecutable(name: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

const CAP_NET_ADMIN = 12;

/** Root, or a process holding CAP_NET_ADMIN (the systemd unit may run logban as another user
 * with ambient capabilities): what nft needs. */
function canAdminNetwork(): boolean {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return true;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) >> BigInt(CAP_NET_ADMIN)) % 2n === 1n;
  } catch {
    return false;
  }
}

export function selectBackend(settings: LogbanSettings, log: Logger): Backend {
  const say = (m: string) => log.info('backend', m);
  switch (settings.backend) {
    case 'dry-run':
      log.notice('backend', 'dry-run backend: decisions are logged, nothing is blocked');
      return new DryRunBackend(say);
    case 'nftables': {
      const nft = findExecutable('nft');
      if (!nft) throw new UserError('backend nftables: the nft command was not found (install the nftables package)');
      if (!canAdminNetwork()) throw new UserError('backend nftables: needs root (or CAP_NET_ADMIN); run as root or use --backend dry-run');
      return new NftBackend({ table: settings.nftTable, chainPriority: settings.nftChainPriority, nftPath: nft, log: say });
    }
    case 'xdp':
      if (settings.xdpInterfaces.length === 0) {
        throw new UserError('backend xdp: no interface given (use --xdp-interface IFACE or xdp_interfaces in logban.conf)');
      }
      if (!canAdminNetwork()) throw new UserError('backend xdp: needs root (CAP_BPF, CAP_NET_ADMIN)');
      return new XdpBackend({ interfaces: settings.xdpInterfaces, keepOnStop: settings.xdpKeepOnStop, log: say });
    case 'auto': {
      const nft = findExecutable('nft');
      if (canAdminNetwork() && nft) {
        say(`backend auto: using nftables (${nft}), table inet ${settings.nftTable}`);
        return new NftBackend({ table: settings.nftTable, chainPriority: settings.nftChainPriority, nftPath: nft, log: say });
      }
      const why = !canAdminNetwork() ? 'not running as root (nor with CAP_NET_ADMIN)' : 'the nft command was not found';
      log.warn('backend', `backend auto: ${why}, falling back to the dry-run backend: bans are logged, NOT applied`);
      return new DryRunBackend(say);
    }
  }
}
