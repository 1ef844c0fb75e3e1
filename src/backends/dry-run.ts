// A backend that touches nothing: it logs each decision and keeps the resulting ban state in
// memory, so `logban run --backend dry-run` shows what would happen and tests can inspect it.
import { formatAddress } from '../net/address.js';
import type { Backend, BanChange, JailRule } from '../types.js';

export interface DryRunBan {
  jail: string;
  addr: string;
  prefix?: number;
  /** ms epoch when the kernel would drop it; Infinity = permanent */
  expiresAt: number;
}

export class DryRunBackend implements Backend {
  readonly name = 'dry-run';
  /** every apply() call's changes, in order (tests look at batching) */
  readonly batches: BanChange[][] = [];
  private readonly bans = new Map<string, DryRunBan>();
  private jails = new Set<string>();
  private started = false;

  constructor(private readonly log: (msg: string) => void = () => undefined, private readonly now: () => number = Date.now) {}

  async start(jails: readonly JailRule[]): Promise<void> {
    this.jails = new Set(jails.map((j) => j.name));
    for (const [k, b] of this.bans) if (!this.jails.has(b.jail)) this.bans.delete(k);
    this.started = true;
    for (const j of jails) {
      const ports = j.ports === null ? 'all ports' : `port ${j.ports.map((p) => (Array.isArray(p) ? `${p[0]}-${p[1]}` : p)).join(',')}`;
      this.log(`dry-run: jail ${j.name}: would drop ${j.protocol} ${ports} from banned addresses`);
    }
  }

  async apply(changes: readonly BanChange[]): Promise<void> {
    this.batches.push([...changes]);
    const now = this.now();
    for (const c of changes) {
      const key = `${c.jail}\0${formatAddress(c)}`;
      if (c.op === 'ban') {
        this.bans.set(key, { jail: c.jail, addr: c.addr, prefix: c.prefix, expiresAt: c.timeout < 0 ? Infinity : now + c.timeout * 1000 });
        this.log(`dry-run: ban ${formatAddress(c)} in ${c.jail} ${c.timeout < 0 ? 'permanently' : `for ${c.timeout}s`}`);
      } else {
        this.bans.delete(key);
        this.log(`dry-run: unban ${formatAddress(c)} in ${c.jail}`);
      }
    }
  }

  async healthy(): Promise<boolean> {
    return this.started;
  }

  async stop(keep: boolean): Promise<void> {
    if (!keep) this.bans.clear();
    this.started = false;
    this.log(`dry-run: stopped${keep ? '' : ', bans dropped'}`);
  }

  /** Bans that would be in the kernel now (expired ones left out, as the kernel would). */
  active(): DryRunBan[] {
    const now = this.now();
    return [...this.bans.values()].filter((b) => b.expiresAt > now);
  }

  isBanned(jail: string, addr: string): boolean {
    const b = this.bans.get(`${jail}\0${addr}`);
    return b !== undefined && b.expiresAt > this.now();
  }
}
