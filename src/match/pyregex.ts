// Python `re` syntax -> RE2 syntax. fail2ban filters are Python regular expressions; RE2 has no
// backtracking, so constructs that need it (lookaround, backreferences, conditionals, atomic
// groups) are refused with the construct named, instead of being silently approximated.
// The parser builds a small AST that is used twice: to emit RE2 syntax, and to find the
// literals every match must contain (the prefilter, see literal.ts).

export class RegexRefusal extends Error {
  constructor(
    readonly construct: string,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`${reason}: ${construct} at offset ${position}`);
  }
}

export type Node =
  | { t: 'lit'; cp: number; ci: boolean }
  | { t: 'raw'; re2: string } // dot, class, escape class: emitted as is, matches no fixed text
  | { t: 'assert'; re2: string } // ^ $ \b \B \A \z: zero-width
  | { t: 'group'; name?: string; capture: boolean; flags?: string; alt: Alt }
  | { t: 'repeat'; min: number; max: number; lazy: boolean; node: Node };

export interface Alt {
  branches: Node[][];
}

export interface ParsedRegex {
  alt: Alt;
  /** flags that Python applies to the whole pattern (`(?i)` anywhere) */
  globalFlags: string;
  groupNames: string[];
}

const RE2_MAX_REPEAT = 1000;
const SPECIAL_OUTSIDE = new Set([...'\\.^$|?*+()[]{}']);
const SPECIAL_IN_CLASS = new Set([...'\\]^-[']);

function cpToRe2(cp: number, inClass: boolean): string {
  const ch = String.fromCodePoint(cp);
  if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (inClass ? SPECIAL_IN_CLASS.has(ch) : SPECIAL_OUTSIDE.has(ch)) return '\\' + ch;
  return ch;
}

