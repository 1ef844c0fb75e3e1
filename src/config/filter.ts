// A filter (filter.d/NAME.conf and its layers) resolved the way fail2ban's FilterReader does it:
// filter arguments from the jail override [Init], which overrides [Definition]; jail options
// are visible to the filter's interpolation; `<tag>` references between options are expanded.
import path from 'node:path';
import type { FilterDef, Sourced } from '../types.js';
import { UserError } from '../errors.js';
import type { IniStore } from './ini.js';
import { layeredFiles, readLayered } from './layout.js';
import { parseInteger, where } from './options.js';
import { substituteTags } from './tags.js';

/** Options a filter passes to the engine, in fail2ban's FilterReader._configOpts. A jail that
 * sets one of these itself (in its section or its DEFAULT) overrides the filter's value. */
export const FILTER_KEYS = ['usedns', 'prefregex', 'ignoreregex', 'failregex', 'maxlines', 'datepattern', 'journalmatch'] as const;

const CONDITIONAL_KEY = /^(\w+)(\?.+)$/;
const USEDNS = new Set(['yes', 'warn', 'no', 'raw']);

/** A value with its origin and, per line of the value, the line it was written on. */
export interface Located {
  value: string;
  file: string;
  line: number;
  lines?: number[];
}

/** A filter's layered files read once; shared by every jail using the filter. */
export interface FilterSource {
  name: string;
  /** first file of the layer (normally filter.d/NAME.conf) */
  file: string;
  store: IniStore;
}

/** Path without extension for a filter reference: a name under filter.d, or a path. */
export function filterBase(configDir: string, name: string): string {
  const stripped = name.replace(/\.(conf|local)$/, '');
  if (path.isAbsolute(stripped)) return stripped;
  // fail2ban joins any relative reference, even one with slashes, under filter.d
  return path.join(configDir, 'filter.d', stripped);
}

/** Read a filter's files; undefined when none exists. */
export function readFilterSource(base: string, name: string): FilterSource | undefined {
  if (layeredFiles(base).length === 0) return undefined;
  const { store, files } = readLayered(base);
  return { name, file: files[0]!, store };
}

/** Inputs of one resolution: the reference's arguments and the jail's option values. */
export interface FilterContext {
  /** arguments from `name[k=v]`, with where the reference was written */
  args: Record<string, string>;
  argsAt: { file: string; line: number };
  /** jail options visible to the filter's interpolation (fail2ban passes the jail's options) */
  jailVars: Record<string, string>;
  /** the jail's own values for FILTER_KEYS and logtimezone; they win over the filter's */
  jailOverrides: Record<string, Located>;
  /** backend, to pick `logtype` (file or journal) as fail2ban does */
  backend: string;
  /** for messages: the jail or command that asked for the filter */
  usedBy: string;
  /** section name for messages about values taken from jailOverrides */
  jailSection?: string;
}

/** Working state of fail2ban's DefinitionInitConfigReader for one use of a filter. */
class FilterResolution {
  /** `_initOpts`: arguments, logtype, then [Init] values (arguments win) */
  readonly init = new Map<string, Located>();

  constructor(private readonly src: FilterSource, private readonly ctx: FilterContext) {
    for (const [k, v] of Object.entries(ctx.args)) {
      this.init.set(k.toLowerCase(), { value: v, file: ctx.argsAt.file, line: ctx.argsAt.line });
    }
    if (!this.init.get('logtype')?.value && !src.store.has('Definition', 'logtype', false)) {
      const logtype = ctx.backend.startsWith('systemd') ? 'journal' : 'file';
      this.init.set('logtype', { value: logtype, file: ctx.argsAt.file, line: ctx.argsAt.line });
    }
  }

  private vars(jailVars: Record<string, string>): Record<string, string> {
    const v: Record<string, string> = { ...jailVars };
    for (const [k, e] of this.init) v[k] = e.value;
    return v;
  }

  /** getOptions(): the Definition values (with jail vars), then fold [Init] into init. */
  definition(jailVars: Record<string, string>, all: boolean): { opts: Map<string, Located>; vars: Record<string, string> } {
    const store = this.src.store;
    const vars = this.vars(jailVars);
    const opts = new Map<string, Located>();
    for (const k of FILTER_KEYS) {
      if (k in vars) continue;
      const v = store.get('Definition', k, vars);
      if (v) opts.set(k, v);
    }
    if (store.hasSection('Init')) {
      for (const opt of store.options('Init')) {
        const v = store.get('Init', opt)!;
        if (!opt.startsWith('known/')) this.init.set('known/' + opt, v);
        if (!this.init.has(opt)) this.init.set(opt, v);
      }
    }
    if (all && store.hasSection('Definition')) {
      for (const opt of store.options('Definition', true)) {
        if (opts.has(opt)) continue;
        opts.set(opt, store.get('Definition', opt)!);
      }
    }
    return { opts, vars };
  }

