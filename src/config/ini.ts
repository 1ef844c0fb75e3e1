// INI reader in fail2ban's dialect: Python's configparser (strict, `;` inline comments, empty
// lines kept inside values, lower-cased keys) plus fail2ban's [INCLUDES], automatic `.local`
// companions, `KNOWN/<section>` layers and `%(section/option)s` references.
import fs from 'node:fs';
import path from 'node:path';
import type { Sourced } from '../types.js';
import { UserError } from '../errors.js';

/** One option as read: its raw (uninterpolated) value and where it was written. */
export interface RawEntry {
  value: string;
  file: string;
  /** line of the `key = value` line */
  line: number;
  /** line number of each '\n'-separated part of `value`, for per-line messages */
  lines: number[];
}

export type RawSection = Map<string, RawEntry>;

/** An interpolated value with its origin; `lines` maps each '\n'-separated part of the value to
 * its line when interpolation kept the line structure, else every part gets the key's line. */
export interface SourcedLines extends Sourced {
  lines: number[];
}

/** Where a section header was first seen. */
export interface SectionOrigin {
  file: string;
  line: number;
}

/** One file parsed on its own, as fail2ban does before merging. */
export interface ParsedIni {
  file: string;
  defaults: RawSection;
  /** sections in file order; DEFAULT is kept apart in `defaults` */
  sections: Map<string, RawSection>;
  origins: Map<string, SectionOrigin>;
}

const DEFAULT_SECTION = 'DEFAULT';
const INCLUDES_SECTION = 'INCLUDES';
/** configparser's MAX_INTERPOLATION_DEPTH */
const MAX_DEPTH = 10;
/** fail2ban's CONDITIONAL_RE: `[Init?family=inet6]` */
const CONDITIONAL_SECTION = /^(\w+)(\?.+)$/s;
/** configparser's SECTCRE: anchored at the start only, greedy up to the last `]` */
const SECTION_HEADER = /^\[(.+)\]/;
/** configparser's OPTCRE with delimiters `=` and `:` (first delimiter wins) */
const OPTION_LINE = /^(.*?)\s*([=:])\s*(.*)$/;
const KEY_REF = /^%\(([^)]+)\)s/;
/** fail2ban's SECTION_OPTNAME_CRE, for `known/x` style names */
const SECTION_OPTNAME = /^([\w-]+)\/([^\s>]+)$/;

function fail(file: string, line: number, message: string): never {
  throw new UserError(`${file}:${line}: ${message}`);
}

/** Python's str.isspace for the characters that matter in config files. */
function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && /\s/.test(ch);
}

/** Index where an inline `;` comment starts (a `;` at the start or after whitespace), or -1. */
function inlineCommentStart(line: string): number {
  let from = 0;
  for (;;) {
    const i = line.indexOf(';', from);
    if (i < 0) return -1;
    if (i === 0 || isSpace(line[i - 1])) return i;
    from = i + 1;
  }
}

