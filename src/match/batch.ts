// Batch matching for the common case (single-line filter, no prefregex, no connection ids):
// the candidate lines of a chunk, date already cut, are joined by '\n' and each failregex runs
// ONCE over them through RE2's replace, which writes the captures of every matching line in
// place. One N-API crossing per regex per chunk instead of one per line; node-re2's per-match
// result objects, which cost more than the match itself, are never built.
import { groupsOf, hostOf, mayMatch, userCaptures, type CompiledFilter, type CompiledRegex, type Groups } from './compile.js';
import type { LineVerdict } from './matcher.js';
import { nativeGroups } from './native-lines.js';

// Input lines never hold NUL (chunk.ts skips such lines), so MARK starts our text; captures
// are separated by SEP and end at TERM, unambiguous unless a line holds SEP or TERM itself.
const MARK = '\u0000';
const SEP = '\u0001';
const TERM = '\u0002';

/** True when every regex of the filter can run in batch mode and no line depends on another. */
export function canBatch(f: CompiledFilter): boolean {
  if (f.multiline || f.prefregex) return false;
  return f.failregex.every((r) => r.batch !== null && !r.groupNames.includes('mlfid'));
}

/** Verdicts for lines (date cut out, no '\n' inside), as FilterRun.processLine would give. */
export function matchBatch(f: CompiledFilter, lines: readonly string[]): LineVerdict[] {
  const verdicts: LineVerdict[] = new Array(lines.length);
  // indexes of lines no failregex matched yet
  let open: number[] = lines.map((_, i) => i);
  for (let ri = 0; ri < f.failregex.length && open.length; ri++) {
    const r = f.failregex[ri];
    const texts = open.map((i) => lines[i]);
    const native = nativeGroups(r, texts);
    if (native) {
      const still: number[] = [];
      for (let k = 0; k < open.length; k++) {
        const g = native[k];
        if (g) verdicts[open[k]] = verdictOf(f, ri, texts[k], g);
        else still.push(open[k]);
      }
      open = still;
      continue;
    }
    const names = r.groupNames;
    const slots = r.batchSlots; // capture groups of the batch regex, witnesses included
    let template = MARK;
    for (let k = 1; k <= slots.length; k++) template += (k > 1 ? SEP : '') + '$' + k;
    template += TERM;
    const joined = texts.join('\n');
    // lines holding SEP or TERM (never in real logs) are matched one by one
    const odd = joined.includes(SEP) || joined.includes(TERM);
    r.batch!.lastIndex = 0;
    const out = joined.replace(r.batch!, template).split('\n');
    const still: number[] = [];
    if (out.length !== open.length) {
      // cannot happen (nothing matches '\n'); stay correct anyway, line by line
      for (const i of open) {
        const v = lineByLine(f, ri, lines[i]);
        if (v) verdicts[i] = v;
        else still.push(i);
      }
      open = still;
      continue;
    }
    for (let k = 0; k < open.length; k++) {
      const i = open[k];
      const o = out[k];
      const at = o.indexOf(MARK);
      if (at < 0) {
        still.push(i);
        continue;
      }
      let groups: Groups;
      if (odd && (lines[i].includes(SEP) || lines[i].includes(TERM))) {
        const m = r.re.exec(lines[i]);
        if (!m) {
          still.push(i);
          continue;
        }
        groups = groupsOf(r, m);
      } else {
        groups = {};
        let from = at + 1;
        // an empty capture is undefined here: only the address and user captures are read, and
        // an empty user is left out either way (userCaptures)
        for (let k = 0; k < slots.length; k++) {
          let to = o.indexOf(k === slots.length - 1 ? TERM : SEP, from);
          if (to < 0) to = o.length; // cannot happen: the template wrote it
          if (slots[k] >= 0) groups[names[slots[k]]] = to === from ? undefined : o.slice(from, to);
          from = to + 1;
        }
        for (const [from, to] of r.altGroups) if (groups[from] && !groups[to]) groups[to] = groups[from];
      }
      verdicts[i] = verdictOf(f, ri, lines[i], groups);
    }
    open = still;
  }
  for (const i of open) verdicts[i] = NONE;
  return verdicts;
}

const NONE: LineVerdict = Object.freeze({}) as LineVerdict;

function verdictOf(f: CompiledFilter, ri: number, line: string, groups: Groups): LineVerdict {
  for (let k = 0; k < f.ignoreregex.length; k++) if (f.ignoreregex[k].re.test(line)) return { ignored: k, matched: ri };
  const host = hostOf(groups);
  if (host === undefined) return { matched: ri };
  return { matched: ri, failure: { regex: ri, host, nofail: !!groups.nofail, captures: userCaptures(groups) } };
}

