// Batch matching for the common case (single-line filter, no prefregex, no connection ids):
// the candidate lines of a chunk, date already cut, are joined by '\n' and each failregex runs
// ONCE over them through RE2's replace, which writes the captures of every matching line in
// place. One N-API crossing per regex per chunk instead of one per line; node-re2's per-match
// result objects, which cost more than the match itself, are never built.
import { groupsOf, hostOf, userCaptures, type CompiledFilter, type Groups } from './compile.js';
import type { LineVerdict } from './matcher.js';

const MARK = '\u0000';
const SEP = '\u0001';

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
    const names = r.groupNames;
    let template = MARK;
    for (let g = 1; g <= names.length; g++) template += (g > 1 ? SEP : '') + '$' + g;
    const joined = open.map((i) => lines[i]).join('\n');
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
      if (o.charCodeAt(0) !== 0) {
        still.push(i);
        continue;
      }
      const parts = names.length ? o.slice(1).split(SEP) : [];
      let groups: Groups;
      if (parts.length !== names.length) {
        // a capture held the separator byte: take this line the slow way
        const m = r.re.exec(lines[i]);
        if (!m) {
          still.push(i);
          continue;
        }
        groups = groupsOf(r, m);
      } else {
        groups = {};
        for (let g = 0; g < names.length; g++) groups[names[g]] = parts[g] === '' ? undefined : parts[g];
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