/** Parse one file's text. Throws UserError naming file and line on syntax errors. */
export function parseIniText(text: string, file: string): ParsedIni {
  const defaults: RawSection = new Map();
  const sections = new Map<string, RawSection>();
  const origins = new Map<string, SectionOrigin>();
  // Collected parts per option, joined at the end like configparser does.
  const pending = new Map<RawEntry, string[]>();
  const seenSections = new Set<string>();
  const seenOptions = new Set<string>();

  let cur: RawSection | null = null;
  let curName = '';
  let curEntry: RawEntry | null = null;
  let indentLevel = 0;

  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    let commentStart = inlineCommentStart(raw);
    const stripped = raw.trim();
    const isComment = stripped.startsWith('#') || stripped.startsWith(';');
    if (isComment) commentStart = 0;
    const value = (commentStart >= 0 ? raw.slice(0, commentStart) : raw).trim();
    if (value === '') {
      // configparser keeps blank lines inside a value (trailing ones are trimmed at join),
      // but not comment lines; neither ends the value.
      if (commentStart < 0 && cur && curEntry) pending.get(curEntry)!.push('');
      if (commentStart < 0 && cur && curEntry) curEntry.lines.push(lineNo);
      return;
    }
    const indent = raw.search(/\S/);
    if (cur && curEntry && indent > indentLevel) {
      pending.get(curEntry)!.push(value);
      curEntry.lines.push(lineNo);
      return;
    }
    indentLevel = indent;
    const header = SECTION_HEADER.exec(value);
    if (header) {
      const name = header[1]!;
      curEntry = null;
      if (name === DEFAULT_SECTION) {
        cur = defaults;
      } else {
        if (seenSections.has(name)) fail(file, lineNo, `section [${name}] appears twice in this file`);
        seenSections.add(name);
        cur = new Map();
        sections.set(name, cur);
        origins.set(name, { file, line: lineNo });
      }
      curName = name;
      return;
    }
    if (!cur) fail(file, lineNo, `expected a [section] header before ${JSON.stringify(value.slice(0, 60))}`);
    const opt = OPTION_LINE.exec(value);
    if (!opt || opt[1]!.trimEnd() === '') {
      fail(file, lineNo, `[${curName}] cannot parse ${JSON.stringify(value.slice(0, 60))}: expected "key = value"`);
    }
    const key = opt[1]!.trimEnd().toLowerCase();
    const seenKey = `${curName}\u0000${key}`;
    if (seenOptions.has(seenKey)) fail(file, lineNo, `[${curName}] ${key}: option set twice in this section`);
    seenOptions.add(seenKey);
    curEntry = { value: '', file, line: lineNo, lines: [lineNo] };
    pending.set(curEntry, [opt[3]!.trim()]);
    cur.set(key, curEntry);
  });

  for (const [entry, parts] of pending) {
    // configparser: '\n'.join(parts).rstrip()
    entry.value = parts.join('\n').replace(/\s+$/, '');
    entry.lines.length = entry.value === '' ? 1 : entry.value.split('\n').length;
  }
  return { file, defaults, sections, origins };
}

/** Read and parse one file; undefined when it does not exist or is not a regular file
 * (fail2ban silently skips such includes). */
