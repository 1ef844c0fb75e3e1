// Filter compiler: FilterDef (fail2ban regexes with tags) -> RE2 objects, prefilter literals and
// a date detector factory. The main thread compiles (and so checks) each filter; the result is
// not cloneable, so workers get its plan (planOf) and build only the RE2 objects.
import RE2 from 're2';
import type { FilterDef, Sourced } from '../types.js';
import { DateDetector, DatePatternError, parseLogTimezone, type LogZone } from './dates.js';
import { FilterInvalid, FilterRefused, builtinFilterDir } from './errors.js';
import { leadingTexts, requiredClauses, requiredLiterals, type Requirement } from './literal.js';
import { NotBatchable, parsePythonRegex, RegexRefusal, toLineSource, toRe2Source, type Alt, type Node, type ParsedRegex } from './pyregex.js';
import { expandTags, groupNameOfTag } from './tags.js';

export interface CompileOptions {
  /** where logban's own filters live (for "use the built-in filter" hints) */
  builtinDir?: string;
}

export interface CompiledRegex {
  /** as written in the filter */
  source: string;
  file: string;
  line: number;
  re: RE2;
  /** what `re` was built from (plain groups); a worker builds its own from it (RegexPlan) */
  reSource: string;
  /** RE2 syntax, for messages and debugging */
  re2Source: string;
  /** `re` has plain groups: group i+1 holds groupNames[i] */
  /** the same regex for a global search over many lines joined by '\n' (null: not possible) */
  batch: RE2 | null;
  batchSource: string | null;
  /** `batch` for a regex `^...(?P<x>.+)$` with its last group cut to `(.)`: RE2 works out the
   * captures over the matched span, and the line's tail (a prefregex's <F-CONTENT>) was most of
   * it. The group runs on to the end of the line, left in place after the replacement (batch.ts). */
  batchToEol: RE2 | null;
  batchToEolSource: string | null;
  /** batchSource / batchToEolSource for one line at a time (no (?m)), the same capture groups
   * (batchSlots): what the native line matcher runs (native-lines.ts) */
  lineSource: string | null;
  lineToEolSource: string | null;
  literals: Requirement | null;
  /** every requirement a match meets at once (literals is the best of them) */
  clauses: Requirement[];
  /** texts one of which every match starts with (anchored regexes; single-line use only) */
  leading: string[] | null;
  groupNames: string[];
  /** per group: can it match the empty string (else an empty capture means it did not take part) */
  canBeEmpty: boolean[];
  /** the capture groups of `batch` and `batchToEol`, in order: i >= 0 is group i (groupNames),
   * -1 - i a witness of group i (text that is captured exactly when group i takes part) */
  batchSlots: number[];
  /** per group that can match '': whether the batch output tells "took no part" from "matched
   * ''" (it always takes part when the regex matches, or it has a witness); else batch.ts runs
   * such lines again */
  participationKnown: boolean[];
  /** alt_* group -> merged name */
  altGroups: Array<[string, string]>;
}

/** Byte-level prefilter: a line is a candidate only if it contains one of `anyOf`, and one of
 * the `anyOf` of every clause in `also`. */
export interface Gate {
  anyOf: Buffer[];
  /** search in the lower-cased chunk */
  caseInsensitive: boolean;
  /** more requirements, when the filter has a single regex that decides (its other literals:
   * `" HTTP/1."` alone lets every access log line through, `.exe|.sh|.pl|.cgi` next to it does not) */
  also?: Array<{ anyOf: Buffer[]; caseInsensitive: boolean }>;
}

export interface CompiledFilter {
  def: FilterDef;
  name: string;
  prefregex?: CompiledRegex;
  failregex: CompiledRegex[];
  ignoreregex: CompiledRegex[];
  multiline: boolean;
  maxlines: number;
  /** null: every line is a candidate */
  gate: Gate | null;
  zone: LogZone;
  /** a fresh detector per source: it keeps per-log state */
  newDateDetector(): DateDetector;
}

