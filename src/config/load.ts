// Entry points of the configuration reader: the whole configuration directory for the daemon,
// or one filter for `logban test`.
import fs from 'node:fs';
import path from 'node:path';
import type { FilterDef, JailConfig, LogbanSettings } from '../types.js';
import { UserError } from '../errors.js';
import { readLayered } from './layout.js';
import { readJails, type DisabledJail } from './jail.js';
import { filterBase, readFilterSource, resolveFilter, type FilterSource } from './filter.js';
import { parseOptionRef } from './options.js';
import { readSettings } from './settings.js';
import type { ServiceTable } from './services.js';

export type { DisabledJail } from './jail.js';

export interface LoadedConfig {
  settings: LogbanSettings;
  /** enabled jails, fully resolved (filter included), in file order */
  jails: JailConfig[];
  /** jails present but not enabled; like fail2ban, their filters and values are not checked */
  disabled: DisabledJail[];
  /** jail files read, in merge order (includes and .local layers) */
  files: string[];
}

export interface LoadOptions {
  /** service table for port names (default: /etc/services) */
  services?: ServiceTable;
}

function requireDir(configDir: string): string {
  const dir = path.resolve(configDir);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UserError(`configuration directory ${configDir} does not exist`);
  }
  if (!st.isDirectory()) throw new UserError(`configuration directory ${configDir} is not a directory`);
  return dir;
}

/** Read logban.conf/.local and jail.conf, jail.d/*.conf, jail.local, jail.d/*.local in
 * `configDir`. Any problem is a UserError naming file, line and key. */
export function loadConfig(configDir: string, opts: LoadOptions = {}): LoadedConfig {
  const dir = requireDir(configDir);
  const settings = readSettings(dir);
  const { store, files } = readLayered(path.join(dir, 'jail'));
  if (files.length === 0) throw new UserError(`${configDir}: no jail.conf or jail.local found`);
  const { jails, disabled } = readJails(store, {
    configDir: dir,
    services: opts.services,
    // fail2ban adds these to [DEFAULT] before reading jails; some actions and paths use them
    staticDefaults: { fail2ban_confpath: dir },
  });
  return { settings, jails, disabled, files: store.files };
}

/**
 * Resolve one filter the way `fail2ban-regex` does, for `logban test`. `filterSpec` is a name
 * under filter.d (`sshd`), a name with arguments (`sshd[mode=aggressive]`) or a path to a
 * filter file (`./my.conf`, `/etc/fail2ban/filter.d/sshd.conf`), arguments allowed after it.
 * `jailValues` are extra variables visible to the filter's interpolation, like a jail's.
 */
export function loadFilter(configDir: string, filterSpec: string, jailValues: Record<string, string> = {}): FilterDef {
  let ref;
  try {
    ref = parseOptionRef(filterSpec.trim());
  } catch (err) {
    throw new UserError(`invalid filter ${JSON.stringify(filterSpec)}: ${(err as Error).message}`);
  }
  let src: FilterSource | undefined;
  const looksLikePath = ref.name.includes('/') || /\.(conf|local)$/.test(ref.name);
  if (looksLikePath && fs.existsSync(ref.name)) {
    // A file given on the command line is relative to the current directory.
    const base = path.resolve(ref.name).replace(/\.(conf|local)$/, '');
    src = readFilterSource(base, path.basename(base));
    if (!src) throw new UserError(`filter file ${ref.name}: neither ${base}.conf nor ${base}.local exists`);
  } else {
    // a path that does not exist is the user's mistake to hear about, not the config dir
    if (looksLikePath && (path.isAbsolute(ref.name) || ref.name.startsWith('.') || !fs.existsSync(configDir))) {
      throw new UserError(`filter file ${ref.name} does not exist`);
    }
    const dir = requireDir(configDir);
    const base = filterBase(dir, ref.name);
    src = readFilterSource(base, path.basename(base));
    if (!src) {
      throw new UserError(looksLikePath
        ? `filter file ${ref.name} does not exist`
        : `filter ${JSON.stringify(ref.name)} not found: neither ${base}.conf nor ${base}.local exists`);
    }
  }
  const overrides: Record<string, { value: string; file: string; line: number }> = {};
  for (const [k, v] of Object.entries(jailValues)) {
    if (k === 'logtimezone') overrides[k] = { value: v, file: '<arguments>', line: 0 };
  }
  return resolveFilter(src, {
    args: ref.args,
    argsAt: { file: '<arguments>', line: 0 },
    jailVars: jailValues,
    jailOverrides: overrides,
    backend: jailValues['backend'] ?? 'auto',
    usedBy: 'the command line',
  });
}

export { readSettings } from './settings.js';