export function parseIniFile(file: string): ParsedIni | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw new UserError(`${file}: cannot read: ${(err as Error).message}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new UserError(`${file}: not valid UTF-8`);
  }
  return parseIniText(text, file);
}

/** `x.conf` -> `x.local` (fail2ban's _expandConfFilesWithLocal). */
function localCompanion(file: string): string {
  const ext = path.extname(file);
  return (ext ? file.slice(0, -ext.length) : file) + '.local';
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * A set of files merged in order, as fail2ban's SafeConfigParserWithIncludes.read does.
 * Later files override earlier ones option by option; the overridden raw values are kept in
 * `KNOWN/<section>` so `%(known/x)s` can refer to them.
 */
export class IniStore {
  readonly defaults: RawSection = new Map();
  readonly sections = new Map<string, RawSection>();
  readonly origins = new Map<string, SectionOrigin>();
  /** files actually read, in merge order */
  readonly files: string[] = [];

  /** Read `files` (each with its [INCLUDES] and `.local` companion) in order. */
  static read(files: readonly string[]): IniStore {
    const store = new IniStore();
    const cache = new Map<string, ParsedIni | undefined>();
    const parse = (f: string): ParsedIni | undefined => {
      if (!cache.has(f)) cache.set(f, parseIniFile(f));
      return cache.get(f);
    };
    for (const f of expandIncludes([...files], [], parse)) {
      const parsed = parse(f);
      if (parsed) store.merge(parsed);
    }
    return store;
  }

  /** Merge one parsed file over what is already here. */
  merge(p: ParsedIni): void {
    this.files.push(p.file);
    for (const [k, v] of p.defaults) this.defaults.set(k, v);
    for (const [rawName, sec] of p.sections) {
      let name = rawName;
      let section = sec;
      const cond = CONDITIONAL_SECTION.exec(rawName);
      if (cond) {
        // `[Init?family=inet6]`: options land in [Init] with the condition as key suffix.
        name = cond[1]!;
        section = new Map([...sec].map(([k, v]) => [k + cond[2]!, v]));
      }
      const existing = this.sections.get(name);
      if (existing) {
        let known = this.sections.get('KNOWN/' + name);
        if (!known) this.sections.set('KNOWN/' + name, (known = new Map()));
        for (const [k, v] of section) {
          const prev = existing.get(k);
          if (prev) known.set(k, prev);
          existing.set(k, v);
        }
      } else {
        this.sections.set(name, new Map(section));
        this.origins.set(name, p.origins.get(rawName)!);
      }
    }
  }

  /** Section names as fail2ban lists them: without the KNOWN/ layers. */
  sectionNames(): string[] {
    return [...this.sections.keys()].filter((n) => !n.startsWith('KNOWN/'));
  }

  hasSection(section: string): boolean {
    return this.sections.has(section);
  }

  /** Own option names of a section (no DEFAULT ones) unless withDefaults. */
  options(section: string, withDefaults = false): string[] {
    const own = [...(this.sections.get(section)?.keys() ?? [])];
    if (!withDefaults) return own;
    return [...new Set([...own, ...this.defaults.keys()])];
  }

  /** The raw entry `key` resolves to in `section` (then DEFAULT), ignoring vars. */
  rawEntry(section: string, key: string): RawEntry | undefined {
    const k = key.toLowerCase();
    if (section === DEFAULT_SECTION) return this.defaults.get(k);
    return this.sections.get(section)?.get(k) ?? this.defaults.get(k);
  }

  /** Whether `key` is defined for `section` (its own options, vars aside), optionally via DEFAULT. */
  has(section: string, key: string, withDefaults = true): boolean {
    const k = key.toLowerCase();
    if (this.sections.get(section)?.has(k)) return true;
    return withDefaults && this.defaults.has(k);
  }

  /**
   * Interpolated value of `key` in `section`, looked up in `vars`, then the section, then
   * DEFAULT (Python's ChainMap order). undefined when the key is nowhere.
   * Interpolation errors throw UserError naming file, line, section and key.
   */
  get(section: string, key: string, vars?: Record<string, string>): SourcedLines | undefined {
    if (section !== DEFAULT_SECTION && !this.sections.has(section)) return undefined;
    const k = key.toLowerCase();
    const lowerVars = lowerKeys(vars);
    let raw: RawEntry | undefined;
    if (lowerVars && k in lowerVars) raw = { value: lowerVars[k]!, file: '<arguments>', line: 0, lines: [0] };
    else raw = this.rawEntry(section, k);
    if (!raw) return undefined;
    const value = this.interpolate(section, k, raw, raw.value, lowerVars ?? {}, [k], 1);
    const parts = value.split('\n').length;
    const lines = parts === raw.lines.length ? [...raw.lines] : new Array<number>(parts).fill(raw.line);
    return { value, file: raw.file, line: raw.line, lines };
  }

  /** Like get(), but section/option names (`known/x`, `Definition/x`) are looked up as fail2ban's
   * get_ex does: `known/x` from the KNOWN layer first, then the section itself. */
  getEx(section: string, key: string, vars?: Record<string, string>): SourcedLines | undefined {
    const m = SECTION_OPTNAME.exec(key);
    if (m) {
      const sec = m[1]!;
      const opt = m[2]!;
      const candidates = sec.toLowerCase() === 'known' ? ['KNOWN/' + section, section]
        : sec.toLowerCase() === 'default' ? [DEFAULT_SECTION] : [sec];
      for (const c of candidates) {
        if (c !== DEFAULT_SECTION && !this.sections.has(c)) continue;
        const v = this.get(c, opt);
        if (v) return v;
      }
    }
    return this.get(section, key, vars);
  }

  /** Raw value a `%(sec/opt)s` reference stands for, following fail2ban's _map_section_options. */
  private sectionRef(section: string, ref: string): RawEntry | undefined {
    const slash = ref.indexOf('/');
    const sec = ref.slice(0, slash);
    const opt = ref.slice(slash + 1);
    if (!/^[\w-]+$/.test(sec) || opt === '') return undefined;
    const lower = sec.toLowerCase();
    if (lower === 'known') return this.sections.get('KNOWN/' + section)?.get(opt) ?? this.defaults.get(opt);
    if (lower === 'default') return this.defaults.get(opt);
    const s = this.sections.get(sec);
    if (!s) return undefined;
    return s.get(opt) ?? this.defaults.get(opt);
  }

  private interpolate(
    section: string,
    topKey: string,
    top: { file: string; line: number },
    rest: string,
    vars: Record<string, string>,
    chain: string[],
    depth: number,
  ): string {
    const where = `${top.file}:${top.line}: [${section}] ${topKey}`;
    if (depth > MAX_DEPTH) {
      throw new UserError(`${where}: interpolation nested deeper than ${MAX_DEPTH} levels (${chain.join(' -> ')})`);
    }
    let out = '';
    while (rest) {
      const p = rest.indexOf('%');
      if (p < 0) return out + rest;
      out += rest.slice(0, p);
      rest = rest.slice(p);
      const c = rest[1];
      if (c === '%') {
        out += '%';
        rest = rest.slice(2);
        continue;
      }
      if (c !== '(') {
        throw new UserError(`${where}: '%' must be followed by '%' or '(' (write %% for a literal %), found ${JSON.stringify(rest.slice(0, 30))}`);
      }
      const m = KEY_REF.exec(rest);
      if (!m) throw new UserError(`${where}: bad interpolation reference ${JSON.stringify(rest.slice(0, 30))}`);
      const name = m[1]!.toLowerCase();
      rest = rest.slice(m[0].length);
      let v: string | undefined;
      if (name in vars) v = vars[name];
      else if (name === '__name__') v = section;
      else {
        const own = section === DEFAULT_SECTION ? undefined : this.sections.get(section)?.get(name);
        v = (own ?? this.defaults.get(name))?.value;
        if (v === undefined && name.includes('/')) v = this.sectionRef(section, name)?.value;
      }
      if (v === undefined) {
        throw new UserError(`${where}: %(${name})s is not defined in [${section}] or [DEFAULT]`);
      }
      if (v.includes('%')) {
        // A name already being expanded means a cycle; `known/x` inside x is not one (it names
        // the previous layer), so only identical names count.
        if (chain.includes(name)) {
          throw new UserError(`${where}: cyclic interpolation ${[...chain, name].map((n) => `%(${n})s`).join(' -> ')}`);
        }
        out += this.interpolate(section, topKey, top, v, vars, [...chain, name], depth + 1);
      } else {
        out += v;
      }
    }
    return out;
  }
}

function lowerKeys(vars: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!vars) return undefined;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(vars)) out[k.toLowerCase()] = v;
  return out;
}

/**
 * The ordered list of files to read for `files`: each file preceded by its `before` includes
 * and followed by itself's `.local` companion and its `after` includes, recursively, relative
 * to the including file's directory; a file already on the current include path is skipped.
 */
function expandIncludes(
  files: string[],
  seen: string[],
  parse: (f: string) => ParsedIni | undefined,
): string[] {
  const expanded: string[] = [];
  for (const f of files) {
    expanded.push(f);
    const local = localCompanion(f);
    if (!files.includes(local) && isFile(local)) expanded.push(local);
  }
  const out: string[] = [];
  for (const f of expanded) {
    const parsed = parse(f);
    if (!parsed) continue;
    const dir = path.dirname(f);
    const lists: Record<'before' | 'after', string[]> = { before: [], after: [] };
    const inc = parsed.sections.get(INCLUDES_SECTION);
    if (inc) {
      // Interpolated within the including file alone, as fail2ban reads it on its own.
      const single = new IniStore();
      single.merge(parsed);
      for (const which of ['before', 'after'] as const) {
        const v = single.get(INCLUDES_SECTION, which);
        if (!v) continue;
        for (const name of v.value.split('\n')) {
          if (name.trim() === '') continue;
          const r = path.isAbsolute(name) ? name : path.join(dir, name);
          if (seen.includes(r)) continue;
          lists[which].push(...expandIncludes([r], [...seen, f], parse));
        }
      }
    }
    out.push(...lists.before, f, ...lists.after);
  }
  return out;
}
