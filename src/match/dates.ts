// Date detection as fail2ban does it: a list of templates (strptime-style patterns, EPOCH,
// LEPOCH, TAI64N, {NONE}) searched in a line; the matched text is cut out of the line before the
// failregex runs, and its value becomes the failure time. Templates are JavaScript regexes (they
// need backreferences and lookbehind that RE2 lacks); they are fixed, short and anchored to word
// boundaries, and only run on prefilter candidates.

export class DatePatternError extends Error {
  override name = 'DatePatternError';
}

/** What a date template found in a line. */
export interface DateHit {
  /** text [start, end) is the date, cut from the line before the failregex search */
  start: number;
  end: number;
  /** epoch seconds; null when the template matched no text ({NONE}) or the value is invalid */
  time: number | null;
  template: string;
}

type Kind = 'pattern' | 'epoch' | 'lepoch' | 'tai64n';

interface Template {
  name: string;
  re: RegExp;
  /** `re` with its named groups made plain (a group a backreference names keeps a number):
   * the same matches without the groups object V8 builds per match (~0.1 µs a line on sshd);
   * the date is parsed from `re`'s groups only when its text changes. `re` itself when equal. */
  lean: RegExp;
  kind: Kind;
  /** regex group holding the value (epoch, tai64n); patterns read named groups */
  valueGroup: number;
  lineBegin: boolean;
  /** group 1 (the date text) ends where the match ends: its position needs no 'd' flag */
  groupAtEnd: boolean;
}

// ---- strptime directives -> regex fragments -------------------------------------------------

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTHS_FULL = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAYS_FULL = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

const TZ_ABBR = String.raw`[A-Z](?:[A-Z]{2,4})?`;
const DIRECTIVES: Record<string, string> = {
  a: `(?<a>${DAYS.join('|')})`,
  A: `(?<A>${DAYS_FULL.join('|')})`,
  b: `(?<b>${MONTHS.join('|')})`,
  B: `(?<B>${MONTHS_FULL.join('|')})`,
  d: String.raw`(?<d>[1-2]\d|[0 ]?[1-9]|3[0-1])`,
  f: String.raw`(?<f>[0-9]{1,6})`,
  H: String.raw`(?<H>[0-1]?\d|2[0-3])`,
  I: String.raw`(?<I>1[0-2]|0[1-9]|[1-9])`,
  j: String.raw`(?<j>36[0-6]|3[0-5]\d|[12]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])`,
  k: String.raw` ?(?<H>[0-2]?\d)`,
  l: String.raw` ?(?<I>1?\d)`,
  m: String.raw`(?<m>0?[1-9]|1[0-2])`,
  M: String.raw`(?<M>[0-5]?\d)`,
  p: `(?<p>am|pm)`,
  S: String.raw`(?<S>[0-5]?\d|6[0-1])`,
  U: String.raw`(?<U>5[0-3]|[0-4]\d|\d)`,
  W: String.raw`(?<W>5[0-3]|[0-4]\d|\d)`,
  w: `(?<w>[0-6])`,
  y: String.raw`(?<y>\d\d)`,
  Y: String.raw`(?<Y>\d\d\d\d)`,
  z: String.raw`(?<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)`,
  Z: String.raw`(?<Z>Z|[A-Z]{3,5})`,
  // exact forms: fixed width, plausible years only (this century)
  ExY: String.raw`(?<Y>20\d\d)`,
  Exy: String.raw`(?<y>\d{2})`,
  Exm: String.raw`(?<m>0[1-9]|1[0-2])`,
  Exd: String.raw`(?<d>[1-2]\d|0[1-9]|3[0-1])`,
  ExH: String.raw`(?<H>[0-1]\d|2[0-3])`,
  Exk: String.raw` ?(?<H>[0-1]?\d|2[0-3])`,
  Exl: String.raw` ?(?<I>1[0-2]|\d)`,
  ExM: String.raw`(?<M>[0-5]\d)`,
  ExS: String.raw`(?<S>[0-5]\d|6[0-1])`,
  ExZ: `(?<Z>${TZ_ABBR})`,
  Exz: String.raw`(?<z>(?:${TZ_ABBR})?[+-][01]\d(?::?\d{2})?|${TZ_ABBR})`,
};
const DIRECTIVE_RE = /%(%|Ex[a-zA-Z]|[a-zA-Z])/g;
const ALPHA_DIRECTIVE = /(?<!%)%[aAbBpc]/;

