// Contracts between pipeline stages (see DESIGN.md). Each stage owns its own internals;
// only these shapes cross module boundaries.

/** A configuration value together with where it came from, so errors can name file and line. */
export interface Sourced {
  value: string;
  file: string;
  line: number;
}

/** A fully resolved filter: interpolated, [Init]/arguments applied, ready to compile. Plain data
 * (structured-clone safe) because it is sent to worker threads. */
export interface FilterDef {
  /** filter name as referenced by the jail (`sshd`), without arguments */
  name: string;
  /** file the [Definition] came from (the .conf; .local overrides are merged in) */
  file: string;
  /** one entry per failregex line (continuation lines split), empty lines dropped */
  failregex: Sourced[];
  ignoreregex: Sourced[];
  prefregex?: Sourced;
  /** raw datepattern value(s), one per line; undefined = default date detection */
  datepattern?: Sourced[];
  /** multi-line buffer size; 1 = single-line */
  maxlines: number;
  /** 'yes' | 'warn' | 'no' | 'raw' as fail2ban */
  usedns: 'yes' | 'warn' | 'no' | 'raw';
  /** e.g. 'UTC', '+0200', 'CET'; undefined = local time */
  logtimezone?: string;
  /** journalmatch lines, for the journal source */
  journalmatch: string[];
  /** every other [Definition]/[Init] option after interpolation (mode, logtype, ...) */
  options: Record<string, string>;
}

export type PortProto = 'tcp' | 'udp' | 'sctp' | 'dccp' | 'udplite';

export interface IncrementConfig {
  enabled: boolean;
  factor: number;
  formula?: string;
  multipliers: number[];
  maxtime: number;
  rndtime: number;
  overalljails: boolean;
}

/** A jail after reading jail.conf/.local and its filter. Times are seconds; -1 = permanent. */
export interface JailConfig {
  name: string;
  enabled: boolean;
  filter: FilterDef;
  /** logpath lines, globs not yet expanded */
  logpath: string[];
  /** 'auto' | 'polling' | 'pyinotify' | 'systemd' ... (fail2ban's backend key) */
  backend: string;
  maxretry: number;
  findtime: number;
  bantime: number;
  increment: IncrementConfig;
  /** ignoreip entries as written (addresses, CIDR, host names) */
  ignoreip: string[];
  ignoreself: boolean;
  /** resolved port numbers / ranges; null = every port */
  ports: Array<number | [number, number]> | null;
  protocol: PortProto;
  usedns: 'yes' | 'warn' | 'no' | 'raw';
  /** where the [jail] section started, for messages */
  file: string;
  line: number;
}

/** logban's own settings (logban.conf / logban.local [logban] section + CLI overrides). */
export interface LogbanSettings {
  backend: 'auto' | 'nftables' | 'xdp' | 'dry-run';
  stateDir: string;
  socket: string;
  socketMode: number;
  socketGroup?: string;
  metrics: string; // HOST:PORT, or '' to disable
  nftTable: string; // e.g. 'logban' in family inet
  nftChainPriority: number;
  keepTableOnStop: boolean;
  maxTrackedAddresses: number;
  maxLineLength: number;
  batchWindowMs: number;
  batchMaxChanges: number;
  threads: number; // 0 = one per core
  xdpInterfaces: string[];
  xdpKeepOnStop: boolean;
  strictFilters: boolean;
  reconcileIntervalSec: number;
  dbpurgeage: number;
}

/** One line-aligned piece of a log source. Always ends right after a '\n' (or at EOF in replay). */
export interface Chunk {
  /** source key: the file path (or 'journal:<jail>') */
  source: string;
  buf: Buffer;
  /** byte offset in the file just after this chunk */
  endOffset: number;
  /** epoch seconds when it was read: time for lines that carry no date */
  arrival: number;
}

/** What the matcher reports for one matching line. */
export interface MatchEvent {
  /** index of the jail in the source group that matched */
  jail: number;
  /** address or host text as captured; validated by the ban table */
  host: string;
  /** epoch seconds (fractional allowed) */
  time: number;
  /** <F-NOFAIL>: counts as seen, not as a failure */
  nofail?: boolean;
  /** lower-cased <F-NAME> captures other than the host */
  captures?: Record<string, string>;
}

export type Family = 4 | 6;

/** A ban-state change, validated: addr is a canonical IPv4/IPv6 literal (optionally CIDR). */
export interface BanChange {
  op: 'ban' | 'unban';
  jail: string;
  addr: string;
  family: Family;
  /** prefix length when addr is a network, else undefined */
  prefix?: number;
  /** seconds until expiry at the moment of the change; -1 = permanent (ban only) */
  timeout: number;
}

/** Which packets a jail's rule covers in the kernel. */
export interface JailRule {
  name: string;
  ports: Array<number | [number, number]> | null;
  protocol: PortProto;
}

/** A kernel backend. apply() gets already coalesced changes and makes them ONE transaction. */
export interface Backend {
  readonly name: string;
  /** true when the kernel removes expired elements by itself (nft set timeouts): the ban table's
   * expiry unbans are then not sent, since deleting an already-expired element fails a batch. */
  readonly kernelExpiry?: boolean;
  /** Create table/sets/chains (idempotent) for these jails. Called again on reload. */
  start(jails: readonly JailRule[]): Promise<void>;
  apply(changes: readonly BanChange[]): Promise<void>;
  /** Cheap check that the kernel still holds our structures (sentinel); false = needs repair. */
  healthy(): Promise<boolean>;
  stop(keep: boolean): Promise<void>;
}

/** Where a file source stopped reading, persisted so a restart neither re-reads nor skips. */
export interface FilePosition {
  path: string;
  dev: number;
  ino: number;
  /** byte offset just after the last line handed on */
  offset: number;
  /** sha1 (hex) of the file's first line; '' while the first line is incomplete */
  firstLineHash: string;
}
