// Both halves of connection-tied filters (canDeferMerge: sshd and its kin). Workers match the
// chunks of such a source in parallel and write each matched line's groups down (DeferredWriter)
// instead of running the <F-MLFID> step; DeferredMerger keeps each filter's connection cache and
// runs that step on the main thread in file order: the only part of those filters that depends
// on earlier lines. Before, such a source was matched one chunk at a time on one worker,
// passing the cache along.
import type { MatchEvent } from '../types.js';
import type { CompiledFilter, Groups } from './compile.js';
import { FilterRun } from './matcher.js';
import type { DeferredWire } from './wire.js';

/** Separates the groups of a record; a value holding it (or '\n') travels in `odd`. */
const SEP = '\u0001';
/** A group's name is written as one character, NAME0 + its index in the chunk's `names`. */
const NAME0 = 0x20;

/** The worker's half: a chunk's deferred lines, encoded as DeferredWire. */
export class DeferredWriter {
  private readonly line: number[] = [];
  private readonly meta: number[] = [];
  private readonly time: number[] = [];
  // records as UTF-8 in memory of their own: an array of tens of thousands of strings outlived
  // the young generation and grew each worker's heap to ~100 MB on sshd (b)
  private buf: Buffer | null = null;
  private len = 0;
  private readonly odd: Array<[number, Groups]> = [];
  /** group names by their code: a handful per filter, where writing each name out was a
   * third of a record's bytes and the main thread looked every one up again */
  private readonly names: string[] = [];
  private readonly codes = new Map<string, string>();

  /** Line `lineNo` matched failregex `ri` of jail `jail` with these (prefregex + failregex) groups. */
  push(jail: number, lineNo: number, ri: number, time: number, groups: Groups): void {
    let enc = '';
    let odd = false;
    for (const name in groups) {
      const v = groups[name];
      if (v === undefined) continue;
      if (v.includes(SEP) || v.includes('\n')) odd = true;
      enc += (enc ? SEP : '') + this.codeOf(name) + v;
    }
    if (odd) {
      this.odd.push([this.line.length, groups]);
      enc = '';
    }
    this.line.push(lineNo);
    this.meta.push((jail | (ri << 16)) >>> 0);
    this.time.push(time);
    const most = this.len + 3 * enc.length + 1; // UTF-8 takes at most 3 bytes a UTF-16 unit
    if (!this.buf || most > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(64 * 1024, most * 2));
      if (this.buf) this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    if (this.line.length > 1) this.buf[this.len++] = 0x0a;
    this.len += this.buf.write(enc, this.len, 'utf8');
  }

  private codeOf(name: string): string {
    let c = this.codes.get(name);
    if (c === undefined) {
      c = String.fromCharCode(NAME0 + this.names.length);
      this.names.push(name);
      this.codes.set(name, c);
    }
    return c;
  }

  finish(): DeferredWire {
    return {
      line: Int32Array.from(this.line), meta: Uint32Array.from(this.meta), time: Float64Array.from(this.time),
      groups: this.buf ? new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.len) : new Uint8Array(0),
      names: this.names, odd: this.odd,
    };
  }
}

/** The parts of a chunk's result (ChunkResult) that completing it touches. */
export interface MergeableResult {
  events: MatchEvent[];
  matchesPerJail: number[];
  deferred?: DeferredWire;
  eventLines?: Int32Array;
}

export class DeferredMerger {
  private readonly runs: FilterRun[];

  constructor(filters: readonly CompiledFilter[]) {
    this.runs = filters.map((f) => new FilterRun(f));
  }

  /** Turns a chunk's deferred lines into events (and counts), in line order among the chunk's
   * other events. Chunks must come in file order. */
  complete(r: MergeableResult): void {
    const d = r.deferred;
    if (!d) return;
    delete r.deferred;
    const n = d.line.length;
    if (n === 0) return;
    const merged: MatchEvent[] = [];
    const mergedLines: number[] = [];
    const text = Buffer.from(d.groups.buffer, d.groups.byteOffset, d.groups.byteLength).toString('utf8');
    // record i starts at starts[i]: read in place rather than split into an array of strings
    // that would outlive the young generation (the main thread's heap grew to ~120 MB on b)
    const starts = new Int32Array(n + 1);
    for (let i = 1, p = -1; i <= n; i++) {
      p = i < n ? text.indexOf('\n', p + 1) : text.length;
      starts[i] = i < n ? p + 1 : text.length + 1;
    }
    const odd = new Map(d.odd);
    const order = recordOrder(d);
    for (let k = 0; k < n; k++) {
      const i = order ? order[k] : k;
      const jail = d.meta[i] & 0xffff;
      const ri = d.meta[i] >>> 16;
      const groups = odd.get(i) ?? decodeGroups(text, starts[i], starts[i + 1] - 1, d.names);
      const v = this.runs[jail].finishMerged(ri, groups, d.time[i]);
      const fail = v.failure;
      if (!fail) continue;
      if (!fail.nofail) r.matchesPerJail[jail]++;
      const ev: MatchEvent = { jail, host: fail.host, time: d.time[i] };
      if (fail.nofail) ev.nofail = true;
      if (fail.captures) ev.captures = fail.captures;
      merged.push(ev);
      mergedLines.push(d.line[i]);
    }
    if (merged.length === 0) return;
    r.events = mergeByLine(r.events, r.eventLines ?? new Int32Array(0), merged, mergedLines);
    delete r.eventLines;
  }
}

/** The order to complete a chunk's records in: by (line, jail). Each jail's records are in line
 * order and the jails' batches come one after another, so with one jail (sshd) they are in
 * order already: null then (sorting them anyway was a fifth of the main thread's step). */
function recordOrder(d: DeferredWire): number[] | null {
  const n = d.line.length;
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) {
    sorted = d.line[i - 1] < d.line[i] || (d.line[i - 1] === d.line[i] && (d.meta[i - 1] & 0xffff) <= (d.meta[i] & 0xffff));
  }
  if (sorted) return null;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => d.line[a] - d.line[b] || (d.meta[a] & 0xffff) - (d.meta[b] & 0xffff));
  return order;
}

/** The record in text[from, to): (name code, value) pairs separated by SEP, read in place. */
function decodeGroups(text: string, from: number, to: number, names: readonly string[]): Groups {
  const g: Groups = {};
  let p = from;
  while (p < to) {
    let b = text.indexOf(SEP, p);
    if (b < 0 || b > to) b = to;
    g[names[text.charCodeAt(p) - NAME0]] = text.slice(p + 1, b);
    p = b + 1;
  }
  return g;
}

/** Two event lists, each in line order, as one; on the same line the worker's events (other
 * jails, lower or equal index) go first, as one worker would have recorded them. */
function mergeByLine(a: MatchEvent[], aLines: Int32Array, b: MatchEvent[], bLines: number[]): MatchEvent[] {
  if (a.length === 0) return b;
  const out: MatchEvent[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    if (aLines[i] < bLines[j] || (aLines[i] === bLines[j] && a[i].jail <= b[j].jail)) out[k++] = a[i++];
    else out[k++] = b[j++];
  }
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}