const FAILURE_ID_GROUPS = ['fid', 'ip4', 'ip6', 'dns', 'mlfid'];
const COMPLEX_NAME = /^(alt_|tuple_)(.*?)(?:_\d+)?$/;

function compileOne(def: FilterDef, s: Sourced, multiline: boolean, builtinDir: string): CompiledRegex {
  const { regex } = expandTags(s.value, def.usedns);
  if (regex.trim() === '') throw new FilterInvalid(`${s.file}:${s.line}: filter ${def.name}: empty regex`);
  let parsed;
  try {
    parsed = parsePythonRegex(regex);
  } catch (e) {
    if (e instanceof RegexRefusal) {
      if (/not supported/.test(e.reason)) throw new FilterRefused(s.file, s.line, e.construct, e.reason, def.name, builtinDir);
      throw new FilterInvalid(`${s.file}:${s.line}: filter ${def.name}: invalid regex ${JSON.stringify(s.value)}: ${e.reason} (${JSON.stringify(e.construct)})`);
    }
    throw e;
  }
  const re2Source = toRe2Source(parsed, multiline ? 'm' : '');
  let re: RE2;
  const reSource = toRe2Source(parsed, multiline ? 'm' : '', 'indexed');
  try {
    new RE2(re2Source); // the named form must be valid too: it is what messages show
    re = new RE2(reSource);
  } catch (e) {
    throw new FilterRefused(s.file, s.line, s.value, `RE2 rejects it: ${(e as Error).message}`, def.name, builtinDir);
  }
  const canBeEmpty = namedGroupsCanBeEmpty(parsed.alt, parsed.groupNames.length);
  const { witnesses, always } = witnessesOf(parsed, canBeEmpty);
  const witnessed = new Set(witnesses.values());
  let batch: RE2 | null = null;
  let batchSource: string | null = null;
  let lineSource: string | null = null;
  if (!multiline) {
    try {
      batchSource = toRe2Source(parsed, '', 'batch', witnesses);
      batch = new RE2(batchSource, 'g');
      lineSource = toLineSource(parsed, witnesses);
    } catch (e) {
      if (!(e instanceof NotBatchable || e instanceof SyntaxError)) throw e;
      batchSource = null;
      lineSource = null;
    }
  }
  let batchToEol: RE2 | null = null;
  let batchToEolSource: string | null = null;
  let lineToEolSource: string | null = null;
  const short = batch ? cutToEol(parsed) : null;
  if (short) {
    try {
      batchToEolSource = toRe2Source(short, '', 'batch', witnesses);
      batchToEol = new RE2(batchToEolSource, 'g');
      lineToEolSource = toLineSource(short, witnesses);
    } catch (e) {
      if (!(e instanceof NotBatchable || e instanceof SyntaxError)) throw e;
      batchToEolSource = null;
      lineToEolSource = null;
    }
  }
  const altGroups: Array<[string, string]> = [];
  for (const g of parsed.groupNames) {
    const m = COMPLEX_NAME.exec(g);
    if (m && m[1] === 'alt_') altGroups.push([g, groupNameOfTag(m[2])]);
  }
  altGroups.sort();
  return {
    source: s.value, file: s.file, line: s.line, re, reSource, re2Source, batch, batchSource, batchToEol, batchToEolSource, lineSource, lineToEolSource,
    literals: requiredLiterals(parsed.alt), clauses: requiredClauses(parsed.alt), leading: leadingTexts(parsed.alt),
    groupNames: parsed.groupNames, altGroups, canBeEmpty,
    batchSlots: batchSlotsOf(parsed, witnesses),
    participationKnown: parsed.groupNames.map((_, g) => always.has(g) || witnessed.has(g)),
  };
}