/** Parses a Python regular expression (after fail2ban tag expansion). Throws RegexRefusal. */
export function parsePythonRegex(src: string): ParsedRegex {
  let pos = 0;
  let globalFlags = '';
  const groupNames: string[] = [];

  // Python applies inline global flags to the whole pattern wherever they stand; x (verbose)
  // changes how the pattern is read, so find the global flags first.
  const verboseScan = /\(\?([aiLmsux]+)\)/g;
  for (let m = verboseScan.exec(src); m; m = verboseScan.exec(src)) {
    if (isEscaped(src, m.index)) continue;
    if (m[1].includes('x')) globalFlags += 'x';
  }
  const verbose = globalFlags.includes('x');

  const refuse = (construct: string, at: number, reason: string): never => {
    throw new RegexRefusal(construct, at, reason);
  };

  function isEscaped(s: string, i: number): boolean {
    let n = 0;
    for (let j = i - 1; j >= 0 && s[j] === '\\'; j--) n++;
    return n % 2 === 1;
  }

  function skipVerbose(): void {
    if (!verbose) return;
    for (;;) {
      const c = src[pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') pos++;
      else if (c === '#') {
        while (pos < src.length && src[pos] !== '\n') pos++;
      } else return;
    }
  }

  function parseAlt(ci: boolean, depth: number): Alt {
    const branches: Node[][] = [];
    let cur: Node[] = [];
    for (;;) {
      skipVerbose();
      if (pos >= src.length) break;
      const c = src[pos];
      if (c === '|') {
        branches.push(cur);
        cur = [];
        pos++;
        continue;
      }
      if (c === ')') {
        if (depth === 0) refuse(')', pos, 'unbalanced parenthesis');
        break;
      }
      const atomStart = pos;
      const atom = parseAtom(ci);
      if (atom === null) continue; // comment or flag-only group
      if ('ciChange' in atom) {
        ci = atom.ciChange;
        continue;
      }
      const q = parseQuantifier(atomStart);
      if (q) {
        if (atom.t === 'assert') refuse(src.slice(atomStart, pos), atomStart, 'quantified assertion is not supported by RE2');
        cur.push({ t: 'repeat', min: q.min, max: q.max, lazy: q.lazy, node: atom });
      } else cur.push(atom);
    }
    branches.push(cur);
    return { branches };
  }

  function parseQuantifier(atomStart: number): { min: number; max: number; lazy: boolean } | null {
    skipVerbose();
    const c = src[pos];
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, -1];
    else if (c === '+') [min, max] = [1, -1];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d*)(?:(,)(\d*))?\}/.exec(src.slice(pos));
      if (!m || (m[1] === '' && m[2] === undefined)) return null; // literal '{'
      min = m[1] === '' ? 0 : Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
      if (min > RE2_MAX_REPEAT || max > RE2_MAX_REPEAT) refuse(m[0], pos, `repetition count above ${RE2_MAX_REPEAT} is not supported by RE2`);
      if (max !== -1 && max < min) refuse(m[0], pos, 'repetition with max < min');
      pos += m[0].length - 1;
    } else return null;
    pos++;
    let lazy = false;
    if (src[pos] === '?') {
      lazy = true;
      pos++;
    } else if (src[pos] === '+') {
      refuse(src.slice(atomStart, pos + 1), pos, 'possessive quantifier is not supported by RE2');
    }
    if (src[pos] === '*' || src[pos] === '+' || (src[pos] === '?' && !lazy)) {
      refuse(src.slice(atomStart, pos + 1), pos, 'multiple repeat');
    }
    return { min, max, lazy };
  }

  function parseAtom(ci: boolean): Node | { ciChange: boolean } | null {
    const start = pos;
    const c = src[pos];
    if (c === '(') return parseGroup(ci);
    if (c === '[') return { t: 'raw', re2: parseClass() };
    if (c === '.') {
      pos++;
      return { t: 'raw', re2: '.' };
    }
    if (c === '^') {
      pos++;
      return { t: 'assert', re2: '^' };
    }
    if (c === '$') {
      pos++;
      return { t: 'assert', re2: '$' };
    }
    if (c === '*' || c === '+' || c === '?') refuse(c, start, 'nothing to repeat');
    if (c === '\\') return parseEscape(ci);
    const cp = src.codePointAt(pos)!;
    pos += cp > 0xffff ? 2 : 1;
    return { t: 'lit', cp, ci };
  }

  function parseEscape(ci: boolean): Node {
    const start = pos;
    pos++; // backslash
    if (pos >= src.length) refuse('\\', start, 'bad escape (end of pattern)');
    const e = src[pos++];
    switch (e) {
      case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
        return { t: 'raw', re2: '\\' + e };
      case 'b': case 'B': case 'A':
        return { t: 'assert', re2: '\\' + e };
      case 'Z':
        return { t: 'assert', re2: '\\z' };
      case 'n': return { t: 'lit', cp: 10, ci };
      case 't': return { t: 'lit', cp: 9, ci };
      case 'r': return { t: 'lit', cp: 13, ci };
      case 'f': return { t: 'lit', cp: 12, ci };
      case 'v': return { t: 'lit', cp: 11, ci };
      case 'a': return { t: 'lit', cp: 7, ci };
    }
    const cp = parseCodeEscape(e, start);
    if (cp !== null) return { t: 'lit', cp, ci };
    if (/[1-9]/.test(e)) refuse(src.slice(start, pos), start, 'backreference is not supported by RE2');
    if (/[A-Za-z]/.test(e)) refuse(src.slice(start, pos), start, 'bad escape');
    const full = src.codePointAt(pos - 1)!;
    if (full > 0xffff) pos++;
    return { t: 'lit', cp: full, ci };
  }

  /** \xHH \uHHHH \UHHHHHHHH \0 \0oo octal; null if `e` starts none of these. */
  function parseCodeEscape(e: string, start: number): number | null {
    const hex = (n: number): number => {
      const h = src.slice(pos, pos + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) refuse(src.slice(start, pos + n), start, 'bad escape');
      pos += n;
      return parseInt(h, 16);
    };
    if (e === 'x') return hex(2);
    if (e === 'u') return hex(4);
    if (e === 'U') return hex(8);
    if (e === '0') {
      const m = /^[0-7]{0,2}/.exec(src.slice(pos))![0];
      pos += m.length;
      return m ? parseInt(m, 8) : 0;
    }
    return null;
  }

  function parseClass(): string {
    const start = pos;
    pos++; // [
    let out = '[';
    if (src[pos] === '^') {
      out += '^';
      pos++;
    }
    let first = true;
    for (;;) {
      if (pos >= src.length) refuse(src.slice(start), start, 'unterminated character set');
      const c = src[pos];
      if (c === ']' && !first) {
        pos++;
        break;
      }
      first = false;
      if (c === '\\') {
        const es = pos;
        pos++;
        const e = src[pos++];
        if ('dDwWsS'.includes(e)) out += '\\' + e;
        else if (e === 'b') out += '\\x08';
        else if (e === 'n') out += '\\x0a';
        else if (e === 't') out += '\\x09';
        else if (e === 'r') out += '\\x0d';
        else if (e === 'f') out += '\\x0c';
        else if (e === 'v') out += '\\x0b';
        else if (e === 'a') out += '\\x07';
        else {
          const cp = parseCodeEscape(e, es);
          if (cp !== null) out += cpToRe2(cp, true);
          else if (/[A-Za-z0-9]/.test(e)) refuse(src.slice(es, pos), es, 'bad escape in character set');
          else out += cpToRe2(e.codePointAt(0)!, true);
        }
        continue;
      }
      if (c === '-') {
        // a range dash stays a dash; at the edges it is a literal
        const atEdge = out.endsWith('[') || out === '[^' || src[pos + 1] === ']';
        out += atEdge ? '\\-' : '-';
        pos++;
        continue;
      }
      const cp = src.codePointAt(pos)!;
      pos += cp > 0xffff ? 2 : 1;
      out += cpToRe2(cp, true);
    }
    return out + ']';
  }

  function parseGroup(ci: boolean): Node | { ciChange: boolean } | null {
    const start = pos;
    pos++; // (
    if (src[pos] !== '?') {
      const alt = parseAlt(ci, 1);
      expectClose(start);
      return { t: 'group', capture: true, alt };
    }
    pos++; // ?
    const rest = src.slice(pos);
    if (rest.startsWith(':')) {
      pos++;
      // fail2ban turns `(?:(?i)x)` into the scoped `(?i:x)`; Python would make it global
      const scoped = /^\(\?([a-z]+)\)/.exec(src.slice(pos));
      if (scoped && !scoped[1].includes('x')) {
        pos += scoped[0].length;
        return scopedGroup(scoped[1], ci, start);
      }
      const alt = parseAlt(ci, 1);
      expectClose(start);
      return { t: 'group', capture: false, alt };
    }
    if (rest.startsWith('P<')) {
      const m = /^P<([^>]*)>/.exec(rest);
      if (!m) refuse(src.slice(start, start + 12), start, 'bad group name');
      const name = m![1];
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) refuse(`(?P<${name}>`, start, 'bad group name');
      if (groupNames.includes(name)) refuse(`(?P<${name}>`, start, 'group name used twice');
      groupNames.push(name);
      pos += m![0].length;
      const alt = parseAlt(ci, 1);
      expectClose(start);
      return { t: 'group', capture: true, name, alt };
    }
    if (rest.startsWith('P=')) refuse(src.slice(start, src.indexOf(')', start) + 1 || undefined), start, 'named backreference is not supported by RE2');
    if (rest.startsWith('=')) refuse('(?=', start, 'lookahead is not supported by RE2');
    if (rest.startsWith('!')) refuse('(?!', start, 'negative lookahead is not supported by RE2');
    if (rest.startsWith('<=')) refuse('(?<=', start, 'lookbehind is not supported by RE2');
    if (rest.startsWith('<!')) refuse('(?<!', start, 'negative lookbehind is not supported by RE2');
    if (rest.startsWith('(')) refuse(src.slice(start, src.indexOf(')', pos) + 1 || undefined), start, 'conditional group is not supported by RE2');
    if (rest.startsWith('>')) refuse('(?>', start, 'atomic group is not supported by RE2');
    if (rest.startsWith('#')) {
      const end = src.indexOf(')', pos);
      if (end < 0) refuse('(?#', start, 'unterminated comment');
      pos = end + 1;
      return null;
    }
    if (rest.startsWith('<')) {
      // Python before 3.12 has no (?<name>...); accept it as RE2 does
      const m = /^<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (!m) refuse(src.slice(start, start + 6), start, 'unknown extension');
      pos = start + 2;
      src = src.slice(0, pos) + 'P' + src.slice(pos); // reuse the (?P< path
      return parseGroup(ci);
    }
    const fm = /^([aiLmsux]*)(?:-([imsx]+))?([:)])/.exec(rest);
    if (!fm) refuse(src.slice(start, start + 4), start, 'unknown extension');
    const [, on, off, end] = fm!;
    pos += fm![0].length;
    if (end === ')') {
      if (off) refuse(fm![0], start, 'missing : after flags');
      for (const f of on) {
        if (f === 'L') refuse('(?L)', start, 'locale flag is not supported');
        if ('ims'.includes(f) && !globalFlags.includes(f)) globalFlags += f;
      }
      return { ciChange: ci || on.includes('i') };
    }
    pos -= 1;
    pos++; // past ':'
    let flags = [...on].filter((f) => 'ims'.includes(f)).join('');
    if (off) flags += '-' + [...off].filter((f) => 'ims'.includes(f)).join('');
    const innerCi = on.includes('i') ? true : off?.includes('i') ? false : ci;
    const alt = parseAlt(innerCi, 1);
    expectClose(start);
    return { t: 'group', capture: false, flags: flags || undefined, alt };
  }

  function scopedGroup(flags: string, ci: boolean, start: number): Node {
    const alt = parseAlt(ci || flags.includes('i'), 1);
    expectClose(start);
    const f = [...flags].filter((x) => 'ims'.includes(x)).join('');
    return { t: 'group', capture: false, flags: f || undefined, alt };
  }

  function expectClose(start: number): void {
    if (src[pos] !== ')') refuse(src.slice(start, start + 10), start, 'missing ), unterminated subpattern');
    pos++;
  }

  // fail2ban rewrites a capturing group that starts with global flags, `((?i)x)`, into the
  // scoped non-capturing `(?i:x)`; do the same before parsing.
  src = src.replace(/(^|[^\\])\((?:\?:)?\(\?([a-z]+)\)/g, (_m, pre: string, f: string) => `${pre}(?${f}:`);
  // a pattern starting with flags is global in both engines: parse those first
  const lead = /^\(\?([aiLmsux]+)\)/.exec(src);
  let ci0 = false;
  if (lead) {
    for (const f of lead[1]) {
      if (f === 'L') refuse('(?L)', 0, 'locale flag is not supported');
      if ('ims'.includes(f) && !globalFlags.includes(f)) globalFlags += f;
    }
    ci0 = lead[1].includes('i');
    pos = lead[0].length;
  }
  // a global (?i) later in the pattern applies from the start too
  if (/(^|[^\\])\(\?[a-zA-Z]*i[a-zA-Z]*\)/.test(src)) ci0 = true;
  const alt = parseAlt(ci0, 0);
  if (pos < src.length) refuse(src.slice(pos, pos + 10), pos, 'unbalanced parenthesis');
  return { alt, globalFlags: globalFlags.replace('x', ''), groupNames };
}

