// The hot path: one Buffer of whole lines from one source, matched against every filter of the
// jails reading that source. Lines stay bytes; only a line that contains a filter's required
// literal (found with Buffer.indexOf over the whole chunk, not line by line) is decoded and
// handed to the date detector and RE2.
import { isUtf8 } from 'node:buffer';
import type { MatchEvent } from '../types.js';
import type { CompiledFilter } from './compile.js';
import type { DateDetector } from './dates.js';
import { contentOf, FilterRun, type FilterState, type LineVerdict } from './matcher.js';
import { batchGroups, canBatch, firstMatches, matchBatch } from './batch.js';
import { fromWire, NOFAIL_BIT, type WireResult } from './wire.js';

/** Carried between consecutive chunks of one source (multi-line buffers, connection ids). */
export interface MatchState {
  jails: Array<FilterState | null>;
}

export interface ChunkResult {
  lines: number;
  events: MatchEvent[];
  matchesPerJail: number[];
  ignoredPerJail: number[];
  /** lines skipped for NUL bytes or invalid UTF-8 */
  badLines: number;
  /** lines skipped for being longer than maxLineLength */
  cutLines: number;
  /** undefined when nothing needs carrying */
  state?: MatchState;
}

export interface ChunkOptions {
  maxLineLength: number;
}

export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024;

/** candidate lines matched per RE2 call (batch.ts) */
const BATCH_LINES = 2048;

/** True when a filter keeps state across lines (multi-line buffer or <F-MLFID> cache). */
export function isStatefulFilter(f: CompiledFilter): boolean {
  if (f.multiline) return true;
  const regs = [...f.failregex, ...(f.prefregex ? [f.prefregex] : [])];
  return regs.some((r) => r.groupNames.includes('mlfid'));
}

interface GateCursor {
  lit: Buffer;
  /** next occurrence at or after the current line, -1 when none is left; may lag behind */
  next: number;
}

interface GateClause {
  hay: Buffer;
  cursors: GateCursor[];
}

const HIT = 1;
const MISS = 0;
const STALE = 2;

/** What the cursors already say about [lineStart, eol) without searching. */
function known(cl: GateClause, lineStart: number, eol: number): number {
  let stale = false;
  const cs = cl.cursors;
  for (let k = 0; k < cs.length; k++) {
    const next = cs[k].next;
    if (next >= lineStart) {
      if (next < eol) return HIT;
    } else if (next >= 0) stale = true;
  }
  return stale ? STALE : MISS;
}

/** Searches on from the lagging cursors: does one of the clause's literals occur in the line? */
function searched(cl: GateClause, lineStart: number, eol: number): boolean {
  const cs = cl.cursors;
  for (let k = 0; k < cs.length; k++) {
    const c = cs[k];
    if (c.next >= 0 && c.next < lineStart) c.next = cl.hay.indexOf(c.lit, lineStart);
    if (c.next >= lineStart && c.next < eol) return true;
  }
  return false;
}

/** Every clause has a literal in the line. Clauses the cursors already decide go first, so a
 * rare literal rejects a line without searching for the common ones. Cursors only move
 * forward: each literal costs one pass over the chunk plus a call per line it is asked about. */
function passes(cls: GateClause[], lineStart: number, eol: number): boolean {
  let stale = 0;
  for (let i = 0; i < cls.length; i++) {
    const k = known(cls[i], lineStart, eol);
    if (k === MISS) return false;
    if (k === STALE) stale |= 1 << i;
  }
  if (stale === 0) return true;
  for (let i = 0; i < cls.length; i++) if (stale & (1 << i) && !searched(cls[i], lineStart, eol)) return false;
  return true;
}

/** The filters of the jails on one source, compiled, with per-source date detectors. */
export class CompiledGroup {
  readonly stateful: boolean;
  /** detectors shared by filters with the same datepattern and time zone */
  private readonly detectorOf: DateDetector[];
  private readonly detectorIds: number[];
  /** filters whose candidate lines are matched all at once after the scan (batch.ts) */
  private readonly batched: boolean[];
  /** single-line filters with a prefregex: it runs over many lines at once, the rest line by
   * line (failregexes on its <F-CONTENT>, connection ids), in line order */
  private readonly prefixBatched: boolean[];

