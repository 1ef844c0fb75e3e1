// The hot path: one Buffer of whole lines from one source, matched against every filter of the
// jails reading that source. Lines stay bytes; only a line that contains a filter's required
// literal (found by one scan of the whole chunk for all filters' literals, scanner.ts) is
// decoded, checked for the filter's other required literals, and handed to the date detector
// and RE2.
import { isUtf8 } from 'node:buffer';
import type { MatchEvent } from '../types.js';
import type { CompiledFilter, Groups } from './compile.js';
import type { DateDetector } from './dates.js';
import { contentOf, FilterRun, withPrefix, type FilterState, type LineVerdict } from './matcher.js';
import { batchGroups, canBatch, firstMatches, matchBatch } from './batch.js';
import { fromWire, NOFAIL_BIT, type DeferredWire, type WireResult } from './wire.js';
import { DeferredWriter } from './merge.js';
import { denseLiterals, LiteralScanner, type ScanLiteral } from './scanner.js';

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
  /** with ChunkOptions.deferMerge: lines whose verdict needs the connection cache (merge.ts),
   * and the line of each event, to put the merged ones in order */
  deferred?: DeferredWire;
  eventLines?: Int32Array;
}

export interface ChunkOptions {
  maxLineLength: number;
  /** leave the connection-cache step of the filters that canDeferMerge to the caller, so that
   * chunks of such a source can be matched in parallel (merge.ts) */
  deferMerge?: boolean;
}

export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024;

/** bytes of the first chunks in which the gate clauses' literals are counted (256 KB cost a
 * replay's first chunk 4.3 ms of indexOf, 64 KB 1.6 ms; 64 KB is still ~300 lines) */
const SAMPLE_BYTES = 64 * 1024;
const RARE_BYTES_SAMPLE = 64 * 1024;

/** candidate lines matched per RE2 call (batch.ts). Small enough that the joined text and
 * RE2's output (about 100 bytes a line) stay under V8's large-object size and die young: at
 * 2,048 lines every batch made large strings only a full GC frees (scenario b: 4.2 s -> 3.7 s,
 * a unchanged, measured with bench/profile/measure.js, 128 to 2,048 lines). */
const BATCH_LINES = 256;

/** True when a filter's only state is its <F-MLFID> connection cache and its lines are matched
 * in batches (prefregex, then failregexes): the matching can then run on any worker and only
 * the cache step in order, on the main thread (merge.ts). sshd is the common case. */
export function canDeferMerge(f: CompiledFilter): boolean {
  return isStatefulFilter(f) && !f.multiline && !!f.prefregex?.batch && f.failregex.every((r) => r.batch !== null);
}

/** True when a filter keeps state across lines (multi-line buffer or <F-MLFID> cache). */
export function isStatefulFilter(f: CompiledFilter): boolean {
  if (f.multiline) return true;
  const regs = [...f.failregex, ...(f.prefregex ? [f.prefregex] : [])];
  return regs.some((r) => r.groupNames.includes('mlfid'));
}

/** One clause of a filter's gate, for a decoded line: one of `lits` must occur in it. */
interface LineClause {
  lits: string[];
  /** the same literals as latin1 text of their UTF-8 bytes, for counting them in a sample */
  sampleLits: string[];
  caseInsensitive: boolean;
}

