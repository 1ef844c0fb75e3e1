// Required-literal extraction for the prefilter: from a parsed regex, a small set of strings of
// which every match must contain at least one. A line that contains none of them cannot match,
// so it is never decoded nor handed to RE2.
import type { Alt, Node } from './pyregex.js';

export interface Requirement {
  /** any one of these must occur; lower-cased when caseInsensitive */
  anyOf: string[];
  caseInsensitive: boolean;
}

interface Req {
  anyOf: string[];
  ci: boolean;
}

const MAX_ALTERNATIVES = 8;

/** Score: the shortest alternative decides how selective the requirement is. */
function score(r: Req): number {
  const min = Math.min(...r.anyOf.map((s) => s.length));
  return min * 4 - r.anyOf.length + (r.ci ? -2 : 0);
}

function better(a: Req | null, b: Req | null): Req | null {
  if (!a) return b;
  if (!b) return a;
  return score(b) > score(a) ? b : a;
}

// fail2ban cuts the date out of a line and joins what was left around it, so regexes often hold
// `[]` or `()` where the date stood. Such text is not in the raw line: split literals there.
const CUT_MARKS = ['[]', '()', '{}', '<>'];

function splitAtCuts(s: string): string[] {
  let parts = [s];
  for (const mark of CUT_MARKS) {
    parts = parts.flatMap((p) => {
      const out: string[] = [];
      let from = 0;
      for (let i = p.indexOf(mark); i >= 0; i = p.indexOf(mark, i + 1)) {
        out.push(p.slice(from, i + 1));
        from = i + 1;
      }
      out.push(p.slice(from));
      return out;
    });
  }
  return parts;
}

function runReq(run: number[], ci: boolean): Req | null {
  if (run.length === 0) return null;
  let text = String.fromCodePoint(...run);
  if (ci) {
    // only ASCII folds the same way in the byte-level search as in RE2
    if (!/^[\x00-\x7f]*$/.test(text)) return null;
    text = text.toLowerCase();
  }
  let best: Req | null = null;
  for (const part of splitAtCuts(text)) if (part.length) best = better(best, { anyOf: [part], ci });
  return best;
}

function seqReq(items: Node[]): Req | null {
  let best: Req | null = null;
  let run: number[] = [];
  let runCi = false;
  const flush = (): void => {
    best = better(best, runReq(run, runCi));
    run = [];
  };
  for (const n of items) {
    if (n.t === 'lit') {
      if (run.length && n.ci !== runCi) flush();
      runCi = n.ci;
      run.push(n.cp);
      continue;
    }
    if (n.t === 'assert') continue; // zero-width: the text on both sides is still adjacent
    flush();
    best = better(best, nodeReq(n));
  }
  flush();
  return best;
}

function altReq(a: Alt): Req | null {
  if (a.branches.length === 1) return seqReq(a.branches[0]);
  const all: string[] = [];
  let ci = false;
  for (const b of a.branches) {
    const r = seqReq(b);
    if (!r) return null; // one branch needs no literal: the alternation requires nothing
    ci ||= r.ci;
    all.push(...r.anyOf);
  }
  if (ci) for (let i = 0; i < all.length; i++) all[i] = all[i].toLowerCase();
  const uniq = [...new Set(all)];
  if (uniq.length > MAX_ALTERNATIVES) return null;
  return { anyOf: uniq, ci };
}

function nodeReq(n: Node): Req | null {
  switch (n.t) {
    case 'group':
      return altReq(n.alt);
    case 'repeat':
      return n.min >= 1 ? nodeReq(n.node) : null;
    case 'lit':
      return runReq([n.cp], n.ci);
    default:
      return null;
  }
}

/** The best requirement of a regex, or null when no literal is certain (every line is a candidate). */
export function requiredLiterals(a: Alt): Requirement | null {
  const r = altReq(a);
  if (!r || r.anyOf.some((s) => s.length === 0)) return null;
  return { anyOf: r.anyOf, caseInsensitive: r.ci };
}

/** Every requirement a match must meet at once (the top-level sequence's literals and groups,
 * and a literal run joined to a following group of plain alternatives), most selective first
 * by the static score. Empty when nothing is certain. */
