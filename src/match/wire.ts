// The form in which a chunk's result crosses from a worker to the main thread. Structured
// cloning an array of event objects cost the main thread more than matching cost a worker (one
// object per matching line, deserialised one property at a time); typed arrays are transferred
// for free and all hosts travel as one string.
import type { MatchEvent } from '../types.js';
import type { ChunkResult, MatchState } from './chunk.js';
import type { Groups } from './compile.js';

/** set in an event's evMeta for <F-NOFAIL> */
export const NOFAIL_BIT = 0x8000_0000;

export interface WireResult {
  lines: number;
  matchesPerJail: number[];
  ignoredPerJail: number[];
  badLines: number;
  cutLines: number;
  state?: MatchState;
  /** per event: jail index, | 0x80000000 for <F-NOFAIL> */
  evMeta: Uint32Array;
  /** per event: its line in the chunk (1-based) */
  evLine: Int32Array;
  evTime: Float64Array;
  /** the events' hosts joined by '\n' (a host never holds one: it comes from one line) */
  evHosts: string;
  /** the few events with user captures: [event index, captures] */
  evCaptures: Array<[number, Record<string, string>]>;
  /** the chunk's memory, handed back for reuse (when it was transferred whole) */
  chunk?: ArrayBuffer;
  /** lines whose verdict needs the connection cache, left to the main thread (merge.ts) */
  deferred?: DeferredWire;
}

/** Matched lines of connection-tied filters, in line order, for FilterRun.finishMerged. */
export interface DeferredWire {
  line: Int32Array;
  /** jail index | failregex index << 16 */
  meta: Uint32Array;
  time: Float64Array;
  /** per record its groups as (name code, value) pairs separated by SEP, UTF-8 (merge.ts);
   * records joined by '\n'; empty for a record in `odd` */
  groups: Uint8Array;
  /** group names by code (code - NAME0) */
  names: string[];
  /** records whose values hold SEP or '\n': [record index, groups] */
  odd: Array<[number, Groups]>;
}

export function fromWire(w: WireResult): ChunkResult {
  const n = w.evMeta.length;
  const events = new Array<MatchEvent>(n);
  const hosts = n > 0 ? w.evHosts.split('\n') : [];
  for (let i = 0; i < n; i++) {
    const m = w.evMeta[i];
    const ev: MatchEvent = { jail: m & ~NOFAIL_BIT, host: hosts[i], time: w.evTime[i] };
    if (m & NOFAIL_BIT) ev.nofail = true;
    events[i] = ev;
  }
  for (const [i, c] of w.evCaptures) events[i].captures = c;
  const r: ChunkResult = {
    lines: w.lines, events, matchesPerJail: w.matchesPerJail, ignoredPerJail: w.ignoredPerJail,
    badLines: w.badLines, cutLines: w.cutLines,
  };
  if (w.state) r.state = w.state;
  if (w.deferred) {
    r.deferred = w.deferred;
    r.eventLines = w.evLine;
  }
  return r;
}