/**
 * For the named groups that can match '': how batch output can tell whether they took part.
 * The template of RE2's replace writes '' for both "took no part" and "matched ''", and a ninth
 * of an sshd log ("Connection closed by <HOST>": <F-USER> takes no part) was run again, one
 * RE2 call with a replacer function (batch.ts). A group that stands directly in the regex's only
 * top-level branch always takes part when the regex matches; one that stands directly in
 * another branch takes part exactly when a plain character of that same branch does, which the
 * batch regexes then capture as its witness. Groups deeper than that are left to the re-run.
 */
function witnessesOf(p: ParsedRegex, canBeEmpty: boolean[]): { witnesses: Map<Node, number>; always: Set<number> } {
  const witnesses = new Map<Node, number>();
  const always = new Set<number>();
  let g = 0; // named groups in opening order, as groupNames
  const walkAlt = (a: Alt, top: boolean): void => {
    for (const b of a.branches) {
      for (const n of b) {
        if (n.t === 'group') {
          if (n.name) {
            const i = g++;
            if (canBeEmpty[i]) {
              const w = b.find((x) => (x.t === 'lit' || x.t === 'raw') && !witnesses.has(x));
              if (top && a.branches.length === 1) always.add(i);
              else if (w) witnesses.set(w, i);
            }
          }
          walkAlt(n.alt, false);
        } else if (n.t === 'repeat') {
          walkNode(n.node);
        }
      }
    }
  };
  const walkNode = (n: Node): void => {
    if (n.t === 'group') {
      if (n.name) g++; // under a repeat: its witness would be of another iteration; left alone
      walkAlt(n.alt, false);
    } else if (n.t === 'repeat') walkNode(n.node);
  };
  walkAlt(p.alt, true);
  return { witnesses: g === p.groupNames.length ? witnesses : new Map(), always: g === p.groupNames.length ? always : new Set() };
}

/** The batch regexes' capture groups in opening order (see CompiledRegex.batchSlots). */
function batchSlotsOf(p: ParsedRegex, witnesses: ReadonlyMap<Node, number>): number[] {
  const slots: number[] = [];
  let g = 0;
  const walk = (n: Node): void => {
    const w = witnesses.get(n);
    if (w !== undefined) slots.push(-1 - w);
    if (n.t === 'group') {
      if (n.name) slots.push(g++);
      for (const b of n.alt.branches) b.forEach(walk);
    } else if (n.t === 'repeat') walk(n.node);
  };
  for (const b of p.alt.branches) b.forEach(walk);
  return slots;
}

/** `^ ... (?P<last>.+)$` as `^ ... (?P<last>.)`, or null when the regex is not of that form.
 * `.+$` succeeds from any place with a character left in the line, so the shorter regex takes
 * the same path through everything before it (same captures, same start of the last group); the
 * leading `^` keeps a second match out of the rest of the line. */
function cutToEol(p: ParsedRegex): ParsedRegex | null {
  if (p.alt.branches.length !== 1) return null;
  const b = p.alt.branches[0];
  if (b.length < 3) return null;
  const first = b[0];
  const end = b[b.length - 1];
  const last = b[b.length - 2];
  if (first.t !== 'assert' || (first.re2 !== '^' && first.re2 !== '\\A')) return null;
  if (end.t !== 'assert' || end.re2 !== '$') return null;
  if (last.t !== 'group' || !last.name || last.flags || last.alt.branches.length !== 1) return null;
  if (p.groupNames[p.groupNames.length - 1] !== last.name) return null;
  const body = last.alt.branches[0];
  if (body.length !== 1) return null;
  const rep = body[0];
  if (rep.t !== 'repeat' || rep.min !== 1 || rep.max !== -1 || rep.node.t !== 'raw' || rep.node.re2 !== '.') return null;
  const cut: Node = { ...last, alt: { branches: [[{ t: 'raw', re2: '.' }]] } };
  return { ...p, alt: { branches: [[...b.slice(0, -2), cut]] } };
}