function lineByLine(f: CompiledFilter, ri: number, line: string): LineVerdict | null {
  const r = f.failregex[ri];
  const m = r.re.exec(line);
  return m ? verdictOf(f, ri, line, groupsOf(r, m)) : null;
}

/** The groups of one regex (batchable: r.batch set) on each line, null where it does not match,
 * exactly as groupsOf(r, r.re.exec(line)) gives them: lines where a group that can match ''
 * came out empty are run again (batchWithParticipation), because the template cannot tell an
 * empty capture from a group that did not take part (and an empty <F-MLFID> is still a
 * connection id, an empty user still a user). */
export function batchGroups(r: CompiledRegex, lines: readonly string[]): Array<Groups | null> {
  const native = nativeGroups(r, lines);
  if (native) return native;
  const out: Array<Groups | null> = new Array(lines.length).fill(null);
  const names = r.groupNames;
  // the template writes every capture group of the batch regex: the named ones and the witnesses
  // of those that can match '' (compile.ts witnessesOf)
  const slots = r.batchSlots;
  let template = MARK;
  for (let k = 1; k <= slots.length; k++) template += (k > 1 ? SEP : '') + '$' + k;
  template += TERM;
  const joined = lines.join('\n');
  const odd = joined.includes(SEP) || joined.includes(TERM);
  // the last group cut to one character: the rest of it is the line after TERM
  const toEol = r.batchToEol !== null;
  const re = r.batchToEol ?? r.batch!;
  re.lastIndex = 0;
  const res = joined.replace(re, template).split('\n');
  const exact = (i: number): Groups | null => {
    const m = r.re.exec(lines[i]);
    return m ? groupsOf(r, m) : null;
  };
  if (res.length !== lines.length) return lines.map((_, i) => exact(i)); // cannot happen
  const again: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const o = res[i];
    const at = o.indexOf(MARK);
    if (at < 0) continue;
    if (odd && (lines[i].includes(SEP) || lines[i].includes(TERM))) {
      out[i] = exact(i);
      continue;
    }
    const groups: Groups = {};
    let from = at + 1;
    // a group that can match '' and came out empty: '' if it took part, which its witness (or
    // the match itself) tells; unknown (-1) sends the line to the re-run below
    let unknown = false;
    let emptyGroups = 0; // bit g: group g came out empty and can match ''
    let witnessed = 0; // bit g: group g's witness was captured
    for (let k = 0; k < slots.length; k++) {
      let to = o.indexOf(k === slots.length - 1 ? TERM : SEP, from);
      if (to < 0) to = o.length;
      const g = slots[k];
      if (g < 0) {
        if (to > from) witnessed |= 1 << (-1 - g);
      } else {
        if (to === from && r.canBeEmpty[g]) {
          if (r.participationKnown[g] && g < 31) emptyGroups |= 1 << g;
          else unknown = true;
        }
        if (toEol && k === slots.length - 1) groups[names[g]] = o.slice(from, to) + o.slice(to + 1);
        else groups[names[g]] = to === from ? undefined : o.slice(from, to);
      }
      from = to + 1;
    }
    if (emptyGroups) {
      for (let g = 0; g < names.length && g < 31; g++) {
        if (!(emptyGroups & (1 << g))) continue;
        // no witness slot: the group stands in the regex's only branch and took part
        const hasWitness = slots.includes(-1 - g);
        if (!hasWitness || witnessed & (1 << g)) groups[names[g]] = '';
      }
    }
    if (unknown) {
      again.push(i);
      continue;
    }
    for (const [a, b] of r.altGroups) if (groups[a] && !groups[b]) groups[b] = groups[a];
    out[i] = groups;
  }
  if (again.length > 2) batchWithParticipation(r, lines, again, out);
  else for (const i of again) out[i] = exact(i);
  return out;
}

/** out[i] for the lines `which`, by one RE2 call whose replacer function gets each group as
 * undefined when it did not take part and '' when it matched empty (sshd's "Disconnected from"
 * lines, where <F-USER> does not take part, were a ninth of its lines, each run alone). */
