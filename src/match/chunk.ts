// The hot path: one Buffer of whole lines from one source, matched against every filter of the
// jails reading that source. Lines stay bytes; only a line that contains a filter's required
// literal (found with Buffer.indexOf over the whole chunk, not line by line) is decoded and
// handed to the date detector and RE2.
import { isUtf8 } from 'node:buffer';
import type { MatchEvent } from '../types.js';
import type { CompiledFilter } from './compile.js';
import type { DateDetector } from './dates.js';
import { FilterRun, type FilterState, type LineVerdict } from './matcher.js';
import { canBatch, matchBatch } from './batch.js';

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

/** True when a filter keeps state across lines (multi-line buffer or <F-MLFID> cache). */
export function isStatefulFilter(f: CompiledFilter): boolean {
  if (f.multiline) return true;
  const regs = [...f.failregex, ...(f.prefregex ? [f.prefregex] : [])];
  return regs.some((r) => r.groupNames.includes('mlfid'));
}

interface GateCursor {
  lit: Buffer;
  /** next occurrence at or after the current line, -1 when none is left */
  next: number;
}

/** The filters of the jails on one source, compiled, with per-source date detectors. */
export class CompiledGroup {
  readonly stateful: boolean;
  /** detectors shared by filters with the same datepattern and time zone */
  private readonly detectorOf: DateDetector[];
  private readonly detectorIds: number[];
  /** filters whose candidate lines are matched all at once after the scan (batch.ts) */
  private readonly batched: boolean[];

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
  }

  process(buf: Buffer, arrival: number, state: MatchState | undefined, opts: ChunkOptions): ChunkResult {
    const nf = this.filters.length;
    const runs = this.filters.map((f, j) => new FilterRun(f, state?.jails[j] ?? undefined));
    // events with the index of their line, so batched and line-by-line results merge in order
    const events: Array<{ line: number; ev: MatchEvent }> = [];
    const pending: Array<{ lines: number[]; rests: string[]; times: number[] } | null> = this.batched.map((b) => (b ? { lines: [], rests: [], times: [] } : null));
    const record = (j: number, lineNo: number, v: LineVerdict, time: number): void => {
      if (v.ignored !== undefined) ignoredPerJail[j]++;
      const fail = v.failure;
      if (!fail) return;
      if (!fail.nofail) matchesPerJail[j]++;
      const ev: MatchEvent = { jail: j, host: fail.host, time };
      if (fail.nofail) ev.nofail = true;
      if (fail.captures) ev.captures = fail.captures;
      events.push({ line: lineNo, ev });
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
    const cursors: GateCursor[][] = gated.map((j) => {
      const g = this.filters[j].gate!;
      let hay = buf;
      if (g.caseInsensitive) hay = lowered ??= Buffer.from(buf.toString('latin1').toLowerCase(), 'latin1');
      return g.anyOf.map((lit) => ({ lit, next: hay.indexOf(lit, 0) }));
    });
    const hays = gated.map((j) => (this.filters[j].gate!.caseInsensitive ? lowered! : buf));

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
      for (let gi = 0; gi < gated.length; gi++) {
        const cs = cursors[gi];
        for (let k = 0; k < cs.length; k++) {
          const c = cs[k];
          if (c.next >= 0 && c.next < lineStart) c.next = hays[gi].indexOf(c.lit, lineStart);
          if (c.next >= 0 && c.next < eol) {
            candidates[nc++] = gated[gi];
            break;
          }
        }
      }
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
        } else record(j, lines, runs[j].processLine(rest, time), time);
      }
    }

    for (let j = 0; j < nf; j++) {
      const p = pending[j];
      if (!p || p.rests.length === 0) continue;
      const verdicts = matchBatch(this.filters[j], p.rests);
      for (let k = 0; k < verdicts.length; k++) record(j, p.lines[k], verdicts[k], p.times[k]);
    }
    if (pending.some((p) => p !== null) && nf > 1) events.sort((a, b) => a.line - b.line || a.ev.jail - b.ev.jail);

    const result: ChunkResult = { lines, events: events.map((e) => e.ev), matchesPerJail, ignoredPerJail, badLines, cutLines };
    if (runs.some((r) => !r.stateless)) result.state = { jails: runs.map((r) => (r.stateless ? null : r.state())) };
    return result;
  }
}

function isBad(buf: Buffer, start: number, end: number): boolean {
  const nul = buf.indexOf(0, start);
  if (nul >= 0 && nul < end) return true;
  return !isUtf8(buf.subarray(start, end));
}