const MAX_EXTRA_CLAUSES = 3;

/** Shortest text a part of a regex can match. */
function minLength(a: Alt): number {
  let min = Infinity;
  for (const b of a.branches) min = Math.min(min, b.reduce((n, x) => n + nodeMinLength(x), 0));
  return min === Infinity ? 0 : min;
}

function nodeMinLength(n: Node): number {
  switch (n.t) {
    case 'lit':
    case 'raw':
      return 1;
    case 'assert':
      return 0;
    case 'group':
      return minLength(n.alt);
    case 'repeat':
      return n.min === 0 ? 0 : n.min * nodeMinLength(n.node);
  }
}

/** For each named group, in the order of groupNames (opening order): can it match ''? All true
 * when the walk does not find the same number of groups (then nothing is assumed). */
function namedGroupsCanBeEmpty(a: Alt, count: number): boolean[] {
  const out: boolean[] = [];
  const walk = (n: Node): void => {
    if (n.t === 'group') {
      if (n.name) out.push(minLength(n.alt) === 0);
      for (const b of n.alt.branches) b.forEach(walk);
    } else if (n.t === 'repeat') walk(n.node);
  };
  for (const b of a.branches) b.forEach(walk);
  return out.length === count ? out : new Array<boolean>(count).fill(true);
}

/** The longest piece of a literal that cannot span the place a date was cut from. The regex
 * sees the line with its date cut out, the prefilter sees the raw bytes: `- ` + date + ` WARN`
 * reads `-  WARN` to the regex, which is nowhere in the raw line. The text around a date is
 * non-word characters (spaces, brackets, dashes), so pieces are split between any two of them. */
function junctionFree(lit: string): string {
  const nonWord = (c: string): boolean => !/\w/.test(c);
  let best = '';
  let from = 0;
  for (let i = 1; i <= lit.length; i++) {
    if (i === lit.length || (nonWord(lit[i - 1]) && nonWord(lit[i]))) {
      const piece = lit.slice(from, i);
      if (piece.length > best.length) best = piece;
      from = i;
    }
  }
  return best;
}

function gateOf(f: { prefregex?: CompiledRegex; failregex: CompiledRegex[] }): Gate | null {
  // every failure needs the prefregex to match, so its literal alone decides
  const reqs = f.prefregex?.literals ? [f.prefregex.literals] : f.failregex.map((r) => r.literals);
  if (reqs.length === 0) return { anyOf: [], caseInsensitive: false }; // nothing can match
  if (reqs.some((r) => r === null)) return null;
  const ci = reqs.some((r) => r!.caseInsensitive);
  const all = new Set<string>();
  for (const r of reqs) for (const s of r!.anyOf) all.add(ci ? s.toLowerCase() : s);
  // a shorter literal that is part of a longer one makes the longer one redundant
  const list = [...all].filter((s) => ![...all].some((o) => o !== s && s.includes(o)));
  const gate: Gate = { anyOf: list.map((s) => Buffer.from(s, 'utf8')), caseInsensitive: ci };
  const sole = f.prefregex?.literals ? f.prefregex : f.failregex.length === 1 ? f.failregex[0] : undefined;
  if (sole) {
    const primary = JSON.stringify(sole.literals);
    // single characters and spaces are on every line: checking them costs and rejects nothing
    const also = sole.clauses
      .filter((c) => JSON.stringify(c) !== primary)
      .map((c) => ({ anyOf: c.anyOf.map(junctionFree), caseInsensitive: c.caseInsensitive }))
      .filter((c) => c.anyOf.every((s) => s.trim().length >= 2))
      .slice(0, MAX_EXTRA_CLAUSES)
      .map((c) => ({ anyOf: [...new Set(c.anyOf)].map((s) => Buffer.from(s, 'utf8')), caseInsensitive: c.caseInsensitive }));
    if (also.length) gate.also = also;
  }
  return gate;
}