// Time zone abbreviations, offsets in minutes (fixed: no daylight switching, as fail2ban).
const ZONES: Record<string, number> = {
  Z: 0, UT: 0, UTC: 0, GMT: 0, WET: 0, WEST: 60, CET: 60, CEST: 120, MET: 60, MEST: 120,
  EET: 120, EEST: 180, MSK: 180, SAST: 120, IDT: 180, EAT: 180, GST: 240, PKT: 300,
  ICT: 420, WIB: 420, HKT: 480, SGT: 480, AWST: 480, JST: 540, KST: 540, ACST: 570,
  ACDT: 630, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780,
  AST: -240, ADT: -180, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360,
  PST: -480, PDT: -420, AKST: -540, AKDT: -480, HST: -600, NST: -210, NDT: -150,
};

/** Offset in minutes of `+hh`, `+hhmm`, `+hh:mm`, optionally after a zone abbreviation. */
function zoneOffset(text: string): number | null {
  const m = /^([A-Z](?:[A-Z]{2,4})?)?([+-])?([01]\d)?(?::?(\d{2}))?$/.exec(text);
  if (!m) return null;
  const [, abbr, sign, hh, mm] = m;
  let off = 0;
  if (abbr) {
    if (!(abbr in ZONES)) return null;
    off = ZONES[abbr];
  }
  if (hh !== undefined) {
    if (!sign) return null;
    off += (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm ?? 0));
  } else if (sign || mm) return null;
  return off;
}

/** A log time zone: a fixed offset (fail2ban's forms) or an IANA name (`Europe/Paris`). */
export type LogZone = { fixed: number } | { iana: string } | null;

export function parseLogTimezone(tz: string | undefined): LogZone {
  if (tz === undefined || tz === '') return null;
  const fixed = zoneOffset(tz);
  if (fixed !== null) return { fixed };
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return { iana: tz };
  } catch {
    throw new DatePatternError(`unknown time zone '${tz}' (use UTC, +0200, UTC+02:00, CET or a name like Europe/Paris)`);
  }
}

const ianaFormatters = new Map<string, Intl.DateTimeFormat>();
/** UTC offset in minutes of an IANA zone at a wall-clock time given as if it were UTC. */
function ianaOffset(zone: string, wallAsUtcMs: number): number {
  let f = ianaFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    ianaFormatters.set(zone, f);
  }
  const at = (ms: number): number => {
    const p: Record<string, number> = {};
    for (const part of f!.formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    return (Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000) / 60000;
  };
  // two steps settle on the offset in force at that wall-clock time (DST edges included)
  const first = at(wallAsUtcMs);
  return at(wallAsUtcMs - first * 60000);
}

// ---- pattern templates ----------------------------------------------------------------------

const EPOCH = String.raw`\d{10,11}\b(?:\.\d{3,6})?`;
const LEPOCH = String.raw`\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`;
const LINE_BEGIN_PREFIX = String.raw`^(?:\W{0,2})?`;
const WORD_BEGIN = String.raw`(?=^|\b|\W)`;
const WORD_END = String.raw`(?=\b|\W|$)`;

