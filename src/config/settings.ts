// logban's own settings: section [logban] of logban.conf, logban.d/*.conf, logban.local,
// logban.d/*.local (same layering as fail2ban's files), keys in snake_case.
import path from 'node:path';
import type { LogbanSettings, Sourced } from '../types.js';
import { UserError } from '../errors.js';
import { readLayered } from './layout.js';
import { parseBool, parseInteger, splitWords, where } from './options.js';
import { parseTimeValue } from './time.js';

export const SETTINGS_SECTION = 'logban';

/** Defaults when a key is absent; config/logban.conf documents the same values. */
export function defaultSettings(): LogbanSettings {
  return {
    backend: 'auto',
    stateDir: '/var/lib/logban',
    socket: '/run/logban/logban.sock',
    socketMode: 0o600,
    metrics: '127.0.0.1:9464',
    nftTable: 'logban',
    // Drops are final in any base chain, so the priority only decides how much work runs
    // before a banned packet dies: -200 comes before mangle (-150) and the ordinary filter
    // chains (0, where iptables-nft, firewalld and ufw live) yet after raw (-300).
    nftChainPriority: -200,
    keepTableOnStop: true,
    maxTrackedAddresses: 1_000_000,
    maxLineLength: 65536,
    batchWindowMs: 2,
    batchMaxChanges: 5000,
    threads: 0,
    xdpInterfaces: [],
    xdpKeepOnStop: false,
    strictFilters: false,
    reconcileIntervalSec: 10,
    dbpurgeage: 86400,
  };
}

const BACKENDS = ['auto', 'nftables', 'xdp', 'dry-run'] as const;

type Setter = (s: LogbanSettings, v: Sourced, key: string) => void;

const str = (f: (s: LogbanSettings, v: string) => void): Setter => (s, v) => f(s, v.value.trim());
const int = (f: (s: LogbanSettings, n: number) => void, min: number): Setter => (s, v, k) => f(s, parseInteger(v, SETTINGS_SECTION, k, min));
const bool = (f: (s: LogbanSettings, b: boolean) => void): Setter => (s, v, k) => f(s, parseBool(v, SETTINGS_SECTION, k));

const SETTERS: Record<string, Setter> = {
  backend: (s, v, k) => {
    const b = v.value.trim();
    if (!(BACKENDS as readonly string[]).includes(b)) {
      throw new UserError(`${where(v, SETTINGS_SECTION, k)}: ${JSON.stringify(v.value)} is not one of ${BACKENDS.join(', ')}`);
    }
    s.backend = b as LogbanSettings['backend'];
  },
  state_dir: str((s, v) => (s.stateDir = v)),
  socket: str((s, v) => (s.socket = v)),
  socket_mode: (s, v, k) => {
    const t = v.value.trim();
    if (!/^0?[0-7]{3,4}$/.test(t)) throw new UserError(`${where(v, SETTINGS_SECTION, k)}: ${JSON.stringify(v.value)} is not an octal file mode like 0600`);
    s.socketMode = parseInt(t, 8);
  },
  socket_group: str((s, v) => {
    if (v === '') delete s.socketGroup;
    else s.socketGroup = v;
  }),
  metrics: (s, v, k) => {
    const t = v.value.trim();
    if (t !== '' && !/^(?:\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/.test(t)) {
      throw new UserError(`${where(v, SETTINGS_SECTION, k)}: ${JSON.stringify(v.value)} is not HOST:PORT (or empty to disable)`);
    }
    s.metrics = t;
  },
  nft_table: (s, v, k) => {
    const t = v.value.trim();
    if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(t)) throw new UserError(`${where(v, SETTINGS_SECTION, k)}: ${JSON.stringify(v.value)} is not a valid nftables table name`);
    s.nftTable = t;
  },
  nft_chain_priority: (s, v, k) => (s.nftChainPriority = parseInteger(v, SETTINGS_SECTION, k)),
  keep_table_on_stop: bool((s, b) => (s.keepTableOnStop = b)),
  max_tracked_addresses: int((s, n) => (s.maxTrackedAddresses = n), 1),
  max_line_length: int((s, n) => (s.maxLineLength = n), 1),
  batch_window_ms: int((s, n) => (s.batchWindowMs = n), 0),
  batch_max_changes: int((s, n) => (s.batchMaxChanges = n), 1),
  threads: int((s, n) => (s.threads = n), 0),
  xdp_interfaces: (s, v) => (s.xdpInterfaces = splitWords(v.value)),
  xdp_keep_on_stop: bool((s, b) => (s.xdpKeepOnStop = b)),
  strict_filters: bool((s, b) => (s.strictFilters = b)),
  reconcile_interval: (s, v, k) => (s.reconcileIntervalSec = parseTimeValue(v.value, where(v, SETTINGS_SECTION, k), false)),
  dbpurgeage: (s, v, k) => (s.dbpurgeage = parseTimeValue(v.value, where(v, SETTINGS_SECTION, k), false)),
};

/** Setting keys understood in [logban]. */
export const SETTING_KEYS: readonly string[] = Object.keys(SETTERS);

/** Read logban.conf/.local from `configDir`; absent files mean defaults. Unknown keys are
 * errors (a misspelt key would otherwise be silently ignored). */
export function readSettings(configDir: string): LogbanSettings {
  const settings = defaultSettings();
  const { store } = readLayered(path.join(configDir, 'logban'));
  for (const name of store.sectionNames()) {
    if (name !== SETTINGS_SECTION && name !== 'INCLUDES') {
      const o = store.origins.get(name)!;
      throw new UserError(`${o.file}:${o.line}: unknown section [${name}]; logban's settings go in [${SETTINGS_SECTION}]`);
    }
  }
  if (!store.hasSection(SETTINGS_SECTION)) return settings;
  for (const key of store.options(SETTINGS_SECTION)) {
    const setter = SETTERS[key];
    const v = store.get(SETTINGS_SECTION, key)!;
    if (!setter) {
      throw new UserError(`${where(v, SETTINGS_SECTION, key)}: unknown setting; known settings: ${SETTING_KEYS.join(', ')}`);
    }
    setter(settings, v, key);
  }
  return settings;
}
