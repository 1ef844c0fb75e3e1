// Jails from jail.conf / jail.d / jail.local, read as fail2ban's JailReader does: a first pass
// for enabled/backend/filter, the filter resolved with the jail's options, its options merged
// back as `known/...`, then a second pass over every jail option.
import type { FilterDef, IncrementConfig, JailConfig, PortProto } from '../types.js';
import { UserError } from '../errors.js';
import type { IniStore, RawEntry } from './ini.js';
import { FILTER_KEYS, filterBase, readFilterSource, resolveFilter, type FilterSource, type Located } from './filter.js';
import { parseBool, parseInteger, parseNumber, parseOptionRef, splitWords, where } from './options.js';
import { parsePorts, systemServices, type ServiceTable } from './services.js';
import { parseTimeValue } from './time.js';

/** Jail options read in the second pass (fail2ban's JailReader._configOpts plus the action
 * parameters logban applies itself: port, protocol). */
const JAIL_KEYS = [
  'enabled', 'backend', 'maxretry', 'maxmatches', 'findtime', 'bantime',
  'bantime.increment', 'bantime.factor', 'bantime.formula', 'bantime.multipliers', 'bantime.maxtime',
  'bantime.rndtime', 'bantime.overalljails', 'ignorecommand', 'ignoreself', 'ignoreip', 'ignorecache',
  'filter', 'logtimezone', 'logencoding', 'logpath', 'action', ...FILTER_KEYS, 'port', 'protocol',
] as const;

const PROTOCOLS: readonly PortProto[] = ['tcp', 'udp', 'sctp', 'dccp', 'udplite'];
const NOT_JAILS = new Set(['INCLUDES']);

/** A jail that is not enabled: fail2ban does not read its filter or check its values. */
export interface DisabledJail {
  name: string;
  file: string;
  line: number;
}

export interface JailLoadOptions {
  configDir: string;
  services?: ServiceTable;
  /** values fail2ban adds to [DEFAULT] before reading jails */
  staticDefaults?: Record<string, string>;
}

/** Names of the jail sections in merge order. */
export function jailNames(store: IniStore): string[] {
  return store.sectionNames().filter((n) => !NOT_JAILS.has(n));
}

/** Read every jail; enabled ones fully resolved (errors throw), disabled ones only listed. */
export function readJails(store: IniStore, opts: JailLoadOptions): { jails: JailConfig[]; disabled: DisabledJail[] } {
  for (const [k, v] of Object.entries(opts.staticDefaults ?? {})) {
    if (!store.defaults.has(k)) store.defaults.set(k, { value: v, file: '<built-in>', line: 0, lines: [0] });
  }
  const filterCache = new Map<string, FilterSource | undefined>();
  const jails: JailConfig[] = [];
  const disabled: DisabledJail[] = [];
  for (const name of jailNames(store)) {
    const origin = store.origins.get(name)!;
    const enabledAt = store.get(name, 'enabled');
    const enabled = enabledAt ? parseBool(enabledAt, name, 'enabled') : false;
    if (!enabled) {
      disabled.push({ name, file: origin.file, line: origin.line });
      continue;
    }
    jails.push(readJail(store, name, opts, filterCache));
  }
  return { jails, disabled };
}