/** Compiles a filter. Throws FilterRefused (RE2 cannot run it) or FilterInvalid (broken). */
export function compileFilter(def: FilterDef, opts: CompileOptions = {}): CompiledFilter {
  const builtinDir = opts.builtinDir ?? builtinFilterDir;
  const multiline = maxlinesOf(def) > 1;
  const prefregex = def.prefregex && def.prefregex.value.trim() ? compileOne(def, def.prefregex, multiline, builtinDir) : undefined;
  const failregex = def.failregex.filter((s) => s.value.trim()).map((s) => compileOne(def, s, multiline, builtinDir));
  const ignoreregex = def.ignoreregex.filter((s) => s.value.trim()).map((s) => compileOne(def, s, multiline, builtinDir));
  const prefHasId = prefregex ? FAILURE_ID_GROUPS.some((g) => prefregex.groupNames.includes(g)) : false;
  for (const r of failregex) {
    if (!prefHasId && !FAILURE_ID_GROUPS.some((g) => r.groupNames.includes(g))) {
      throw new FilterInvalid(`${r.file}:${r.line}: filter ${def.name}: failregex has no address or id (<HOST>, <ADDR>, <F-ID>...): ${JSON.stringify(r.source)}`);
    }
  }
  let zone: LogZone;
  const patterns = def.datepattern?.map((d) => d.value);
  try {
    zone = parseLogTimezone(def.logtimezone);
    new DateDetector(patterns, zone); // validate once, here, with the file to blame
  } catch (e) {
    if (e instanceof DatePatternError) {
      const at = def.datepattern?.[0];
      throw new FilterInvalid(`${at ? `${at.file}:${at.line}` : def.file}: filter ${def.name}: ${e.message}`);
    }
    throw e;
  }
  return assemble(def, prefregex, failregex, ignoreregex, zone);
}

function maxlinesOf(def: FilterDef): number {
  return Math.max(1, Math.floor(def.maxlines || 1));
}

function assemble(def: FilterDef, prefregex: CompiledRegex | undefined, failregex: CompiledRegex[], ignoreregex: CompiledRegex[], zone: LogZone,
  gate = gateOf({ prefregex, failregex })): CompiledFilter {
  const maxlines = maxlinesOf(def);
  const patterns = def.datepattern?.map((d) => d.value);
  return {
    def, name: def.name, prefregex, failregex, ignoreregex, multiline: maxlines > 1, maxlines,
    gate, zone,
    newDateDetector: () => new DateDetector(patterns, zone),
  };
}

const compiledByDef = new WeakMap<FilterDef, CompiledFilter>();

/** compileFilter with the default options, once per definition object. The daemon compiles
 * each jail's filter when it reads the configuration (to refuse a bad one with its file and
 * line) and the matcher pool needs the same compiled filter moments later: compiling twice cost
 * 4 ms on the way to a replay's first line (the bench's five web filters). A reload reads new
 * definition objects, so nothing stale is reused. */
export function compileFilterOnce(def: FilterDef): CompiledFilter {
  let c = compiledByDef.get(def);
  if (!c) {
    c = compileFilter(def);
    compiledByDef.set(def, c);
  }
  return c;
}

// ---- plans: a compiled filter without its RE2 objects, for the matcher's workers --------------

/** A compiled regex without its RE2 objects (structured-cloneable). */
export type RegexPlan = Omit<CompiledRegex, 're' | 'batch' | 'batchToEol'>;

/** What a worker needs to rebuild a compiled filter: the parsing, translation, literal
 * analysis and gate worked out once, on the main thread. A worker that compiled from the
 * FilterDef itself took 17-22 ms per start on the bench's five web filters (cold code, beside
 * the first reads), the critical path to a replay's first chunk; building only the RE2 objects
 * takes ~2 ms. */