/** Python regex syntax in a date pattern -> JavaScript regex syntax. */
function pyToJs(src: string): string {
  return src.replace(/\(\?P<(\w+)>/g, '(?<$1>').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
}

interface Bounds {
  begin: boolean | 'line';
  end: boolean;
}

/** Wraps a regex (group 1 = the date text) with fail2ban's word/line boundaries. */
function bound(regex: string, b: Bounds): { source: string; lineBegin: boolean; wrapped: boolean } {
  let r = regex.trim();
  const noBegin = /^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)/.test(r);
  const noEnd = /(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$/.test(r);
  // wrap in a group unless the pattern already has a plain capturing group
  const wrapped = !/(?<!\(\?)(?<!\\)\((?!\?)/.test(r);
  if (wrapped) {
    const m = /^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$/s.exec(r)!;
    r = `${m[1]}(${m[2]})${m[3]}`;
  }
  let lineBegin = /^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))/.test(r);
  if (b.begin && !noBegin) {
    if (b.begin === 'line') {
      r = LINE_BEGIN_PREFIX + r;
      lineBegin = true;
    } else r = WORD_BEGIN + r;
  }
  if (b.end && !noEnd) r += WORD_END;
  r = r.replace(/^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$/g, (m) => m.replace('**', ''));
  return { source: r, lineBegin, wrapped };
}

/** `source` with each named group (?<name>...) made non-capturing, or a plain capture when a
 * backreference \k<name> needs it (the backreference then by number). Groups before the
 * first named one keep their numbers. */
export function withoutNamedGroups(source: string): string {
  const referred = new Set<string>();
  for (const m of source.matchAll(/\\k<(\w+)>/g)) referred.add(m[1]);
  let out = '';
  let next = 1; // number of the next capturing group in the output
  const numberOf = new Map<string, number>();
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const k = /^\\k<(\w+)>/.exec(source.slice(i));
      if (k && !inClass) {
        const n = numberOf.get(k[1]);
        if (n === undefined) return source; // a forward reference: leave the regex as it is
        out += `(?:\\${n})`;
        i += k[0].length - 1;
        continue;
      }
      out += c + (source[i + 1] ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (c === '(') {
      const named = /^\(\?<(\w+)>/.exec(source.slice(i));
      if (named) {
        if (referred.has(named[1])) {
          numberOf.set(named[1], next++);
          out += '(';
        } else out += '(?:';
        i += named[0].length - 1;
        continue;
      }
      if (source[i + 1] !== '?') next++;
    }
    out += c;
  }
  return out;
}

function compileRe(source: string, flags: string, pattern: string, indices = false): RegExp {
  try {
    return new RegExp(source, flags + (indices ? 'd' : ''));
  } catch (e) {
    throw new DatePatternError(`invalid datepattern '${pattern}': ${(e as Error).message}`);
  }
}

function epochTemplate(long: boolean, lineBeginOnly: boolean): Template {
  const e = long ? LEPOCH : EPOCH;
  const name = (lineBeginOnly ? '{^LN-BEG}' : '') + (long ? 'LEPOCH' : 'EPOCH');
  if (lineBeginOnly) {
    const { source } = bound(`(${e})`, { begin: 'line', end: true });
    const re = compileRe(source, '', name);
    return { name, re, lean: re, kind: long ? 'lepoch' : 'epoch', valueGroup: 1, lineBegin: true, groupAtEnd: true };
  }
  // at line start, in `[...]` at line start, or SELinux's `audit(EPOCH:serial)`
  const source = String.raw`((?:^|(?<=^\[)(?=${e}\])|(?<=\baudit\()(?=${e}:\d+\)))${e})` + WORD_END;
  const re = compileRe(source, '', name);
  return { name, re, lean: re, kind: long ? 'lepoch' : 'epoch', valueGroup: 1, lineBegin: false, groupAtEnd: true };
}

function tai64nTemplate(lineBegin: boolean): Template {
  const { source } = bound('@[0-9a-f]{24}', { begin: lineBegin ? 'line' : true, end: true });
  const re = compileRe(source, '', 'TAI64N');
  return { name: (lineBegin ? '{^LN-BEG}' : '') + 'TAI64N', re, lean: re, kind: 'tai64n', valueGroup: 1, lineBegin, groupAtEnd: true };
}

function patternTemplate(pattern: string): Template {
  let p = pattern;
  const b: Bounds = { begin: true, end: true };
  if (p.startsWith('{UNB}')) {
    p = p.slice(5);
    b.begin = b.end = false;
  }
  if (b.begin && p.startsWith('{^LN-BEG}')) {
    p = p.slice(9);
    b.begin = 'line';
  }
  const epoch = /(?<!\\)\{(L?)EPOCH\}/i.exec(p);
  if (epoch) {
    const long = epoch[1] !== '';
    const body = p.replace(/(?<!\\)\{L?EPOCH\}/gi, `(${long ? LEPOCH : EPOCH})`);
    const { source, lineBegin } = bound(`(${pyToJs(body)})`, b);
    const re = compileRe(source, '', pattern);
    return { name: pattern, re, lean: re, kind: long ? 'lepoch' : 'epoch', valueGroup: 2, lineBegin, groupAtEnd: true };
  }
  let flags = '';
  // global flags like (?i) or (?iu) move to the JavaScript flags
  p = p.replace(/(^|[^\\])\(\?([a-z]+)\)/g, (_m, pre: string, f: string) => {
    if (f.includes('i')) flags = 'i';
    return pre;
  });
  if (ALPHA_DIRECTIVE.test(p)) flags = 'i';
  const body = p.replace(DIRECTIVE_RE, (all, d: string) => {
    if (d === '%') return '%';
    const frag = DIRECTIVES[d];
    if (frag === undefined) throw new DatePatternError(`unsupported directive %${d} in datepattern '${pattern}'`);
    return frag;
  });
  const { source, lineBegin, wrapped } = bound(pyToJs(body), b);
  const re = compileRe(source, flags, pattern, !wrapped);
  // only where group 1 is our wrapper: a pattern's own first group may be a named one
  const leanSource = wrapped ? withoutNamedGroups(source) : source;
  let lean = re;
  try {
    if (leanSource !== source) lean = new RegExp(leanSource, flags);
  } catch {
    lean = re; // cannot happen (the rewrite keeps the syntax); the full regex does the same work
  }
  return { name: pattern, re, lean, kind: 'pattern', valueGroup: 1, lineBegin, groupAtEnd: wrapped };
}

const templateCache = new Map<string, Template>();

/** A template for one datepattern line (cached: templates are immutable). */
function templateFor(pattern: string): Template | 'none' {
  const key = pattern.includes('%') ? pattern : pattern.toUpperCase();
  if (key === '{NONE}') return 'none';
  let t = templateCache.get(key);
  if (t) return t;
  if (key === 'EPOCH' || key === 'LEPOCH') t = epochTemplate(key === 'LEPOCH', false);
  else if (key === '{^LN-BEG}EPOCH' || key === '^EPOCH') t = epochTemplate(false, true);
  else if (key === '{^LN-BEG}LEPOCH' || key === '^LEPOCH') t = epochTemplate(true, true);
  else if (key === 'TAI64N') t = tai64nTemplate(false);
  else if (key === '{^LN-BEG}TAI64N' || key === '^TAI64N') t = tai64nTemplate(true);
  else t = patternTemplate(pattern);
  templateCache.set(key, t);
  return t;
}

// fail2ban's default formats, most common first. Each one that is not anchored also gets a
// line-start-anchored twin that is tried before all unanchored templates.
const DEFAULT_PATTERNS = [
  // 2005-01-23T21:59:59.981746+01:00, 2005/01/23 21:59:59, 2006.12.21 06:43:20
  String.raw`%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
  // Sun Jan 23 21:59:59.011 2005 (syslog: no weekday, no year)
  String.raw`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  // Sun Jan 23 2005 21:59:59.011
  String.raw`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
  // 23/01/2005 21:59:59, 23/01/05 21:59:59, 17-07-2008 17:23:25
  String.raw`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`,
  // Apache [31/Oct/2006:09:22:55 -0000], 26-Jul-2007 15:20:52.252 +0200
  String.raw`%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
  // CPanel 05/20/2008:01:57:39
  String.raw`%m/%d/%ExY:%H:%M:%S`,
  // 01-27-2012 16:22:44.252
  String.raw`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
  'EPOCH',
  // time only
  String.raw`{^LN-BEG}%H:%M:%S`,
  // <09/16/08@05:03:30>
  String.raw`^<%m/%d/%Exy@%H:%M:%S>`,
  // MySQL 130322 11:46:11
  String.raw`%Exy%Exm%Exd  ?%H:%M:%S`,
  // Tomcat: Jan 23, 2005 9:59:59 PM
  String.raw`%b %d, %ExY %I:%M:%S %p`,
  // ASSP: Apr-27-13 02:33:06
  String.raw`^%b-%d-%Exy %k:%M:%S`,
  // 20050123T215959, 20050123 215959
  String.raw`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
  // PDT Apr 16 21:05:29 (monit)
  String.raw`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  // +00:00 Jan 23 21:59:59.011 2005
  String.raw`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  'TAI64N',
];

function isAnchored(p: string): boolean {
  return p.startsWith('^') || p.toUpperCase().startsWith('{^LN-BEG}');
}

let defaultList: Template[] | null = null;
function defaultTemplates(): Template[] {
  if (defaultList) return defaultList;
  const anchored: Template[] = [];
  const rest: Template[] = [];
  for (const p of DEFAULT_PATTERNS) {
    if (!isAnchored(p)) anchored.push(templateFor('{^LN-BEG}' + p) as Template);
    rest.push(templateFor(p) as Template);
  }
  defaultList = [...anchored, ...rest];
  return defaultList;
}

/** Compiles the default templates' regexes now. V8 compiles a regex on its first run and again
 * to machine code on the next, and a detector's first line tries every default template (an
 * Apache line matches the fifth, and the rest are tried for an earlier date): 6.5 ms for the
 * first line against 0.5 warm. A matcher worker calls this when it starts, before it has
 * lines or even a configuration, so the first chunk does not pay it. */
export function warmDefaultTemplates(): void {
  const probes = ['Sun Jan 23 21:59:59 2005 2005-01-23 21:59:59 [23/Jan/2005:21:59:59 +0000]', 'x'.repeat(40)];
  for (const t of defaultTemplates()) {
    for (const p of probes) {
      t.lean.exec(p);
      if (t.lean !== t.re) t.re.exec(p);
    }
  }
}

// ---- field values -> epoch seconds ----------------------------------------------------------

// consecutive lines share their minute: remember the last one (offsets change on whole minutes)
let lastMinuteKey = NaN;
let lastMinuteZone: LogZone | undefined;
let lastMinuteEpoch = 0;

function localEpoch(y: number, mo: number, d: number, h: number, mi: number, s: number, zone: LogZone): number {
  const key = ((((y * 12 + mo) * 32 + d) * 24 + h) * 60) + mi;
  if (key === lastMinuteKey && zone === lastMinuteZone) return lastMinuteEpoch + s;
  let base: number;
  if (zone === null) base = new Date(y, mo, d, h, mi, 0).getTime() / 1000;
  else {
    const wall = Date.UTC(y, mo, d, h, mi, 0);
    const off = 'fixed' in zone ? zone.fixed : ianaOffset(zone.iana, wall);
    base = wall / 1000 - off * 60;
  }
  lastMinuteKey = key;
  lastMinuteZone = zone;
  lastMinuteEpoch = base;
  return base + s;
}

type Groups = Record<string, string | undefined>;

// zone texts repeat on every line of a log: parse each once
const zoneCache = new Map<string, LogZone>();
function zoneOf(text: string): LogZone {
  let z = zoneCache.get(text);
  if (z === undefined) {
    const off = zoneOffset(text);
    z = off === null ? null : { fixed: off };
    if (zoneCache.size < 256) zoneCache.set(text, z);
  }
  return z;
}

/** Epoch seconds for strptime fields; missing year/day inferred from `now` as fail2ban does. */
export function fieldsToEpoch(g: Groups, zone: LogZone, now: number): number | null {
  let year: number | null = null;
  let month: number | null = null;
  let day: number | null = null;
  let hour = 0;
  if (g.y !== undefined) {
    year = Number(g.y);
    if (year <= 2000) year += 2000;
  }
  if (g.Y !== undefined) year = Number(g.Y);
  if (g.m !== undefined) month = Number(g.m) - 1;
  if (g.b !== undefined) month = MONTHS.indexOf(g.b.toLowerCase());
  if (g.B !== undefined) month = MONTHS_FULL.indexOf(g.B.toLowerCase());
  if (g.d !== undefined) day = Number(g.d);
  if (g.H !== undefined) hour = Number(g.H);
  if (g.I !== undefined) {
    hour = Number(g.I);
    const pm = (g.p ?? '').toLowerCase() === 'pm';
    if (!pm && hour === 12) hour = 0;
    else if (pm && hour !== 12) hour += 12;
  }
  const minute = g.M !== undefined ? Number(g.M) : 0;
  const second = g.S !== undefined ? Number(g.S) : 0;
  let z: LogZone = zone;
  const zt = g.z ?? g.Z;
  if (zt !== undefined) z = zoneOf(zt) ?? zone;
  const nowDate = new Date(now * 1000);
  const assumeYear = year === null;
  if (year === null) year = zone && 'fixed' in zone ? new Date((now + zone.fixed * 60) * 1000).getUTCFullYear() : nowDate.getFullYear();
  if ((month === null || day === null) && g.j !== undefined) {
    const dt = new Date(Date.UTC(year, 0, Number(g.j)));
    month = dt.getUTCMonth();
    day = dt.getUTCDate();
  }
  const assumeToday = month === null && day === null;
  if (month === null || day === null) {
    if (!assumeToday) return null; // a month without a day (or the reverse) is no date
    month = nowDate.getMonth();
    day = nowDate.getDate();
  }
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 61) return null;
  let t = localEpoch(year, month, day, hour, minute, Math.min(second, 59), z);
  if (assumeToday && t > now) t -= 86400; // a time alone after now was yesterday's
  // a date without a year more than a day ahead of now is from last year
  if (assumeYear && t > now + 86400) t = localEpoch(year - 1, month, day, hour, minute, Math.min(second, 59), z);
  return t;
}

function valueOf(t: Template, m: RegExpExecArray, zone: LogZone, now: number): number | null {
  if (t.kind === 'pattern') return fieldsToEpoch((m.groups ?? {}) as Groups, zone, now);
  const v = m[t.valueGroup];
  if (v === undefined) return null;
  if (t.kind === 'tai64n') return parseInt(v.slice(2, 17), 16);
  if (t.kind === 'lepoch' && v.length >= 13) return v.length >= 16 && !v.includes('.') ? Number(v) / 1e6 : Number(v) / 1e3;
  return Number(v);
}

// ---- detector -------------------------------------------------------------------------------

/** Finds and parses the date of lines of one source. Keeps the last winning template (lines of
 * one log share a format), so a typical line costs one regex run. */
export class DateDetector {
  private readonly templates: Template[];
  private readonly none: boolean;
  private last = -1;
  /** character before the last date: the same template at a different offset (the address
   * before it changed length) is still the same place if the text around it agrees */
  private lastBefore = '';
  // floods repeat the same second: remember the last parse
  private cacheTemplate = -1;
  private cacheText = '';
  private cacheNow = NaN;
  private cacheValue: number | null = null;

  constructor(patterns: readonly string[] | undefined, private readonly zone: LogZone) {
    if (!patterns || patterns.length === 0) {
      this.templates = defaultTemplates();
      this.none = false;
      return;
    }
    const list: Template[] = [];
    let none = false;
    for (const raw of patterns) {
      const p = raw.trim();
      if (!p) continue;
      const up = p.toUpperCase();
      if (up === '{^LN-BEG}' || up === '{DEFAULT}') {
        for (const t of defaultTemplates()) if (up === '{DEFAULT}' || t.lineBegin) list.push(t);
        continue;
      }
      if (up.includes('{DATE}')) {
        for (const dp of DEFAULT_PATTERNS) {
          if (dp === 'EPOCH' || dp === 'TAI64N') continue;
          const inner = dp.replace(/^\{\^LN-BEG\}|^\^/, '');
          list.push(templateFor(p.replace(/(?<!\\)\{DATE\}/gi, () => inner)) as Template);
        }
        continue;
      }
      const t = templateFor(p);
      if (t === 'none') none = true;
      else list.push(t);
    }
    this.templates = list;
    this.none = none && list.length === 0;
  }

  /** The last date parsed: fail2ban gives a line without a date the previous line's time when
   * that is recent (multi-line messages, continuation lines). */
  private lastTime: number | null = null;

  /** Time of a line: its own date, else the previous line's if within a minute of now, else null. */
  timeOf(hit: DateHit | null, now: number): number | null {
    if (hit && hit.time !== null) {
      this.lastTime = hit.time;
      return hit.time;
    }
    return this.lastTime !== null && this.lastTime > now - 60 ? this.lastTime : null;
  }

  /** True when the filter says lines carry no date ({NONE}): arrival time is used. */
  get noDates(): boolean {
    return this.none;
  }

  detect(line: string, now: number): DateHit | null {
    if (this.none) return null;
    const ts = this.templates;
    let chosen = -1;
    let match: RegExpExecArray | null = null;
    if (this.last >= 0) {
      const t = ts[this.last];
      t.lean.lastIndex = 0;
      const m = t.lean.exec(line);
      if (m && (t.lineBegin || ts.length === 1 || charBefore(line, m) === this.lastBefore)) {
        chosen = this.last;
        match = m;
      }
    }
    if (!match) {
      let best: RegExpExecArray | null = null;
      let bestIdx = -1;
      for (let i = 0; i < ts.length; i++) {
        const m = ts[i].lean.exec(line);
        if (!m) continue;
        if (ts[i].lineBegin) {
          best = m;
          bestIdx = i;
          break;
        }
        // an unanchored template may have hit a date-like text in the message; keep searching
        // for an earlier one and take the leftmost
        if (best === null || m.index < best.index) {
          best = m;
          bestIdx = i;
        }
        if (m.index === 0) break;
      }
      if (!best) return null;
      match = best;
      chosen = bestIdx;
    }
    const t = ts[chosen];
    this.last = chosen;
    this.lastBefore = charBefore(line, match);
    let start: number;
    let end: number;
    if (t.groupAtEnd) {
      end = match.index + match[0].length;
      start = end - (match[1]?.length ?? 0);
    } else {
      const idx = match.indices?.[1];
      start = idx ? idx[0] : match.index;
      end = idx ? idx[1] : match.index + match[0].length;
    }
    if (start === end) return { start, end, time: null, template: t.name };
    // consecutive lines mostly carry the same second: parse it once
    const text = line.slice(start, end);
    let time: number | null;
    if (chosen === this.cacheTemplate && text === this.cacheText && this.cacheNow === now) time = this.cacheValue;
    else {
      // the lean regex found the date; the full one (same match) has its named groups
      let full = match;
      if (t.lean !== t.re) {
        t.re.lastIndex = 0;
        full = t.re.exec(line) ?? match;
      }
      time = valueOf(t, full, this.zone, now);
      this.cacheTemplate = chosen;
      this.cacheText = text;
      this.cacheNow = now;
      this.cacheValue = time;
    }
    return { start, end, time, template: t.name };
  }
}

function charBefore(line: string, m: RegExpExecArray): string {
  const s = m.indices?.[1]?.[0] ?? m.index + m[0].length - (m[1]?.length ?? 0);
  return s > 0 ? line[s - 1] : '';
}