/** Emission mode: 'named' keeps Python's groups as they are; 'indexed' turns named groups into
 * plain ones (node-re2 builds a `groups` object per match, which costs more than the match) and
 * unnamed groups into non-capturing ones (nobody reads them by number). */
type Mode = 'named' | 'indexed' | 'batch';

/** Nodes to capture on their own in batch mode (a Set or the keys of a Map). */
export interface NodeSet {
  has(n: Node): boolean;
}

/** Thrown by the 'batch' emitter for regexes that could match across a line break. */
export class NotBatchable extends Error {}

// 'batch' mode: like 'indexed', but no part may match '\n', so one search over many lines
// joined by '\n' finds the same matches as one search per line (see batch.ts).
function batchRaw(re2: string): string {
  if (re2 === '\\s') return '[\\t\\x0b\\x0c\\x0d ]';
  if (re2 === '\\W') return '[^\\w\\n]';
  if (re2 === '\\D') return '[^\\d\\n]';
  if (re2.startsWith('[^')) return '[^\\n' + re2.slice(2);
  if (re2.startsWith('[')) {
    if (/(?<!\\)(?:\\\\)*\\[WD]/.test(re2)) throw new NotBatchable(re2);
    return re2.replace(/(?<!\\)((?:\\\\)*)\\s/g, '$1\\t\\x0b\\x0c\\x0d ');
  }
  return re2; // '.', \d \w \S never match '\n' (the 's' flag is refused in batch mode)
}