function readJail(
  store: IniStore,
  name: string,
  opts: JailLoadOptions,
  filterCache: Map<string, FilterSource | undefined>,
): JailConfig {
  const origin = store.origins.get(name)!;
  const get = (k: string): Located | undefined => store.get(name, k);

  // First pass: only what choosing the filter needs.
  const firstVars: Record<string, string> = { enabled: 'true', backend: get('backend')?.value ?? 'auto' };
  const filterAt = get('filter');
  if (filterAt) firstVars['filter'] = filterAt.value;
  const backend = firstVars['backend']!.trim() || 'auto';

  if (!filterAt || filterAt.value.trim() === '') {
    throw new UserError(`${origin.file}:${origin.line}: [${name}] has no filter; set "filter = NAME"`);
  }
  let ref;
  try {
    ref = parseOptionRef(filterAt.value.trim());
  } catch (err) {
    throw new UserError(`${where(filterAt, name, 'filter')}: invalid filter reference ${JSON.stringify(filterAt.value)}: ${(err as Error).message}`);
  }
  const base = filterBase(opts.configDir, ref.name);
  if (!filterCache.has(base)) filterCache.set(base, readFilterSource(base, ref.name));
  const src = filterCache.get(base);
  if (!src) {
    throw new UserError(`${where(filterAt, name, 'filter')}: jail [${name}] uses filter ${JSON.stringify(ref.name)}, but neither ${base}.conf nor ${base}.local exists`);
  }

  const section = store.sections.get(name)!;
  const readSecond = (): { jailVars: Record<string, string>; jailOverrides: Record<string, Located> } => {
    const jailVars: Record<string, string> = {};
    const jailOverrides: Record<string, Located> = {};
    for (const k of JAIL_KEYS) {
      const v = get(k);
      if (!v) continue;
      jailVars[k] = v.value;
      if ((FILTER_KEYS as readonly string[]).includes(k) || k === 'logtimezone') jailOverrides[k] = v;
    }
    return { jailVars, jailOverrides };
  };

  let second: ReturnType<typeof readSecond> | undefined;
  const filter: FilterDef = resolveFilter(
    src,
    { args: ref.args, argsAt: filterAt, jailVars: firstVars, jailOverrides: {}, backend, usedBy: `jail [${name}]`, jailSection: name },
    (known) => {
      // fail2ban merges the filter's options into the jail as known/<option>
      for (const [k, v] of known) {
        const entry: RawEntry = { value: v.value, file: v.file, line: v.line, lines: v.lines ?? [v.line] };
        section.set('known/' + k, entry);
      }
      second = readSecond();
      return second;
    },
  );
  const vals = second!.jailVars;
  const at = (k: string): Located => get(k)!;
  const num = (k: string, dflt: number, min?: number): number => (k in vals ? parseInteger(at(k), name, k, min) : dflt);
  const time = (k: string, dflt: number, allowNegative = true): number =>
    k in vals && vals[k]!.trim() !== '' ? parseTimeValue(vals[k]!, where(at(k), name, k), allowNegative) : dflt;
  const bool = (k: string, dflt: boolean): boolean => (k in vals && vals[k]!.trim() !== '' ? parseBool(at(k), name, k) : dflt);

  const protocolText = (vals['protocol'] ?? 'tcp').trim().toLowerCase() || 'tcp';
  if (!(PROTOCOLS as readonly string[]).includes(protocolText)) {
    throw new UserError(`${where(at('protocol'), name, 'protocol')}: ${JSON.stringify(vals['protocol'])} is not one of ${PROTOCOLS.join(', ')}`);
  }
  const protocol = protocolText as PortProto;
  const ports = 'port' in vals && vals['port']!.trim() !== ''
    ? parsePorts(vals['port']!, protocol, where(at('port'), name, 'port'), opts.services ?? systemServices())
    : null;

  const increment: IncrementConfig = {
    enabled: bool('bantime.increment', false),
    factor: 'bantime.factor' in vals && vals['bantime.factor']!.trim() !== '' ? parseNumber(at('bantime.factor'), name, 'bantime.factor') : 1,
    multipliers: [],
    maxtime: time('bantime.maxtime', 0, false),
    rndtime: time('bantime.rndtime', 0, false),
    overalljails: bool('bantime.overalljails', false),
  };
  const formula = vals['bantime.formula']?.trim();
  if (formula) increment.formula = formula;
  if (vals['bantime.multipliers']?.trim()) {
    const m = at('bantime.multipliers');
    increment.multipliers = vals['bantime.multipliers'].trim().split(/\s+/).map((w) =>
      parseNumber({ value: w, file: m.file, line: m.line }, name, 'bantime.multipliers'));
  }

  const logpath = (vals['logpath'] ?? '')
    .split('\n')
    .map((l) => l.trim().replace(/\s+(head|tail)$/, ''))
    .filter((l) => l !== '');

  return {
    name,
    enabled: true,
    filter,
    logpath,
    backend,
    maxretry: num('maxretry', 5, 1),
    findtime: time('findtime', 600, false),
    bantime: time('bantime', 600),
    increment,
    ignoreip: splitWords(vals['ignoreip'] ?? ''),
    ignoreself: bool('ignoreself', true),
    ports,
    protocol,
    usedns: filter.usedns,
    file: origin.file,
    line: origin.line,
  };
}
