// Per-jail failure counting with fail2ban's semantics in bounded, compact memory.
//
// fail2ban keeps, per address, the time of the first and last failure and a retry count; when a
// failure arrives more than findtime after the first one, the count is scaled to the rate over
// the last findtime (FailTicket.adjustTime), and entries idle for findtime are dropped. We keep
// the same three numbers in typed-array slabs indexed by a slot. Slots are chained
// oldest-failed first in a doubly linked list (two more Int32 slabs), which makes eviction of
// the oldest window O(1) and a repeated failure cost one lookup. IPv4 keys find their slot in
// an open-addressing table of typed arrays: an IPv4 address costs about 50 bytes in all and no
// garbage-collected object. (A Map used to do both jobs, its insertion order doubling as the LRU
// list: a delete and a re-insert per failure and ~80 bytes of heap per address, which for a
// million addresses was the ban table's main cost in time and the main thread's in memory.)

/** IPv4 addresses are keyed as uint32 numbers, everything else as canonical strings. */
export type AddressKey = number | string;

export interface FailureResult {
  /** failures counted in the current window, after this one */
  retry: number;
}

const NONE = -1;

/** Open-addressing hash (linear probing, backward-shift deletion) from uint32 keys to slots, in
 * two typed arrays: 8 bytes per bucket at most half full, where a Map entry took about 50 and
 * rehashing a million of them doubled the main thread's heap for a moment. */
class Uint32Index {
  private keys = new Uint32Array(1024);
  private vals = new Int32Array(1024).fill(NONE);
  private mask = 1023;
  private shift = 22;
  size = 0;

  private home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.shift;
  }

  get(key: number): number | undefined {
    const { keys, vals, mask } = this;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      const v = vals[i];
      if (v === NONE) return undefined;
      if (keys[i] === key) return v;
    }
  }

  /** `key` must not be present. */
  set(key: number, val: number): void {
    if ((this.size + 1) * 2 > this.vals.length) this.resize(this.vals.length * 2);
    this.place(key, val);
    this.size++;
  }

  delete(key: number): boolean {
    const { keys, vals, mask } = this;
    let i = this.home(key);
    for (; ; i = (i + 1) & mask) {
      if (vals[i] === NONE) return false;
      if (keys[i] === key) break;
    }
    // shift back the entries after i whose home is not between the hole and them
    for (let j = (i + 1) & mask; vals[j] !== NONE; j = (j + 1) & mask) {
      const h = this.home(keys[j]);
      if (((j - h) & mask) >= ((j - i) & mask)) {
        keys[i] = keys[j];
        vals[i] = vals[j];
        i = j;
      }
    }
    vals[i] = NONE;
    this.size--;
    return true;
  }

  clear(): void {
    this.keys = new Uint32Array(1024);
    this.vals = new Int32Array(1024).fill(NONE);
    this.mask = 1023;
    this.shift = 22;
    this.size = 0;
  }

  private place(key: number, val: number): void {
    const { keys, vals, mask } = this;
    let i = this.home(key);
    while (vals[i] !== NONE) i = (i + 1) & mask;
    keys[i] = key;
    vals[i] = val;
  }

  private resize(cap: number): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Uint32Array(cap);
    this.vals = new Int32Array(cap).fill(NONE);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    for (let i = 0; i < oldVals.length; i++) if (oldVals[i] !== NONE) this.place(oldKeys[i], oldVals[i]);
  }
}

/** Slots by key: IPv4 (uint32) keys in a Uint32Index, the rest in a Map. */
class SlotIndex {
  private readonly v4 = new Uint32Index();
  private readonly other = new Map<string, number>();

  get size(): number {
    return this.v4.size + this.other.size;
  }

  get(key: AddressKey): number | undefined {
    return typeof key === 'number' ? this.v4.get(key) : this.other.get(key);
  }

  set(key: AddressKey, slot: number): void {
    if (typeof key === 'number') this.v4.set(key, slot);
    else this.other.set(key, slot);
  }

  has(key: AddressKey): boolean {
    return this.get(key) !== undefined;
  }

  delete(key: AddressKey): boolean {
    return typeof key === 'number' ? this.v4.delete(key) : this.other.delete(key);
  }

  clear(): void {
    this.v4.clear();
    this.other.clear();
  }
}

