// Runs fail2ban's annotated sample logs through a filter directory with logban's matcher, the
// way fail2ban's samplestestcase.py does, and counts agreement. Shared by the tap test and by
// report.ts (which prints the figures and writes docs/compat.md).
import './tz.js';
import fs from 'node:fs';
import path from 'node:path';
import { loadFilter } from '../../src/config/load.js';
import { compileFilter, type CompiledFilter } from '../../src/match/compile.js';
import { FilterRun } from '../../src/match/matcher.js';
import { CompiledGroup, DEFAULT_MAX_LINE_LENGTH, type MatchState } from '../../src/match/chunk.js';
import type { DateDetector } from '../../src/match/dates.js';

/**
 * How lines reach the filter: 'line' calls the matcher's FilterRun line by line (as fail2ban's
 * test calls Filter.processLine); 'chunk' feeds each line as a Buffer chunk through
 * CompiledGroup, the path the daemon's workers use (literal prefilter, date cut, state carried
 * between chunks), so a prefilter that drops a line a filter needs shows up as a difference.
 */
export type Engine = 'line' | 'chunk';

/** where fail2ban's Python package is; LOGBAN_FAIL2BAN_DIR overrides it (e.g. to check the skip) */
export const FAIL2BAN_DIR = process.env.LOGBAN_FAIL2BAN_DIR ?? '/usr/lib/python3/dist-packages/fail2ban';
export const SAMPLE_LOGS = path.join(FAIL2BAN_DIR, 'tests', 'files', 'logs');
/** fail2ban's test "now": Sun Aug 14 12:00:00 CEST 2005 */
export const TEST_NOW = 1124013600;

export interface Difference {
  filter: string;
  file: string;
  lineno: number;
  line: string;
  kind: 'match' | 'host' | 'time' | 'user' | 'load';
  expected: string;
  got: string;
}

/** How far logban agrees with fail2ban's annotations: for one filter, or summed over all. */
export interface AgreementFigures {
  /** line x option-set checks: annotated lines plus unannotated ones (which must not match) */
  annotated: number;
  agreeing: number;
  /** of `annotated`, those without a failJSON annotation */
  unannotated: number;
  timed: number;
  timeAgreeing: number;
  /** matched lines annotated with a user name, and those where logban captured the same */
  users: number;
  userAgreeing: number;
}

export interface FilterFigures extends AgreementFigures {
  name: string;
  loaded: boolean;
  loadError?: string;
}

export interface SampleFigures extends AgreementFigures {
  filters: FilterFigures[];
  differences: Difference[];
}

type Opts = Record<string, string>;
interface FailJson {
  match?: boolean;
  host?: string;
  time?: string | null;
  constraint?: string;
  [k: string]: unknown;
}

/** Sample logs that stand for a filter (fail2ban's test runs one per filter file). */
export function sampleNames(): string[] {
  if (!fs.existsSync(SAMPLE_LOGS)) return [];
  return fs
    .readdirSync(SAMPLE_LOGS)
    .filter((n) => fs.statSync(path.join(SAMPLE_LOGS, n)).isFile())
    // sshd-journal is only read through sshd's "addFILE"; there is no filter of that name
    .filter((n) => n !== 'sshd-journal')
    .sort();
}

/** The few Python expressions fail2ban's samples use in "constraint" / "test.condition". */
function evalCondition(expr: string, name: string, opts: Opts): boolean {
  const m = /^\s*(name|opts\.get\('([\w.-]+)'\))\s*(==|!=)\s*'([^']*)'\s*$/.exec(expr);
  if (!m) throw new Error(`unsupported sample condition: ${expr}`);
  const left = m[1] === 'name' ? name : opts[m[2]];
  return m[3] === '==' ? left === m[4] : left !== m[4];
}

/** Local time (TZ above) of fail2ban's "%Y-%m-%dT%H:%M:%S[.%f]" annotation, epoch seconds. */
export function annotatedTime(t: string): number {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(t);
  if (!m) throw new Error(`bad sample time ${t}`);
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return d.getTime() / 1000 + (m[7] ? Number('0.' + m[7]) : 0);
}