export function requiredClauses(a: Alt): Requirement[] {
  const out: Req[] = [];
  if (a.branches.length !== 1) {
    const r = altReq(a);
    if (r) out.push(r);
  } else {
    let run: number[] = [];
    let runCi = false;
    const flush = (): void => {
      const r = runReq(run, runCi);
      if (r) out.push(r);
      run = [];
    };
    for (const n of a.branches[0]) {
      if (n.t === 'lit') {
        if (run.length && n.ci !== runCi) flush();
        runCi = n.ci;
        run.push(n.cp);
        continue;
      }
      if (n.t === 'assert') continue;
      // `\.(?:exe|sh)`: the run and each whole alternative are adjacent text, and `.exe|.sh`
      // is far rarer than `.` or `sh` alone
      const alts = run.length ? exactAlternatives(n, runCi) : null;
      if (alts) {
        const prefix = String.fromCodePoint(...run);
        const tail = splitAtCuts(prefix).pop()!;
        out.push({ anyOf: alts.map((a) => (runCi ? (tail + a).toLowerCase() : tail + a)), ci: runCi });
      }
      flush();
      const r = nodeReq(n);
      if (r) out.push(r);
    }
    flush();
  }
  return out
    .filter((r) => r.anyOf.length > 0 && r.anyOf.every((s) => s.length > 0))
    .sort((x, y) => score(y) - score(x))
    .map((r) => ({ anyOf: r.anyOf, caseInsensitive: r.ci }));
}

/** The texts of a group whose every branch is plain literal text (same case mode), or null. */
function exactAlternatives(n: Node, ci: boolean): string[] | null {
  if (n.t !== 'group' || n.flags || n.alt.branches.length > MAX_ALTERNATIVES) return null;
  const out: string[] = [];
  for (const b of n.alt.branches) {
    if (b.length === 0) return null;
    const cps: number[] = [];
    for (const x of b) {
      if (x.t !== 'lit' || x.ci !== ci) return null;
      cps.push(x.cp);
    }
    const text = String.fromCodePoint(...cps);
    if (ci && !/^[\x00-\x7f]*$/.test(text)) return null;
    out.push(text);
  }
  return out;
}

const MAX_LEADING = 16;
const TWO_CHAR_CLASS = /^\[([A-Za-z])([A-Za-z])\]$/;
/** ASCII letters whose case folding in RE2 involves no other character (k, s do: K, ſ) */
const FOLDS_SIMPLY = /^[a-jl-rt-zA-JL-RT-Z]$/;

/** Strings one of which every match starts with, for a regex anchored at the start of its text
 * (`^Failed `, `^[iI](?:llegal|nvalid) user `): a text that starts with none of them cannot
 * match, so many regexes of one filter can be sorted out by the text's first character.
 * null when a branch is not anchored or starts with no certain text. Single-line use only:
 * with multi-line buffers `^` also matches after a newline. */
export function leadingTexts(a: Alt): string[] | null {
  const out: string[] = [];
  for (const b of a.branches) {
    let i = 0;
    let anchored = false;
    for (; i < b.length && b[i].t === 'assert'; i++) {
      const re2 = (b[i] as { re2: string }).re2;
      if (re2 === '^' || re2 === '\\A') anchored = true;
      else return null;
    }
    if (!anchored) return null;
    const texts = leadOf(b.slice(i), ['']);
    if (!texts || texts.some((s) => s === '')) return null;
    out.push(...texts);
    if (out.length > MAX_LEADING) return null;
  }
  return out.length ? [...new Set(out)] : null;
}

/** Extends each prefix by the certain text at the start of `items`; stops at the first node
 * whose text is not fixed. */
function leadOf(items: Node[], prefixes: string[]): string[] | null {
  let cur = prefixes;
  for (const n of items) {
    let alts: string[] | null = null;
    let goOn = true;
    if (n.t === 'lit') {
      const ch = String.fromCodePoint(n.cp);
      const lo = ch.toLowerCase();
      const up = ch.toUpperCase();
      // RE2 folds case by Unicode (k also matches the Kelvin sign): only plain ASCII pairs
      if (n.ci && lo !== up && !FOLDS_SIMPLY.test(ch)) break;
      alts = n.ci && lo !== up ? [lo, up] : [ch];
    } else if (n.t === 'raw') {
      // [aA]: the same two characters with or without (?i)
      const m = TWO_CHAR_CLASS.exec(n.re2);
      if (!m || m[1] === m[2] || m[1].toLowerCase() !== m[2].toLowerCase() || !FOLDS_SIMPLY.test(m[1])) break;
      alts = [m[1], m[2]];
    } else if (n.t === 'group' && !n.flags) {
      if (n.alt.branches.length === 1) {
        const inner = leadOf(n.alt.branches[0], cur);
        if (!inner) return null;
        // the group's text may have ended early: continue only when it was all literal
        if (!n.alt.branches[0].every((x) => x.t === 'lit')) return inner;
        cur = inner;
        continue;
      }
      const subs: string[] = [];
      for (const b of n.alt.branches) {
        const s = leadOf(b, ['']);
        if (!s) return cur;
        subs.push(...s);
      }
      alts = subs;
      goOn = false;
    } else break;
    const next: string[] = [];
    for (const p of cur) for (const s of alts) next.push(p + s);
    if (next.length > MAX_LEADING) return cur;
    cur = next;
    if (!goOn) break;
  }
  return cur;
}
