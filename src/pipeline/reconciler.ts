// Periodically checks that the kernel still holds our table, sets and chain (a cheap sentinel
// lookup, never a listing of big sets) and repairs it after an external flush or a failed
// transaction: recreate the structures, then re-add every active ban with its remaining time.
import type { Backend, BanChange, JailRule } from '../types.js';
import type { BanEntry } from '../bans/ban-table.js';
import type { Logger } from '../log.js';

export interface ReconcilerOptions {
  backend: Backend;
  intervalSec: number;
  rules: () => JailRule[];
  bans: () => BanEntry[];
  reapply: (changes: BanChange[]) => Promise<void>;
  repaired: () => void;
  log: Logger;
  now?: () => number;
}

export function remainingBanChanges(bans: readonly BanEntry[], now: number): BanChange[] {
  const out: BanChange[] = [];
  for (const e of bans) {
    const left = e.expires === Infinity ? -1 : Math.ceil(e.expires - now);
    if (left === 0 || left < -1) continue;
    out.push({ op: 'ban', jail: e.jail, addr: e.addr, family: e.family, prefix: e.prefix, timeout: left });
  }
  return out;
}

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly opts: ReconcilerOptions) {}

  start(): void {
    if (this.opts.intervalSec <= 0) return;
    this.timer = setInterval(() => void this.check(), this.opts.intervalSec * 1000);
    this.timer.unref();
  }

  /** Check right away (after a backend error). */
  soon(): void {
    setImmediate(() => void this.check());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** One check; repairs when needed. Resolves true when a repair was made. */
  async check(): Promise<boolean> {
    if (this.running || this.stopped) {
      await this.running;
      return false;
    }
    let repaired = false;
    this.running = (async () => {
      const o = this.opts;
      try {
        if (await o.backend.healthy()) return;
        o.log.warn('reconcile', `${o.backend.name}: kernel state is missing or damaged; restoring it`);
        await o.backend.start(o.rules());
        const changes = remainingBanChanges(o.bans(), (o.now ?? (() => Date.now() / 1000))());
        await o.reapply(changes);
        o.repaired();
        repaired = true;
        o.log.notice('reconcile', `${o.backend.name}: restored ${changes.length} ban(s)`);
      } catch (err) {
        o.log.error('reconcile', `${o.backend.name}: repair failed: ${(err as Error).message}`);
      }
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
    return repaired;
  }
}
