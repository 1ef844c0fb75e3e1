// Parsers for option values as fail2ban reads them: `name[k=v, k2="v, w"]` references, word
// lists, booleans and integers. Errors are UserErrors naming where the value came from.
import type { Sourced } from '../types.js';
import { UserError } from '../errors.js';

/** `file:line: [section] key` — the prefix of every message about one value. */
export function where(v: Sourced, section: string, key: string): string {
  return v.line > 0 ? `${v.file}:${v.line}: [${section}] ${key}` : `${v.file}: [${section}] ${key}`;
}

/** A reference with arguments, e.g. `sshd[mode=aggressive]`. */
export interface OptionRef {
  name: string;
  args: Record<string, string>;
}

// fail2ban's OPTION_CRE / OPTION_EXTRACT_CRE: several `[...]` groups may follow each other.
const OPTION_REF = /^([^[]+)(?:\[(.*)\])?\s*$/s;
const OPTION_ITEM = /\s*([\w\-_.]+)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|$|(.+))|,?\s*$|(.+)/gsy;

/** Parse `name[k=v, k2="v with, comma"][k3='x']`. Throws Error (not UserError): callers add context. */
export function parseOptionRef(text: string): OptionRef {
  const m = OPTION_REF.exec(text);
  if (!m) throw new Error('unexpected option syntax');
  const args: Record<string, string> = {};
  const body = m[2];
  if (body) {
    OPTION_ITEM.lastIndex = 0;
    while (OPTION_ITEM.lastIndex < body.length) {
      const start = OPTION_ITEM.lastIndex;
      const it = OPTION_ITEM.exec(body);
      if (!it) throw new Error(`expected option, wrong syntax at ${start}: ${body.slice(start, start + 25)}`);
      if (it[5] !== undefined) throw new Error(`unexpected syntax after option ${JSON.stringify(it[1])}: ${it[5].slice(0, 25)}`);
      if (it[6] !== undefined) throw new Error(`expected option, wrong syntax at ${start}: ${it[6].slice(0, 25)}`);
      if (it[0] === '') break;
      if (it[1]) args[it[1].trim()] = (it[2] ?? it[3] ?? it[4] ?? '').trim();
    }
  }
  return { name: m[1]!.trim(), args };
}

/** fail2ban's splitwords: split on commas, spaces and new lines; empty entries dropped. */
export function splitWords(s: string): string[] {
  return s.split(/[ ,\n\t]+/).map((w) => w.trim()).filter((w) => w !== '');
}

const TRUE_WORDS = new Set(['1', 'on', 'true', 'yes']);
const FALSE_WORDS = new Set(['0', 'off', 'false', 'no', '']);

/** fail2ban's _as_bool, except that a word that is neither true nor false is an error instead of
 * silently false (a typo like `enabled = ture` should not quietly disable a jail). */
export function parseBool(v: Sourced, section: string, key: string): boolean {
  const w = v.value.trim().toLowerCase();
  if (TRUE_WORDS.has(w)) return true;
  if (FALSE_WORDS.has(w)) return false;
  throw new UserError(`${where(v, section, key)}: ${JSON.stringify(v.value)} is not a boolean (use true/false, yes/no, on/off, 1/0)`);
}

/** Python int(): optional sign, decimal digits (underscores between digits allowed). */
export function parseInteger(v: Sourced, section: string, key: string, min?: number): number {
  const w = v.value.trim();
  if (!/^[+-]?\d+(?:_\d+)*$/.test(w)) {
    throw new UserError(`${where(v, section, key)}: ${JSON.stringify(v.value)} is not a number`);
  }
  const n = Number(w.replace(/_/g, ''));
  if (!Number.isSafeInteger(n)) throw new UserError(`${where(v, section, key)}: ${JSON.stringify(v.value)} is out of range`);
  if (min !== undefined && n < min) throw new UserError(`${where(v, section, key)}: ${n} is below the minimum ${min}`);
  return n;
}

/** A plain decimal number (integer or fraction). */
export function parseNumber(v: Sourced, section: string, key: string): number {
  const w = v.value.trim();
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(w)) {
    throw new UserError(`${where(v, section, key)}: ${JSON.stringify(v.value)} is not a number`);
  }
  return Number(w);
}