  /** getCombined(): Definition values overlaid with init, `<tag>`s substituted. */
  combined(opts: Map<string, Located>, vars: Record<string, string>): Map<string, Located> {
    const merged = new Map(opts);
    for (const [k, v] of this.init) merged.set(k, v);
    const ignore = new Set<string>();
    for (const k of merged.keys()) {
      const c = CONDITIONAL_KEY.exec(k);
      if (c) ignore.add(c[1]!);
    }
    const store = this.src.store;
    const values = substituteTags(
      new Map([...merged].map(([k, v]) => [k, v.value])),
      ignore,
      (name) => store.getEx('Definition', name, vars)?.value,
      (name) => {
        const at = merged.get(name);
        return at ? `${at.file}:${at.line}: [Definition] ${name}` : `${this.src.file}: ${name}`;
      },
    );
    const out = new Map<string, Located>();
    for (const [k, v] of values) {
      const at = merged.get(k)!;
      const sameShape = at.lines !== undefined && v.split('\n').length === at.lines.length;
      out.set(k, { value: v, file: at.file, line: at.line, lines: sameShape ? at.lines : undefined });
    }
    return out;
  }
}

function splitLines(v: Located | undefined): Sourced[] {
  if (!v) return [];
  const out: Sourced[] = [];
  v.value.split('\n').forEach((text, i) => {
    const t = text.trim();
    if (t !== '') out.push({ value: t, file: v.file, line: v.lines?.[i] ?? v.line });
  });
  return out;
}

/**
 * Resolve a filter for one user. Returns the FilterDef and the values fail2ban merges into the
 * jail as `known/<option>` (so a jail can write `failregex = %(known/failregex)s ...`).
 * `secondPassVars` computes the jail's full options once the known/ values are in place.
 */
export function resolveFilter(
  src: FilterSource,
  ctx: FilterContext,
  secondPass?: (known: Map<string, Located>) => { jailVars: Record<string, string>; jailOverrides: Record<string, Located> },
): FilterDef {
  const res = new FilterResolution(src, ctx);
  // Errors in the jail's own options (read during the second pass) already name their place.
  let inJail = false;
  try {
    // First pass (all options): what the jail sees as known/...
    const first = res.definition(ctx.jailVars, true);
    const firstCombined = res.combined(first.opts, first.vars);
    let jailVars = ctx.jailVars;
    let overrides = ctx.jailOverrides;
    if (secondPass) {
      const known = new Map([...firstCombined].filter(([k]) => !k.startsWith('known/')));
      inJail = true;
      ({ jailVars, jailOverrides: overrides } = secondPass(known));
      inJail = false;
    }
    // Second pass with the jail's full options as variables.
    const second = res.definition(jailVars, false);
    const final = res.combined(second.opts, second.vars);
    const pick = (k: string): Located | undefined => overrides[k] ?? final.get(k);
    const sectionOf = (k: string): string => (overrides[k] ? ctx.jailSection ?? 'jail' : 'Definition');

    const usednsAt = pick('usedns');
    const usedns = (usednsAt?.value.trim().toLowerCase() || 'warn') as FilterDef['usedns'];
    if (!USEDNS.has(usedns)) {
      throw new UserError(`${where(usednsAt!, sectionOf('usedns'), 'usedns')}: ${JSON.stringify(usednsAt!.value)} must be yes, warn, no or raw`);
    }
    const maxlinesAt = pick('maxlines');
    const maxlines = maxlinesAt && maxlinesAt.value.trim() !== '' ? parseInteger(maxlinesAt, sectionOf('maxlines'), 'maxlines', 1) : 1;
    const prefAt = pick('prefregex');
    const datepattern = splitLines(pick('datepattern'));
    const tzAt = overrides['logtimezone'];

    const options: Record<string, string> = {};
    for (const [k, v] of firstCombined) {
      if (!k.startsWith('known/') && !(FILTER_KEYS as readonly string[]).includes(k)) options[k] = v.value;
    }
    for (const [k, v] of final) {
      if (!k.startsWith('known/') && !(FILTER_KEYS as readonly string[]).includes(k)) options[k] = v.value;
    }

    const def: FilterDef = {
      name: src.name,
      file: src.file,
      failregex: splitLines(pick('failregex')),
      ignoreregex: splitLines(pick('ignoreregex')),
      maxlines,
      usedns,
      journalmatch: splitLines(pick('journalmatch')).map((s) => s.value),
      options,
    };
    if (prefAt && prefAt.value.trim() !== '') def.prefregex = { value: prefAt.value, file: prefAt.file, line: prefAt.line };
    if (datepattern.length > 0) def.datepattern = datepattern;
    if (tzAt && tzAt.value.trim() !== '') def.logtimezone = tzAt.value.trim();
    return def;
  } catch (err) {
    if (err instanceof UserError && !inJail) throw new UserError(`${err.message} (filter ${JSON.stringify(src.name)} used by ${ctx.usedBy})`);
    throw err;
  }
}