export class FailureWindows {
  private readonly slots = new SlotIndex();
  private first: Float64Array;
  private last: Float64Array;
  private retry: Uint32Array;
  /** LRU chain: older and newer neighbour of each slot, NONE at the ends */
  private older: Int32Array;
  private newer: Int32Array;
  private oldest = NONE;
  private newest = NONE;
  /** the key held by each slot (to remove it from the index when evicted or swept): uint32
   * keys in a slab, the few others by slot */
  private numKey: Uint32Array;
  private readonly strKey = new Map<number, string>();
  private readonly free: number[] = [];
  private used = 0;
  /** the last key has() found, so the add() that follows needs no second lookup */
  private seenKey: AddressKey | undefined;
  private seenSlot = NONE;

  constructor(
    private findtime: number,
    initialCapacity = 1024,
  ) {
    this.first = new Float64Array(initialCapacity);
    this.last = new Float64Array(initialCapacity);
    this.retry = new Uint32Array(initialCapacity);
    this.older = new Int32Array(initialCapacity);
    this.newer = new Int32Array(initialCapacity);
    this.numKey = new Uint32Array(initialCapacity);
  }

  get size(): number {
    return this.slots.size;
  }

  setFindtime(findtime: number): void {
    this.findtime = findtime;
  }

  /** Count one failure (or `count` of them) at `time` (epoch seconds). */
  add(key: AddressKey, time: number, count = 1): FailureResult {
    let slot = this.seenKey === key && this.seenSlot !== NONE ? this.seenSlot : this.slots.get(key);
    if (slot === undefined) {
      slot = this.allocate();
      this.first[slot] = time;
      this.last[slot] = time;
      this.retry[slot] = count;
      if (typeof key === 'number') this.numKey[slot] = key;
      else this.strKey.set(slot, key);
      this.slots.set(key, slot);
      this.append(slot);
      this.seenKey = key;
      this.seenSlot = slot;
      return { retry: count };
    }
    // most recently failed goes last, so the chain stays least-recently-failed first
    if (slot !== this.newest) {
      this.unlink(slot);
      this.append(slot);
    }
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
    const slot = this.slots.get(key);
    this.seenKey = key;
    this.seenSlot = slot ?? NONE;
    return slot !== undefined;
  }

  delete(key: AddressKey): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    this.release(key, slot);
    return true;
  }

  /** Remove the least recently failed window; returns its key, or undefined when empty. */
  evictOldest(): AddressKey | undefined {
    const slot = this.oldest;
    if (slot === NONE) return undefined;
    const key = this.keyOf(slot);
    this.release(key, slot);
    return key;
  }

  /** Drop windows whose last failure is at least findtime before `now`. Walks from the oldest
   * entry and stops at the first live one, so it costs only what it removes. */
  sweep(now: number): number {
    let removed = 0;
    while (this.oldest !== NONE && now - this.last[this.oldest] >= this.findtime) {
      const slot = this.oldest;
      this.release(this.keyOf(slot), slot);
      removed++;
    }
    return removed;
  }

  clear(): void {
    this.slots.clear();
    this.free.length = 0;
    this.strKey.clear();
    this.used = 0;
    this.oldest = this.newest = NONE;
    this.seenKey = undefined;
    this.seenSlot = NONE;
  }

  private release(key: AddressKey, slot: number): void {
    this.slots.delete(key);
    this.unlink(slot);
    this.strKey.delete(slot);
    this.free.push(slot);
    if (this.seenKey === key) this.seenSlot = NONE;
  }

  private keyOf(slot: number): AddressKey {
    return this.strKey.get(slot) ?? this.numKey[slot];
  }

  private append(slot: number): void {
    this.older[slot] = this.newest;
    this.newer[slot] = NONE;
    if (this.newest !== NONE) this.newer[this.newest] = slot;
    else this.oldest = slot;
    this.newest = slot;
  }

  private unlink(slot: number): void {
    const o = this.older[slot];
    const n = this.newer[slot];
    if (o !== NONE) this.newer[o] = n;
    else this.oldest = n;
    if (n !== NONE) this.older[n] = o;
    else this.newest = o;
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
    const older = new Int32Array(cap);
    older.set(this.older);
    const newer = new Int32Array(cap);
    newer.set(this.newer);
    const numKey = new Uint32Array(cap);
    numKey.set(this.numKey);
    this.numKey = numKey;
    this.first = first;
    this.last = last;
    this.retry = retry;
    this.older = older;
    this.newer = newer;
  }
}