interface Combo {
  key: string;
  opts: Opts;
  run?: FilterRun;
  dates?: DateDetector;
  filter?: CompiledFilter;
  group?: CompiledGroup;
  state?: MatchState;
  error?: string;
}

interface Outcome {
  host?: string;
  time: number;
  user?: string;
}

/** One line through one option set, by the chosen engine. */
function processOne(c: Combo, line: string, engine: Engine): Outcome {
  const journal = c.opts.logtype === 'journal';
  // the journal gives the time; fail2ban's test passes such lines without date parsing
  const text = journal ? (c.opts['test.prefix-line'] ?? '') + line : line;
  if (engine === 'chunk') {
    c.group ??= new CompiledGroup([c.filter!]);
    const res = c.group.process(Buffer.from(text + '\n', 'utf8'), TEST_NOW, c.state, { maxLineLength: DEFAULT_MAX_LINE_LENGTH });
    c.state = res.state;
    const ev = res.events.find((e) => !e.nofail);
    return { host: ev?.host, time: journal ? TEST_NOW : ev?.time ?? NaN, user: ev?.captures?.user };
  }
  let rest = text;
  let time = TEST_NOW;
  if (!journal) {
    const hit = c.dates!.detect(line, TEST_NOW);
    time = c.dates!.timeOf(hit, TEST_NOW) ?? NaN;
    rest = hit && hit.end > hit.start ? line.slice(0, hit.start) + line.slice(hit.end) : line;
  }
  const v = c.run!.processLine(rest, time);
  const fail = v.failure && !v.failure.nofail ? v.failure : undefined;
  return { host: fail?.host, time, user: fail?.captures?.user };
}

function specOf(name: string, opts: Opts): string {
  const args = Object.entries(opts).filter(([k]) => !k.startsWith('test.'));
  if (args.length === 0) return name;
  return `${name}[${args.map(([k, v]) => `${k}=${v}`).join(', ')}]`;
}

/**
 * Runs the sample log `name` (and files it adds) through filter `name` read from `configDir`.
 * Lines are processed in order through one FilterRun per option set, as fail2ban keeps one
 * Filter per option set: multi-line and connection-id state carries across lines.
 */
