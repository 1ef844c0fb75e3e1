// Coalesces ban/unban changes into few backend transactions: a change waits at most `windowMs`
// (or until `maxChanges` are pending), one apply() runs at a time, and whatever arrives
// meanwhile forms the next batch. Within pending changes the last change of an address in a
// jail wins: ban then unban is an unban (the address may be in the kernel from an earlier
// batch), unban then ban is a ban.
import { formatAddress } from '../net/address.js';
import type { Backend, BanChange } from '../types.js';

export interface ChangeBatcherOptions {
  /** how long the first change of a batch waits for company; default 2 ms */
  windowMs?: number;
  /** batch size that is sent without waiting for the window; default 5000 */
  maxChanges?: number;
  /** after each successful apply: its duration and how many changes it carried */
  onApplied?: (seconds: number, count: number) => void;
  /** after each failed apply; the changes are not retried (the caller reconciles) */
  onError?: (err: Error, changes: readonly BanChange[]) => void;
}

export class ChangeBatcher {
  private readonly windowMs: number;
  private readonly maxChanges: number;
  private pending = new Map<string, BanChange>();
  private oldestAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly backend: Backend, private readonly opts: ChangeBatcherOptions = {}) {
    this.windowMs = opts.windowMs ?? 2;
    this.maxChanges = opts.maxChanges ?? 5000;
    if (!(this.windowMs >= 0) || !(this.maxChanges >= 1)) throw new RangeError('batch window must be >= 0 ms and batch size >= 1');
  }

  /** Changes waiting for the next apply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  push(change: BanChange): void {
    const key = `${change.jail}\0${formatAddress(change)}`;
    if (this.pending.size === 0) this.oldestAt = performance.now();
    this.pending.delete(key); // re-insert so batch order follows the latest change
    this.pending.set(key, change);
    this.schedule();
  }

  pushAll(changes: Iterable<BanChange>): void {
    for (const c of changes) this.push(c);
  }

  /** Apply everything pending now; resolves when nothing is pending or in flight. */
  async flush(): Promise<void> {
    while (this.pending.size > 0 || this.inFlight) {
      if (!this.inFlight) this.kick();
      await this.inFlight;
    }
  }

  private schedule(): void {
    if (this.inFlight) return; // the running apply schedules the next batch when it ends
    if (this.pending.size >= this.maxChanges) {
      this.kick();
      return;
    }
    if (this.timer || this.pending.size === 0) return;
    const wait = Math.max(0, this.windowMs - (performance.now() - this.oldestAt));
    this.timer = setTimeout(() => this.kick(), wait);
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.inFlight || this.pending.size === 0) return;
    let batch: BanChange[];
    if (this.pending.size <= this.maxChanges) {
      batch = [...this.pending.values()];
      this.pending = new Map();
    } else {
      batch = [];
      for (const [k, c] of this.pending) {
        if (batch.length >= this.maxChanges) break;
        batch.push(c);
        this.pending.delete(k);
      }
      this.oldestAt = performance.now() - this.windowMs; // the rest is already overdue
    }
    this.inFlight = this.run(batch).finally(() => {
      this.inFlight = null;
      this.schedule();
    });
  }

  private async run(batch: BanChange[]): Promise<void> {
    const t0 = performance.now();
    try {
      await this.backend.apply(batch);
      this.opts.onApplied?.((performance.now() - t0) / 1000, batch.length);
    } catch (e) {
      this.opts.onError?.(e instanceof Error ? e : new Error(String(e)), batch);
    }
  }
}