function batchWithParticipation(r: CompiledRegex, lines: readonly string[], which: readonly number[], out: Array<Groups | null>): void {
  const names = r.groupNames;
  const texts = which.map((i) => lines[i]);
  const starts = new Int32Array(texts.length);
  for (let k = 1; k < texts.length; k++) starts[k] = starts[k - 1] + texts[k - 1].length + 1;
  let k = 0;
  let last = -1;
  const re = r.batch!;
  re.lastIndex = 0;
  const slots = r.batchSlots; // capture groups of the batch regex, witnesses included
  texts.join('\n').replace(re, (...args: unknown[]): string => {
    const offset = args[slots.length + 1] as number;
    while (k + 1 < texts.length && starts[k + 1] <= offset) k++;
    if (k === last) return ''; // a later match in the same line: per line, the first counts
    last = k;
    const groups: Groups = {};
    for (let s = 0; s < slots.length; s++) if (slots[s] >= 0) groups[names[slots[s]]] = args[s + 1] as string | undefined;
    for (const [a, b] of r.altGroups) if (groups[a] && !groups[b]) groups[b] = groups[a];
    out[which[k]] = groups;
    return '';
  });
}

/** Which failregexes a text may match, from its first character and the regexes' leading
 * texts, then their literals: sshd has 20 regexes, most anchored at a fixed word, and testing
 * every regex's literals on every text was a third of its matching time. */
interface Dispatch {
  /** first char code -> indexes of regexes with a leading text starting with it */
  byFirst: Map<number, number[]>;
  /** regexes without leading texts: their literals decide */
  unanchored: number[];
}

const dispatches = new WeakMap<CompiledFilter, Dispatch | null>();
const MAX_DISPATCHED = 31; // candidates are bits of a 32-bit mask

function dispatchOf(f: CompiledFilter): Dispatch | null {
  let d = dispatches.get(f);
  if (d !== undefined) return d;
  d = null;
  if (!f.multiline && f.failregex.length <= MAX_DISPATCHED && f.failregex.some((r) => r.leading)) {
    d = { byFirst: new Map(), unanchored: [] };
    f.failregex.forEach((r, ri) => {
      if (!r.leading) {
        d!.unanchored.push(ri);
        return;
      }
      for (const c of new Set(r.leading.map((s) => s.charCodeAt(0)))) {
        const list = d!.byFirst.get(c) ?? [];
        list.push(ri);
        d!.byFirst.set(c, list);
      }
    });
  }
  dispatches.set(f, d);
  return d;
}

/** Bit ri set: failregex ri may match the text (leading text and literals). */
function candidatesOf(f: CompiledFilter, d: Dispatch, text: string, lower: () => string): number {
  let mask = 0;
  const first = d.byFirst.get(text.charCodeAt(0));
  if (first) {
    for (const ri of first) {
      const r = f.failregex[ri];
      let starts = false;
      for (const p of r.leading!) if (text.startsWith(p)) starts = true;
      if (starts && mayMatch(r, text, lower)) mask |= 1 << ri;
    }
  }
  for (const ri of d.unanchored) if (mayMatch(f.failregex[ri], text, lower)) mask |= 1 << ri;
  return mask;
}

/** For each text, the first failregex (in order) that matches it and its groups, as the
 * line-by-line loop of FilterRun finds them; null when none does. Every failregex must be
 * batchable. */
export function firstMatches(f: CompiledFilter, texts: readonly string[]): Array<{ ri: number; groups: Groups } | null> {
  const out: Array<{ ri: number; groups: Groups } | null> = new Array(texts.length).fill(null);
  let open: number[] = texts.map((_, i) => i);
  const lowered: Array<string | undefined> = new Array(texts.length);
  const lowerOf = (i: number) => () => (lowered[i] ??= texts[i].toLowerCase());
  const d = dispatchOf(f);
  const masks = d ? texts.map((t, i) => candidatesOf(f, d, t, lowerOf(i))) : null;
  for (let ri = 0; ri < f.failregex.length && open.length; ri++) {
    const r = f.failregex[ri];
    const tried: number[] = [];
    const still: number[] = [];
    if (masks) {
      const bit = 1 << ri;
      for (const i of open) ((masks[i] & bit) !== 0 ? tried : still).push(i);
    } else {
      for (const i of open) (mayMatch(r, texts[i], lowerOf(i)) ? tried : still).push(i);
    }
    if (tried.length) {
      const groups = batchGroups(r, tried.map((i) => texts[i]));
      for (let k = 0; k < tried.length; k++) {
        const g = groups[k];
        if (g) out[tried[k]] = { ri, groups: g };
        else still.push(tried[k]);
      }
    }
    open = still;
  }
  return out;
}