export function runSample(configDir: string, name: string, differences: Difference[], engine: Engine = 'line'): FilterFigures {
  const fig: FilterFigures = { name, loaded: true, annotated: 0, agreeing: 0, unannotated: 0, timed: 0, timeAgreeing: 0, users: 0, userAgreeing: 0 };
  const cache = new Map<string, Combo>();
  const comboFor = (opts: Opts): Combo => {
    const spec = specOf(name, opts);
    let c = cache.get(spec);
    if (c) return c;
    c = { key: spec, opts };
    try {
      const def = loadFilter(configDir, spec);
      c.filter = compileFilter(def);
      c.run = new FilterRun(c.filter);
      c.dates = c.filter.newDateDetector();
    } catch (e) {
      c.error = (e as Error).message;
      fig.loaded = false;
      fig.loadError ??= c.error;
      differences.push({ filter: spec, file: name, lineno: 0, line: '', kind: 'load', expected: 'loads', got: c.error });
    }
    cache.set(spec, c);
    return c;
  };

  const files = [name];
  let commonOpts: Opts = {};
  let combos: Combo[] | null = null;
  for (let fi = 0; fi < files.length; fi++) {
    const file = files[fi];
    const lines = fs.readFileSync(path.join(SAMPLE_LOGS, file), 'utf8').split(/\r?\n/);
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    let ignoreBlock = false;
    let faildata: FailJson = {};
    let fromJson = false;
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i];
      let lineno = i + 1;
      const ann = /^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$/.exec(line);
      if (ann) {
        const data: unknown = JSON.parse(ann[2]);
        if (ann[1] === 'fileOptions') {
          commonOpts = data as Opts;
          continue;
        }
        if (ann[1] === 'filterOptions') {
          combos = [];
          ignoreBlock = false;
          for (const fd of Array.isArray(data) ? (data as Opts[]) : [data as Opts]) {
            const opts: Opts = { ...commonOpts, ...fd };
            if (opts['test.condition']) ignoreBlock = !evalCondition(opts['test.condition'], name, opts);
            if (!ignoreBlock) combos.push(comboFor(opts));
          }
          continue;
        }
        if (ann[1] === 'addFILE') {
          files.push(data as string);
          continue;
        }
        faildata = data as FailJson;
        fromJson = true;
        i++;
        if (i >= lines.length) break;
        line = lines[i];
        lineno = i + 1;
      } else if (ignoreBlock || line.startsWith('#') || line.trim() === '') {
        continue;
      } else {
        faildata = {};
        fromJson = false;
      }
      if (ignoreBlock) continue;
      if (!combos) combos = [comboFor({})];
      line = line.replace(/\r?\n?$/, '').replace(/\r$/, '');
      for (const c of combos) {
        if (faildata.constraint && !evalCondition(faildata.constraint, name, c.opts)) continue;
        fig.annotated++;
        if (!fromJson) fig.unannotated++;
        if (!c.run || !c.dates) continue; // counted as disagreement: the filter did not load
        const { host, time, user } = processOne(c, line, engine);
        const fail = host !== undefined ? { host } : undefined;
        const where = { filter: c.key, file, lineno, line };
        const expectMatch = faildata.match === true;
        if (!!fail !== expectMatch) {
          differences.push({ ...where, kind: 'match', expected: String(expectMatch), got: fail ? `match (${fail.host})` : 'no match' });
          continue;
        }
        if (fail && faildata.host !== undefined && fail.host !== faildata.host) {
          differences.push({ ...where, kind: 'host', expected: String(faildata.host), got: fail.host });
          continue;
        }
        fig.agreeing++;
        if (fail && typeof faildata.user === 'string') {
          fig.users++;
          // logban leaves empty captures out of its output (a batch cannot tell an empty capture
          // from a group that took no part), so fail2ban's empty user name is logban's "no user"
          if (user === faildata.user || (faildata.user === '' && user === undefined)) fig.userAgreeing++;
          else differences.push({ ...where, kind: 'user', expected: faildata.user, got: user ?? 'no user' });
        }
        if (fail && typeof faildata.time === 'string') {
          fig.timed++;
          const want = annotatedTime(faildata.time);
          const got = /\.\d/.test(faildata.time) ? time : Math.floor(time);
          if (Math.abs(got - want) < 1e-3) fig.timeAgreeing++;
          else differences.push({ ...where, kind: 'time', expected: `${faildata.time} (${want})`, got: Number.isNaN(time) ? 'no time' : `${new Date(time * 1000).toISOString()} (${time})` });
        }
      }
    }
  }
  if (cache.size === 0) comboFor({});
  return fig;
}

/** Every sample in `names`, each through the filter of that name in `configDir`. */
export function runAllSamples(configDir: string, names = sampleNames(), engine: Engine = 'line'): SampleFigures {
  const differences: Difference[] = [];
  const filters = names.map((n) => runSample(configDir, n, differences, engine));
  const sum = (k: 'annotated' | 'agreeing' | 'unannotated' | 'timed' | 'timeAgreeing' | 'users' | 'userAgreeing') => filters.reduce((a, f) => a + f[k], 0);
  return {
    filters, annotated: sum('annotated'), agreeing: sum('agreeing'), unannotated: sum('unannotated'), timed: sum('timed'), timeAgreeing: sum('timeAgreeing'),
    users: sum('users'), userAgreeing: sum('userAgreeing'), differences,
  };
}

export function pct(a: number, b: number): string {
  return b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(2)}%`;
}

export interface LineResult {
  line: string;
  host?: string;
  nofail?: boolean;
  time: number | null;
}

/** Runs `lines` (in order, one log) through filter `spec` from `configDir`; one result per line. */
export function matchLines(configDir: string, spec: string, lines: readonly string[], now = TEST_NOW): LineResult[] {
  const filter = compileFilter(loadFilter(configDir, spec));
  const run = new FilterRun(filter);
  const dates = filter.newDateDetector();
  return lines.map((line) => {
    const hit = dates.detect(line, now);
    const time = dates.timeOf(hit, now);
    const rest = hit && hit.end > hit.start ? line.slice(0, hit.start) + line.slice(hit.end) : line;
    const v = run.processLine(rest, time ?? now);
    return { line, host: v.failure?.host, nofail: v.failure?.nofail, time };
  });
}