  constructor(readonly filters: CompiledFilter[]) {
    this.stateful = filters.some(isStatefulFilter);
    const byKey = new Map<string, number>();
    const detectors: DateDetector[] = [];
    this.detectorIds = filters.map((f) => {
      const key = JSON.stringify([f.def.datepattern?.map((d) => d.value) ?? null, f.def.logtimezone ?? null]);
      let id = byKey.get(key);
      if (id === undefined) {
        id = detectors.length;
        detectors.push(f.newDateDetector());
        byKey.set(key, id);
      }
      return id;
    });
    this.detectorOf = detectors;
    this.batched = filters.map(canBatch);
    this.prefixBatched = filters.map((f, j) => !this.batched[j] && !f.multiline && !!f.prefregex?.batch);
  }

  process(buf: Buffer, arrival: number, state: MatchState | undefined, opts: ChunkOptions): ChunkResult {
    return fromWire(this.processToWire(buf, arrival, state, opts));
  }

  /** process() in the form a worker sends back (wire.ts): events go straight into flat arrays
   * instead of one object each, which a worker had to keep alive for the whole chunk. */
  processToWire(buf: Buffer, arrival: number, state: MatchState | undefined, opts: ChunkOptions): WireResult {
    const nf = this.filters.length;
    const runs = this.filters.map((f, j) => new FilterRun(f, state?.jails[j] ?? undefined));
    // events as parallel arrays, with the index of their line, so batched and line-by-line
    // results can be put in line order
    const evLine: number[] = [];
    const evMeta: number[] = [];
    const evTime: number[] = [];
    const evHost: string[] = [];
    const evCaptures: Array<[number, Record<string, string>]> = [];
    const pending: Array<{ lines: number[]; rests: string[]; times: number[] } | null> = this.batched.map((b, j) => (b || this.prefixBatched[j] ? { lines: [], rests: [], times: [] } : null));
    const record = (j: number, lineNo: number, v: LineVerdict, time: number): void => {
      if (v.ignored !== undefined) ignoredPerJail[j]++;
      const fail = v.failure;
      if (!fail) return;
      if (!fail.nofail) matchesPerJail[j]++;
      if (fail.captures) evCaptures.push([evLine.length, fail.captures]);
      evLine.push(lineNo);
      evMeta.push(fail.nofail ? (j | NOFAIL_BIT) >>> 0 : j);
      evTime.push(time);
      evHost.push(fail.host);
    };
    // batches of bounded size: their strings die young instead of being promoted to the old
    // generation, which made each worker's heap grow by a chunk's worth of lines
    const flush = (j: number): void => {
      const p = pending[j];
      if (!p || p.rests.length === 0) return;
      if (this.batched[j]) {
        const verdicts = matchBatch(this.filters[j], p.rests);
        for (let k = 0; k < verdicts.length; k++) record(j, p.lines[k], verdicts[k], p.times[k]);
      } else {
        const f = this.filters[j];
        const pre = batchGroups(f.prefregex!, p.rests);
        if (f.failregex.every((r) => r.batch !== null)) {
          // the failregexes too, over the prefregex's <F-CONTENT>s; the rest in line order
          const texts: string[] = [];
          for (let k = 0; k < pre.length; k++) if (pre[k]) texts.push(contentOf(p.rests[k], pre[k]!));
          const found = firstMatches(f, texts);
          for (let k = 0, q = 0; k < pre.length; k++) {
            const g = pre[k];
            if (!g) continue;
            const hit = found[q];
            record(j, p.lines[k], runs[j].processMatched(texts[q], g, hit ? hit.ri : -1, hit ? hit.groups : null, p.times[k]), p.times[k]);
            q++;
          }
        } else {
          for (let k = 0; k < pre.length; k++) record(j, p.lines[k], runs[j].processPrefixed(p.rests[k], pre[k], p.times[k]), p.times[k]);
        }
      }
      pending[j] = { lines: [], rests: [], times: [] };
    };
    const matchesPerJail = new Array<number>(nf).fill(0);
    const ignoredPerJail = new Array<number>(nf).fill(0);
    let lines = 0;
    let badLines = 0;
    let cutLines = 0;

    // filters that see every line (no literal, or a multi-line buffer), and gated ones
    const always: number[] = [];
    const gated: number[] = [];
    for (let j = 0; j < nf; j++) (this.filters[j].gate && !this.filters[j].multiline ? gated : always).push(j);
    let lowered: Buffer | undefined;
    const lower = (): Buffer => (lowered ??= Buffer.from(buf.toString('latin1').toLowerCase(), 'latin1'));
    // per gated filter, its clauses (the gate's anyOf, then each of `also`), each a list of
    // cursors over the chunk (or its lower-cased copy)
    const clauses: GateClause[][] = gated.map((j) => {
      const g = this.filters[j].gate!;
      return [g, ...(g.also ?? [])].map((c) => {
        const hay = c.caseInsensitive ? lower() : buf;
        return { hay, cursors: c.anyOf.map((lit) => ({ lit, next: hay.indexOf(lit, 0) })) };
      });
    });

    // bad bytes: checked once for the whole chunk; per line only when the chunk has some
    const hasNul = buf.indexOf(0) >= 0;
    const valid = !hasNul && isUtf8(buf);
    const maxLen = opts.maxLineLength;
    const candidates = new Int32Array(nf);
    const hits: Array<ReturnType<DateDetector['detect']> | undefined> = new Array(this.detectorOf.length);
    const times: number[] = new Array<number>(this.detectorOf.length).fill(arrival);

    const n = buf.length;
    let pos = 0;
    while (pos < n) {
      let eol = buf.indexOf(10, pos);
      if (eol < 0) eol = n;
      lines++;
      const lineStart = pos;
      pos = eol + 1;
      let end = eol;
      if (end > lineStart && buf[end - 1] === 13) end--;

      let nc = 0;
      for (let a = 0; a < always.length; a++) candidates[nc++] = always[a];
      for (let gi = 0; gi < gated.length; gi++) if (passes(clauses[gi], lineStart, eol)) candidates[nc++] = gated[gi];
      if (nc === 0) {
        if (eol - lineStart > maxLen) cutLines++;
        else if (!valid && isBad(buf, lineStart, end)) badLines++;
        continue;
      }
      if (end - lineStart > maxLen) {
        cutLines++;
        continue;
      }
      if (!valid && isBad(buf, lineStart, end)) {
        badLines++;
        continue;
      }
      const line = buf.toString('utf8', lineStart, end);
      hits.fill(undefined);
      for (let ci = 0; ci < nc; ci++) {
        const j = candidates[ci];
        const d = this.detectorIds[j];
        let hit = hits[d];
        if (hit === undefined) {
          hit = hits[d] = this.detectorOf[d].detect(line, arrival);
          times[d] = this.detectorOf[d].timeOf(hit, arrival) ?? arrival;
        }
        const rest = hit && hit.end > hit.start ? line.slice(0, hit.start) + line.slice(hit.end) : line;
        const time = times[d];
        const p = pending[j];
        if (p) {
          p.lines.push(lines);
          p.rests.push(rest);
          p.times.push(time);
          if (p.rests.length >= BATCH_LINES) flush(j);
        } else record(j, lines, runs[j].processLine(rest, time), time);
      }
    }

    for (let j = 0; j < nf; j++) flush(j);
    const ne = evLine.length;
    const out: WireResult = {
      lines, matchesPerJail, ignoredPerJail, badLines, cutLines,
      evMeta: new Uint32Array(ne), evTime: new Float64Array(ne), evHosts: '', evCaptures,
    };
    if (pending.some((p) => p !== null) && nf > 1 && !inOrder(evLine, evMeta)) {
      const order = Array.from({ length: ne }, (_, i) => i).sort((a, b) => evLine[a] - evLine[b] || (evMeta[a] & ~NOFAIL_BIT) - (evMeta[b] & ~NOFAIL_BIT));
      const at = new Array<number>(ne);
      const hosts = new Array<string>(ne);
      for (let k = 0; k < ne; k++) {
        const i = order[k];
        at[i] = k;
        out.evMeta[k] = evMeta[i];
        out.evTime[k] = evTime[i];
        hosts[k] = evHost[i];
      }
      for (const c of evCaptures) c[0] = at[c[0]];
      evCaptures.sort((a, b) => a[0] - b[0]);
      out.evHosts = hosts.join('\n');
    } else {
      out.evMeta.set(evMeta);
      out.evTime.set(evTime);
      out.evHosts = evHost.join('\n');
    }
    if (runs.some((r) => !r.stateless)) out.state = { jails: runs.map((r) => (r.stateless ? null : r.state())) };
    return out;
  }
}

/** Events already in (line, jail) order: the usual case, which needs no sort. */
function inOrder(line: number[], meta: number[]): boolean {
  for (let i = 1; i < line.length; i++) {
    if (line[i] < line[i - 1] || (line[i] === line[i - 1] && (meta[i] & ~NOFAIL_BIT) < (meta[i - 1] & ~NOFAIL_BIT))) return false;
  }
  return true;
}

function isBad(buf: Buffer, start: number, end: number): boolean {
  const nul = buf.indexOf(0, start);
  if (nul >= 0 && nul < end) return true;
  return !isUtf8(buf.subarray(start, end));
}