function emitNode(n: Node, mode: Mode, wrap?: NodeSet, lazy?: ReadonlySet<Node>): string {
  // a witness (batch mode): the node in a capture group of its own, see witnessesOf (compile.ts)
  if (wrap?.has(n)) return `(${emitNode(n, mode)})`;
  switch (n.t) {
    case 'lit':
      if (mode === 'batch' && n.cp === 10) throw new NotBatchable('\\n');
      return cpToRe2(n.cp, false);
    case 'raw':
      return mode === 'batch' ? batchRaw(n.re2) : n.re2;
    case 'assert':
      if (mode === 'batch' && n.re2 === '\\A') return '^';
      if (mode === 'batch' && n.re2 === '\\z') return '$';
      return n.re2;
    case 'group': {
      const body = emitAlt(n.alt, mode, wrap);
      if (n.name) return mode === 'named' ? `(?P<${n.name}>${body})` : `(${body})`;
      if (n.capture) return mode === 'named' ? `(${body})` : `(?:${body})`;
      if (mode === 'batch' && n.flags?.split('-')[0].includes('s')) throw new NotBatchable('(?s:');
      return n.flags ? `(?${n.flags}:${body})` : `(?:${body})`;
    }
    case 'repeat': {
      const inner = emitNode(n.node, mode, wrap);
      const needsGroup = n.node.t === 'lit' ? false : n.node.t === 'group' || n.node.t === 'raw' ? false : true;
      const atom = needsGroup ? `(?:${inner})` : inner;
      let q: string;
      if (n.min === 0 && n.max === -1) q = '*';
      else if (n.min === 1 && n.max === -1) q = '+';
      else if (n.min === 0 && n.max === 1) q = '?';
      else if (n.max === -1) q = `{${n.min},}`;
      else if (n.max === n.min) q = `{${n.min}}`;
      else q = `{${n.min},${n.max}}`;
      return atom + q + (n.lazy || lazy?.has(n) ? '?' : '');
    }
  }
}

