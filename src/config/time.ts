// fail2ban time values (MyTime.str2seconds): a number of seconds, or an arithmetic expression
// of numbers with unit words, e.g. `600`, `10m`, `1h30m`, `1d 12h`, `2.5h`, `1year-6mo`,
// `6 months`, `-1`. Groups separated only by spaces add up. A month is a 12th of an average
// Gregorian-ish year (365.25 days), as in fail2ban.
import { UserError } from '../errors.js';

const DAY = 24 * 60 * 60;
const YEAR = ((365 * 3 + 366) * DAY) / 4;

// Same order and alternatives as fail2ban: days before months keeps `d`/`dd` meaning days;
// `m`/`mm` are minutes, `mo`/`mon` months.
const UNITS: Array<[RegExp, number]> = [
  [/(?<=[\d\s])(days?|da|dd?)\b/gi, DAY],
  [/(?<=[\d\s])(weeks?|wee?|ww?)\b/gi, 7 * DAY],
  [/(?<=[\d\s])(months?|mon?)\b/gi, YEAR / 12],
  [/(?<=[\d\s])(years?|yea?|yy?)\b/gi, YEAR],
  [/(?<=[\d\s])(seconds?|sec?|ss?)\b/gi, 1],
  [/(?<=[\d\s])(minutes?|min?|mm?)\b/gi, 60],
  [/(?<=[\d\s])(hours?|hou?|hh?)\b/gi, 60 * 60],
];

/** Seconds for a fail2ban time value. Throws a plain Error describing the problem; callers wrap
 * it in a UserError naming file/line/key (see parseTimeValue). */
export function str2seconds(input: string): number {
  // '1d12h' -> '1d 12h'
  let s = input.replace(/(?<=[a-z])(\d)/gi, ' $1');
  for (const [re, mult] of UNITS) s = s.replace(re, `*${mult}`);
  // adjacent groups '1*86400 12*3600' are summed
  s = s.replace(/(\d)\s+(\d)/g, '$1+$2');
  return evaluate(s, input);
}

/** Evaluate + - * / ( ) over decimal numbers: the subset of Python eval fail2ban's values use. */
function evaluate(expr: string, original: string): number {
  const tokens = expr.match(/\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+|\/\/|[-+*/()]|\S+/g) ?? [];
  let pos = 0;
  const bad = (why: string): never => {
    throw new Error(`${JSON.stringify(original)} is not a time value (${why}); use seconds or units like 10m, 1h30m, 1d, 1w, 1mo, 1y`);
  };
  const peek = (): string | undefined => tokens[pos];
  const primary = (): number => {
    const t = tokens[pos++];
    if (t === undefined) return bad('unexpected end');
    if (t === '(') {
      const v = sum();
      if (tokens[pos++] !== ')') bad('missing ")"');
      return v;
    }
    if (t === '-') return -primary();
    if (t === '+') return primary();
    if (/^(?:\d|\.\d)/.test(t)) return Number(t);
    return bad(`unexpected ${JSON.stringify(t)}`);
  };
  const product = (): number => {
    let v = primary();
    for (let t = peek(); t === '*' || t === '/' || t === '//'; t = peek()) {
      pos++;
      const r = primary();
      if (r === 0 && t !== '*') bad('division by zero');
      v = t === '*' ? v * r : t === '/' ? v / r : Math.floor(v / r);
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    for (let t = peek(); t === '+' || t === '-'; t = peek()) {
      pos++;
      v = t === '+' ? v + product() : v - product();
    }
    return v;
  };
  if (tokens.length === 0) bad('empty');
  const v = sum();
  if (pos !== tokens.length) bad(`unexpected ${JSON.stringify(tokens[pos])}`);
  if (!Number.isFinite(v)) bad('not finite');
  return v;
}

/** Seconds for a configuration time value; any negative value means permanent and becomes -1. */
export function parseTimeValue(value: string, at: string, allowNegative = true): number {
  let n: number;
  try {
    n = str2seconds(value.trim());
  } catch (err) {
    throw new UserError(`${at}: ${(err as Error).message}`);
  }
  if (n < 0) {
    if (!allowNegative) throw new UserError(`${at}: ${JSON.stringify(value)} must not be negative`);
    return -1;
  }
  return n;
}