export interface FilterPlan {
  def: FilterDef;
  prefregex?: RegexPlan;
  failregex: RegexPlan[];
  ignoreregex: RegexPlan[];
  /** the gate's literals arrive as Uint8Arrays (structured clone) */
  gate: Gate | null;
}

function regexPlan(r: CompiledRegex): RegexPlan {
  const { re: _re, batch: _batch, batchToEol: _eol, ...plan } = r;
  return plan;
}

export function planOf(f: CompiledFilter): FilterPlan {
  return {
    def: f.def, prefregex: f.prefregex && regexPlan(f.prefregex),
    failregex: f.failregex.map(regexPlan), ignoreregex: f.ignoreregex.map(regexPlan), gate: f.gate,
  };
}

/** Buffers again, after a structured clone made Uint8Arrays of them. */
function gateFromPlan(g: Gate | null): Gate | null {
  if (!g) return null;
  const bufs = (xs: Uint8Array[]): Buffer[] => xs.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength)));
  return {
    anyOf: bufs(g.anyOf), caseInsensitive: g.caseInsensitive,
    ...(g.also ? { also: g.also.map((c) => ({ anyOf: bufs(c.anyOf), caseInsensitive: c.caseInsensitive })) } : {}),
  };
}

function regexFromPlan(p: RegexPlan): CompiledRegex {
  return {
    ...p, re: new RE2(p.reSource),
    batch: p.batchSource === null ? null : new RE2(p.batchSource, 'g'),
    batchToEol: p.batchToEolSource === null ? null : new RE2(p.batchToEolSource, 'g'),
  };
}

/** The compiled filter a plan stands for, as compileFilter gave it on the main thread (which
 * also checked it: nothing here can fail on a plan made by planOf). */
export function filterFromPlan(p: FilterPlan): CompiledFilter {
  return assemble(p.def, p.prefregex && regexFromPlan(p.prefregex), p.failregex.map(regexFromPlan),
    p.ignoreregex.map(regexFromPlan), parseLogTimezone(p.def.logtimezone), gateFromPlan(p.gate));
}

// ---- matching a line (after its date was cut) -----------------------------------------------

/** Named groups of one match, alt_* merged. Python's groupdict: absent groups are undefined. */
export type Groups = Record<string, string | undefined>;

export function groupsOf(r: CompiledRegex, m: RegExpExecArray): Groups {
  const g: Groups = {};
  const names = r.groupNames;
  for (let i = 0; i < names.length; i++) g[names[i]] = m[i + 1];
  for (const [from, to] of r.altGroups) if (g[from] && !g[to]) g[to] = g[from];
  return g;
}

/** Does the text possibly match r (its literals occur)? `lower` is text lower-cased, lazily. */
export function mayMatch(r: CompiledRegex, text: string, lower: () => string): boolean {
  const req = r.literals;
  if (!req) return true;
  const hay = req.caseInsensitive ? lower() : text;
  for (const s of req.anyOf) if (hay.includes(s)) return true;
  return false;
}

/** Group names that are fail2ban internals, not user captures. */
const INTERNAL = new Set(['ip4', 'ip6', 'dns', 'cidr', 'content', 'nofail', 'mlfid', 'mlfforget', 'mlfgained', 'mlfpending']);

export function userCaptures(g: Groups): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const k in g) {
    const v = g[k];
    // an empty capture is left out: batch matching cannot tell it from a group that did not take part
    if (!v || INTERNAL.has(k) || k.startsWith('skiplines') || k.startsWith('alt_')) continue;
    (out ??= {})[k] = v;
  }
  return out;
}

/** The failure's address (or id): ip4, ip6, host name, then failure id; `/cidr` if captured. */
export function hostOf(g: Groups): string | undefined {
  const ip = g.ip4 || g.ip6;
  if (ip) return g.cidr ? `${ip}/${g.cidr}` : ip;
  return g.dns || g.fid || undefined;
}
