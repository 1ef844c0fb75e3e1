// A batchable regex over many lines in one native call (native-rules/re2-lines): per line,
// the groups `re.exec(line)` would give, from where RE2 says each capture starts and ends.
// Through node-re2 each match cost ~350 ns besides RE2's own work (a UTF-8 copy of the text
// per call, a replacement string per match, which batch.ts then split and sliced again); sshd
// matches twice a line. The node-re2 path (batch.ts) stays for when the addon is missing.
import type { CompiledRegex, Groups } from './compile.js';
import { loadNativeAddon } from './native-addon.js';

interface LineAddon {
  compile(pattern: string, ignoreCase: boolean, multiline: boolean, dotAll: boolean): object;
  groups(regex: object): number;
  /** per line of text[0, length) (UTF-8, joined by '\n'): (groups + 1) pairs [start, end) from
   * the line's start, in bytes or (utf16) UTF-16 units; -1 where the line does not match or
   * the group took no part */
  matchLines(regex: object, text: Uint8Array, length: number, utf16: boolean): Int32Array;
}

let addon: LineAddon | null | undefined;

/** The native line matcher, or null when it is not built (`npm run build:native`) or
 * LOGBAN_NATIVE_RE2=0 turns it off (to compare: the results are the same). */
export function lineAddon(): LineAddon | null {
  if (addon === undefined) addon = loadNativeAddon<LineAddon>('re2-lines', 'logban_re2_lines', 'LOGBAN_NATIVE_RE2');
  return addon;
}

interface LineRegex {
  handle: object;
  /** the last capture group runs on to the end of the line (batchToEol's cut `(.)`) */
  toEol: boolean;
  /** Int32s per line in matchLines' answer */
  stride: number;
}

const regexes = new WeakMap<CompiledRegex, LineRegex | null>();

function lineRegexOf(r: CompiledRegex): LineRegex | null {
  let lr = regexes.get(r);
  if (lr !== undefined) return lr;
  lr = null;
  const a = lineAddon();
  const source = r.lineToEolSource ?? r.lineSource;
  if (a && source !== null) {
    try {
      // flags are inline in our sources, as in the node-re2 objects made from the same body
      const handle = a.compile(source, false, false, false);
      const groups = a.groups(handle);
      if (groups === r.batchSlots.length) lr = { handle, toEol: r.lineToEolSource !== null, stride: 2 * (groups + 1) };
    } catch {
      lr = null; // cannot happen (node-re2 took the same body); node-re2 does the work then
    }
  }
  regexes.set(r, lr);
  return lr;
}

let scratch = Buffer.allocUnsafeSlow(1 << 16);
let enabled = true;

/** Turns the native path off (false) or back on: tests run both paths over the same lines. */
export function useNativeLines(on: boolean): void {
  enabled = on;
}

/** The groups of r (batchable) on each line, null where it does not match, as
 * groupsOf(r, r.re.exec(line)) gives them; or null when the native matcher is not there (not
 * built, or turned off). Lines hold no '\n'. */
export function nativeGroups(r: CompiledRegex, lines: readonly string[]): Array<Groups | null> | null {
  if (!enabled) return null;
  const lr = lineRegexOf(r);
  if (!lr) return null;
  const joined = lines.join('\n');
  const bytes = Buffer.byteLength(joined, 'utf8');
  // plain ASCII (the common case) is copied as it is, and its byte offsets are string indexes;
  // other text goes in as UTF-8 and the addon counts its offsets in UTF-16 units
  const ascii = bytes === joined.length;
  if (scratch.length < bytes) scratch = Buffer.allocUnsafeSlow(Math.max(bytes, scratch.length * 2));
  const n = scratch.write(joined, 0, ascii ? 'latin1' : 'utf8');
  const at = lineAddon()!.matchLines(lr.handle, scratch, n, !ascii);
  const out: Array<Groups | null> = new Array(lines.length).fill(null);
  const names = r.groupNames;
  const slots = r.batchSlots;
  const last = slots.length - 1;
  for (let i = 0, base = 0; i < lines.length; i++, base += lr.stride) {
    if (at[base] < 0) continue;
    const line = lines[i];
    const groups: Groups = {};
    for (let k = 0; k < slots.length; k++) {
      const g = slots[k];
      if (g < 0) continue; // a witness: the offsets already say whether its group took part
      const s = at[base + 2 * k + 2];
      groups[names[g]] = s < 0 ? undefined : lr.toEol && k === last ? line.slice(s) : line.slice(s, at[base + 2 * k + 3]);
    }
    for (const [a, b] of r.altGroups) if (groups[a] && !groups[b]) groups[b] = groups[a];
    out[i] = groups;
  }
  return out;
}