function lineHasClauses(clauses: readonly LineClause[], line: string, lowered: () => string, known = -1): boolean {
  for (let i = 0; i < clauses.length; i++) {
    if (i === known) continue;
    const c = clauses[i];
    const hay = c.caseInsensitive ? lowered() : line;
    let found = false;
    for (let k = 0; k < c.lits.length && !found; k++) found = hay.includes(c.lits[k]);
    if (!found) return false;
  }
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
  /** filters whose connection step may be left to the caller (ChunkOptions.deferMerge) */
  private readonly deferrable: boolean[];
  /** filters that see every line (no literal, or a multi-line buffer) */
  private readonly always: number[] = [];
  /** filters seen only by lines holding one of their literals, and those lines' clauses */
  private readonly gated: number[] = [];
  private readonly gateClauses: LineClause[][] = [];
  /** per gated filter, the clause the chunk scan looks for: the one whose literals were rarest
   * in the first bytes seen (a filter's first clause is often on every line, `" HTTP/1."`) */
  private readonly scanClause: number[] = [];
  private readonly clauseSeen: number[][] = [];
  private sampledBytes = 0;
  private sampledLines = 0;
  /** the start of the log (up to RARE_BYTES_SAMPLE): the native scanner picks each literal's
   * rarest bytes by it */
  private rareBytesSample: Buffer = Buffer.alloc(0);
  private readonly scanners = new Map<string, LiteralScanner>();

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
    this.deferrable = filters.map(canDeferMerge);
    filters.forEach((f, j) => {
      const g = f.gate;
      if (!g || f.multiline) {
        this.always.push(j);
        return;
      }
      this.gated.push(j);
      this.gateClauses.push([g, ...(g.also ?? [])].map((c) => ({
        caseInsensitive: c.caseInsensitive,
        lits: c.anyOf.map((b) => (c.caseInsensitive ? b.toString('utf8').toLowerCase() : b.toString('utf8'))),
        sampleLits: c.anyOf.map((b) => (c.caseInsensitive ? b.toString('latin1').toLowerCase() : b.toString('latin1'))),
      })));
    });
    this.scanClause = this.gated.map(() => 0);
    this.clauseSeen = this.gateClauses.map((cls) => cls.map(() => 0));
  }

  /** Counts the clauses' literals in the start of the chunk, until SAMPLE_BYTES were seen in
   * all, and picks each filter's rarest clause for the scan. */
  private sample(buf: Buffer): void {
    const len = Math.min(buf.length, SAMPLE_BYTES - this.sampledBytes);
    this.sampledBytes += len;
    if (this.rareBytesSample.length < RARE_BYTES_SAMPLE) {
      const add = buf.subarray(0, Math.min(len, RARE_BYTES_SAMPLE - this.rareBytesSample.length));
      this.rareBytesSample = Buffer.concat([this.rareBytesSample, add]);
    }
    const text = buf.toString('latin1', 0, len);
    for (let p = text.indexOf('\n'); p >= 0; p = text.indexOf('\n', p + 1)) this.sampledLines++;
    let low: string | undefined;
    this.gateClauses.forEach((cls, gi) => {
      cls.forEach((c, ci) => {
        const hay = c.caseInsensitive ? (low ??= text.toLowerCase()) : text;
        for (const lit of c.sampleLits) {
          for (let p = hay.indexOf(lit); p >= 0; p = hay.indexOf(lit, p + lit.length)) this.clauseSeen[gi][ci]++;
        }
      });
      const seen = this.clauseSeen[gi];
      const shortest = (ci: number) => Math.min(...cls[ci].lits.map((l) => l.length));
      let best = 0;
      for (let ci = 1; ci < cls.length; ci++) {
        if (seen[ci] < seen[best] || (seen[ci] === seen[best] && shortest(ci) > shortest(best))) best = ci;
      }
      this.scanClause[gi] = best;
    });
  }

  /** The scanner for the current choice of clauses and density of their literals (both may
   * change while the first bytes are sampled: a daemon's first chunks can be a line each), and
   * of how much of the log the rare bytes were chosen by (each doubling gets a new scanner). */
  private scannerFor(): LiteralScanner {
    let hits = 0;
    this.gated.forEach((_, gi) => (hits += this.clauseSeen[gi][this.scanClause[gi]]));
    const density = hits / Math.max(1, this.sampledLines);
    const sampled = this.rareBytesSample.length;
    const key = `${this.scanClause.join(',')}/${denseLiterals(density)}/${sampled >= RARE_BYTES_SAMPLE ? 'all' : Math.floor(Math.log2(sampled + 1))}`;
    let sc = this.scanners.get(key);
    if (!sc) {
      const lits: ScanLiteral[] = [];
      this.gated.forEach((_, gi) => {
        const c = this.gateClauses[gi][this.scanClause[gi]];
        for (const text of c.lits) lits.push({ text, caseInsensitive: c.caseInsensitive });
      });
      this.scanners.set(key, (sc = new LiteralScanner(lits, { density, sample: this.rareBytesSample })));
    }
    return sc;
  }

  /** True when the scanner's hits are exactly the lines holding a literal of the scanned
   * clauses, as lineHasClauses reads them: not every line, and case folded alike (the native
   * scan folds ASCII only, and only gets literals where that is all RE2 would fold; RE2's own
   * folding is not toLowerCase's). */
  private scanIsExact(sc: LiteralScanner): boolean {
    const mode = sc.mode;
    if (mode === 'every line') return false;
    return mode === 'native' || this.gated.every((_, gi) => !this.gateClauses[gi][this.scanClause[gi]].caseInsensitive);
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
    const deferred = opts.deferMerge ? new DeferredWriter() : null;
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
            if (deferred && this.deferrable[j] && hit) {
              const ig = runs[j].ignoredBy(texts[q]);
              const merged = ig < 0 ? withPrefix(g, hit.groups) : null;
              if (merged && merged.mlfid !== undefined) deferred.push(j, p.lines[k], hit.ri, p.times[k], merged);
              else record(j, p.lines[k], merged ? runs[j].finishMerged(hit.ri, merged, p.times[k]) : { ignored: ig, matched: hit.ri }, p.times[k]);
            } else {
              record(j, p.lines[k], runs[j].processMatched(texts[q], g, hit ? hit.ri : -1, hit ? hit.groups : null, p.times[k]), p.times[k]);
            }
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

    const always = this.always;
    const gated = this.gated;
    if (gated.length && this.sampledBytes < SAMPLE_BYTES) this.sample(buf);
    const scanner = gated.length ? this.scannerFor() : undefined;
    // with one gated filter, a line the scan found holds one of its scanned clause's literals:
    // that clause needs no second look (sshd: one clause of 12 literals, 10% of its matching)
    const known = gated.length === 1 && scanner && this.scanIsExact(scanner) ? this.scanClause[0] : -1;

    const maxLen = opts.maxLineLength;
    // a chunk that only gated filters see: the native scanner walks its lines and hands back
    // the few holding a literal, and says whether the chunk is plain ASCII without NUL
    let walked = scanner && always.length === 0 ? scanner.walk(buf, maxLen) : null;
    // bad bytes: checked once for the whole chunk (unless the walk did); per line only when the
    // chunk has some, and then line by line below
    const valid = (walked !== null && walked[2] === 1) || (buf.indexOf(0) < 0 && isUtf8(buf));
    if (!valid) walked = null;
    const candidates = new Int32Array(nf);
    const hits: Array<ReturnType<DateDetector['detect']> | undefined> = new Array(this.detectorOf.length);
    const times: number[] = new Array<number>(this.detectorOf.length).fill(arrival);

    /** One line that holds a gated filter's literal (hit) or that some filter sees always. */
    const matchLine = (lineNo: number, lineStart: number, eol: number, hit: boolean): void => {
      let end = eol;
      if (end > lineStart && buf[end - 1] === 13) end--;
      if (end - lineStart > maxLen) {
        cutLines++;
        return;
      }
      if (!valid && isBad(buf, lineStart, end)) {
        badLines++;
        return;
      }
      const line = buf.toString('utf8', lineStart, end);
      let nc = 0;
      for (let a = 0; a < always.length; a++) candidates[nc++] = always[a];
      if (hit) {
        let low: string | undefined;
        const lowered = (): string => (low ??= line.toLowerCase());
        for (let gi = 0; gi < gated.length; gi++) if (lineHasClauses(this.gateClauses[gi], line, lowered, known)) candidates[nc++] = gated[gi];
        if (nc === 0) return;
      }
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
          p.lines.push(lineNo);
          p.rests.push(rest);
          p.times.push(time);
          if (p.rests.length >= BATCH_LINES) flush(j);
        } else record(j, lineNo, runs[j].processLine(rest, time), time);
      }
    };

    if (walked) {
      lines = walked[0];
      cutLines = walked[1];
      for (let k = 3; k < walked.length; k += 3) matchLine(walked[k], walked[k + 1], walked[k + 2], true);
    } else {
      const scan = scanner?.over(buf);
      const n = buf.length;
      let pos = 0;
      // where the next line holding a gated filter's literal is; -1 when no more
      let nextHit = scan ? scan.at(0) : -1;
      while (pos < n) {
        let eol = buf.indexOf(10, pos);
        if (eol < 0) eol = n;
        lines++;
        const lineStart = pos;
        pos = eol + 1;
        const hit = nextHit >= 0 && nextHit < eol;
        if (hit) nextHit = scan!.at(pos);
        if (!hit && always.length === 0) {
          if (eol - lineStart > maxLen) cutLines++;
          else if (!valid) {
            let end = eol;
            if (end > lineStart && buf[end - 1] === 13) end--;
            if (isBad(buf, lineStart, end)) badLines++;
          }
          continue;
        }
        matchLine(lines, lineStart, eol, hit);
      }
    }

    for (let j = 0; j < nf; j++) flush(j);
    const ne = evLine.length;
    const out: WireResult = {
      lines, matchesPerJail, ignoredPerJail, badLines, cutLines,
      evMeta: new Uint32Array(ne), evLine: new Int32Array(ne), evTime: new Float64Array(ne), evHosts: '', evCaptures,
    };
    if (deferred) out.deferred = deferred.finish();
    if (pending.some((p) => p !== null) && nf > 1 && !inOrder(evLine, evMeta)) {
      const order = lineOrder(evLine, evMeta, nf);
      const at = new Array<number>(ne);
      const hosts = new Array<string>(ne);
      for (let k = 0; k < ne; k++) {
        const i = order[k];
        at[i] = k;
        out.evMeta[k] = evMeta[i];
        out.evLine[k] = evLine[i];
        out.evTime[k] = evTime[i];
        hosts[k] = evHost[i];
      }
      for (const c of evCaptures) c[0] = at[c[0]];
      evCaptures.sort((a, b) => a[0] - b[0]);
      out.evHosts = hosts.join('\n');
    } else {
      out.evMeta.set(evMeta);
      out.evLine.set(evLine);
      out.evTime.set(evTime);
      out.evHosts = evHost.join('\n');
    }
    if (runs.some((r) => !r.stateless)) out.state = { jails: runs.map((r) => (r.stateless ? null : r.state())) };
    return out;
  }
}

/** Event indexes in (line, jail) order, ties in the order recorded. As numbers sorted natively
 * (line, jail and index packed into one double) rather than with a comparator: with several
 * batched filters each chunk's events need this, and the comparator sort was ~0.1 ms of a
 * worker's ~2.5 ms per chunk on scenario c (code that a short replay runs unoptimised). */
function lineOrder(line: number[], meta: number[], nf: number): number[] {
  const ne = line.length;
  let maxLine = 0;
  for (let i = 0; i < ne; i++) if (line[i] > maxLine) maxLine = line[i];
  if ((maxLine + 1) * nf * ne >= 2 ** 53) {
    return Array.from({ length: ne }, (_, i) => i).sort((a, b) => line[a] - line[b] || (meta[a] & ~NOFAIL_BIT) - (meta[b] & ~NOFAIL_BIT));
  }
  const keys = new Float64Array(ne);
  for (let i = 0; i < ne; i++) keys[i] = (line[i] * nf + (meta[i] & ~NOFAIL_BIT)) * ne + i;
  keys.sort();
  const order = new Array<number>(ne);
  for (let k = 0; k < ne; k++) order[k] = keys[k] % ne;
  return order;
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
