// Per-jail failure counting with fail2ban's semantics in bounded, compact memory.
//
// fail2ban keeps, per address, the time of the first and last failure and a retry count; when a
// failure arrives more than findtime after the first one, the count is scaled to the rate over
// the last findtime (FailTicket.adjustTime), and entries idle for findtime are dropped. We keep
// the same three numbers in typed-array slabs indexed by a slot, so an address costs one Map
// entry plus 20 bytes, and the Map's insertion order doubles as the LRU list (a touched key is
// re-inserted at the end), which makes eviction of the oldest window O(1).

/** IPv4 addresses are keyed as uint32 numbers, everything else as canonical strings. */
export type AddressKey = number | string;

export interface FailureResult {
  /** failures counted in the current window, after this one */
  retry: number;
}

export class FailureWindows {
  private readonly slots = new Map<AddressKey, number>();
  private first: Float64Array;
  private last: Float64Array;
  private retry: Uint32Array;
  private readonly free: number[] = [];
  private used = 0;

  constructor(
    private findtime: number,
    initialCapacity = 1024,
  ) {
    this.first = new Float64Array(initialCapacity);
    this.last = new Float64Array(initialCapacity);
    this.retry = new Uint32Array(initialCapacity);
  }

  get size(): number {
    return this.slots.size;
  }

  setFindtime(findtime: number): void {
    this.findtime = findtime;
  }

  /** Count one failure (or `count` of them) at `time` (epoch seconds). */
  add(key: AddressKey, time: number, count = 1): FailureResult {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.allocate();
      this.first[slot] = time;
      this.last[slot] = time;
      this.retry[slot] = count;
      this.slots.set(key, slot);
      return { retry: count };
    }
    // Re-insert so the Map's order stays least-recently-failed first.
    this.slots.delete(key);
    this.slots.set(key, slot);
    const findtime = this.findtime;
    if (time - this.last[slot] >= findtime && findtime >= 0) {
      // idle for a whole findtime: fail2ban's cleanup would have dropped it; start afresh
      this.first[slot] = time;
      this.last[slot] = time;
      this.retry[slot] = count;
      return { retry: count };
    }
    if (time > this.last[slot]) {
      if (this.first[slot] < time - findtime) {
        const span = time - this.first[slot];
        this.retry[slot] = Math.round((this.retry[slot] / span) * findtime);
        this.first[slot] = time - findtime;
      }
      this.last[slot] = time;
    }
    this.retry[slot] += count;
    return { retry: this.retry[slot] };
  }

  has(key: AddressKey): boolean {
    return this.slots.has(key);
  }

  delete(key: AddressKey): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    this.slots.delete(key);
    this.free.push(slot);
    return true;
  }

  /** Remove the least recently failed window; returns its key, or undefined when empty. */
  evictOldest(): AddressKey | undefined {
    const it = this.slots.keys().next();
    if (it.done) return undefined;
    this.delete(it.value);
    return it.value;
  }

  /** Drop windows whose last failure is at least findtime before `now`. Walks from the oldest
   * entry and stops at the first live one, so it costs only what it removes. */
  sweep(now: number): number {
    let removed = 0;
    for (const [key, slot] of this.slots) {
      if (now - this.last[slot] < this.findtime) break;
      this.slots.delete(key);
      this.free.push(slot);
      removed++;
    }
    return removed;
  }

  clear(): void {
    this.slots.clear();
    this.free.length = 0;
    this.used = 0;
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.first.length) this.grow();
    return this.used++;
  }

  private grow(): void {
    const cap = this.first.length * 2;
    const first = new Float64Array(cap);
    first.set(this.first);
    const last = new Float64Array(cap);
    last.set(this.last);
    const retry = new Uint32Array(cap);
    retry.set(this.retry);
    this.first = first;
    this.last = last;
    this.retry = retry;
  }
}