export function emitAlt(a: Alt, mode: Mode = 'named', wrap?: NodeSet, lazy?: ReadonlySet<Node>): string {
  return a.branches.map((b) => b.map((n) => emitNode(n, mode, wrap, lazy)).join('')).join('|');
}

function capturesIn(n: Node, wrap?: NodeSet): boolean {
  if (wrap?.has(n)) return true;
  if (n.t === 'group') return !!n.name || n.alt.branches.some((b) => b.some((x) => capturesIn(x, wrap)));
  if (n.t === 'repeat') return capturesIn(n.node, wrap);
  return false;
}

/** Batch mode: the repeats of a top-level branch that stand after its last capture, to be
 * emitted lazy. RE2 works out the captures over the matched span, and a greedy `.*` after the
 * address runs that span to the end of the line (the referrer and user agent of an access log
 * line) only to back off again. Nothing they match is captured, and making them lazy changes
 * only where the match ends, not whether a branch matches at a place nor which way its
 * captures went: with leftmost-first matching, the captures are those of the first path in
 * priority order that can finish, and the repeats after the last capture only reorder the
 * ways to finish. batch.ts reads the captures and ignores the rest of the line. */
function tailRepeats(a: Alt, wrap?: NodeSet): Set<Node> {
  const out = new Set<Node>();
  for (const b of a.branches) {
    let last = -1;
    b.forEach((n, i) => {
      if (capturesIn(n, wrap)) last = i;
    });
    for (let i = last + 1; i < b.length; i++) {
      const n = b[i];
      if (n.t === 'repeat' && !n.lazy && n.max === -1) out.add(n);
    }
  }
  return out;
}

/** Translated RE2 source: global flags first, as Python applies them to the whole pattern.
 * In 'indexed' mode group i+1 is `p.groupNames[i]` (names are collected in opening order). */
export function toRe2Source(p: ParsedRegex, extraFlags = '', mode: Mode = 'named', witnesses?: NodeSet): string {
  let flags = p.globalFlags;
  if (mode === 'batch') {
    if (flags.includes('s')) throw new NotBatchable('(?s)');
    // many lines in one text: ^ and $ must hold at each line. The first match in a line is
    // the leftmost, the one a per-line search finds (batch.ts ignores any later one). Nothing
    // around the body: RE2 extracts captures over the matched span only, so the rest of the
    // line is not worth matching (it used to be, with ^[^\n]*? and [^\n]*, at twice the cost).
    const body = emitAlt(p.alt, mode, witnesses, tailRepeats(p.alt, witnesses));
    const f = flags.replace('m', '') + 'm';
    return `(?${f})(?:${body})`;
  }
  for (const f of extraFlags) if (!flags.includes(f)) flags += f;
  const body = emitAlt(p.alt, mode);
  return flags ? `(?${flags})${body}` : body;
}

/** The batch form of a regex for one line at a time (native-lines.ts): the same body and
 * capture groups as toRe2Source(p, '', 'batch', witnesses), without the (?m) that makes ^ and
 * $ hold at each line of a joined text. In a text without '\n' they mean the same, and a
 * regex starting with ^ is then anchored at the text's start, which RE2 matches faster. */
export function toLineSource(p: ParsedRegex, witnesses?: NodeSet): string {
  toRe2Source(p, '', 'batch', witnesses); // refuses what batch mode refuses
  const body = emitAlt(p.alt, 'batch', witnesses, tailRepeats(p.alt, witnesses));
  const f = p.globalFlags.replace('m', '');
  return f ? `(?${f})(?:${body})` : `(?:${body})`;
}
