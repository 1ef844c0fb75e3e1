// Wires the stages (DESIGN.md): sources -> matcher pool -> ban table -> batcher -> backend,
// with the store, control socket and metrics alongside. Nothing else lives here.
import path from 'node:path';
import { loadConfig, loadFilter } from './config/load.js';
import { UserError } from './errors.js';
import type { Backend, BanChange, Chunk, JailConfig, JailRule, LogbanSettings } from './types.js';
import type { Logger } from './log.js';
import { BanTable, type BanEntry, type JailPolicy } from './bans/ban-table.js';
import { IgnoreList } from './bans/ignore-list.js';
import { isDefaultFormula } from './bans/increment.js';
import { MatcherPool } from './match/pool.js';
import { compileFilterOnce } from './match/compile.js';
import { FilterRefused, builtinFilterDir } from './match/errors.js';
import { ChangeBatcher } from './backends/batcher.js';
import { XdpBackend } from './backends/xdp.js';
import { Metrics } from './metrics/registry.js';
import { MetricsServer } from './metrics/http-server.js';
import { ControlServer } from './control/server.js';
import type { BanListEntry, ReloadResult, StatusResult } from './control/protocol.js';
import { StateStore } from './store/state-store.js';
import { selectBackend } from './pipeline/backend-select.js';
import { SourceSet, groupJails, poolGroups, type SourceGroup } from './pipeline/source-set.js';
import type { ChunkOutcome } from './pipeline/source-pipeline.js';
import { Reconciler } from './pipeline/reconciler.js';

/** Restored bans are logged one by one ("Restore Ban") up to this many, then summarised. */
const RESTORE_LOG_EACH = 100;

export interface DaemonOptions {
  configDir: string;
  /** settings from the command line, over logban.conf/.local */
  overrides: Partial<LogbanSettings>;
  /** run: follow logs from their end; replay: read them from the first byte and exit */
  mode: 'run' | 'replay';
  log: Logger;
  /** journalctl command (tests use a stand-in) */
  journalctl?: string | readonly string[];
}

export interface ReplaySummary {
  lines: number;
  matches: number;
  bans: number;
  seconds: number;
  jails: Record<string, { lines: number; matches: number; bans: number }>;
}

interface JailCounters {
  lines: number;
  matches: number;
  bans: number;
}

export function jailRule(j: JailConfig): JailRule {
  return { name: j.name, ports: j.ports, protocol: j.protocol };
}

export class Daemon {
  readonly metrics = new Metrics();
  private settings!: LogbanSettings;
  private jails: JailConfig[] = [];
  private groups: SourceGroup[] = [];
  private readonly groupIds = new Map<string, number>();
  private readonly counters = new Map<string, JailCounters>();
  private table!: BanTable;
  private pool!: MatcherPool;
  private backend!: Backend;
  private batcher!: ChangeBatcher;
  private sources!: SourceSet;
  private store: StateStore | null = null;
  private control: ControlServer | null = null;
  private metricsServer: MetricsServer | null = null;
  private reconciler: Reconciler | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();
  private readonly log: Logger;
  private stopping = false;
  /** while bans are restored at start: their changes, applied together */
  private restoring: { changes: BanChange[]; quiet: boolean } | null = null;

  private constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log;
  }

  /** Load configuration and build every stage. Throws UserError for anything the user can fix. */
  static async create(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(opts);
    await d.build();
    return d;
  }

  private readConfig(): { settings: LogbanSettings; jails: JailConfig[] } {
    const cfg = loadConfig(this.opts.configDir);
    const settings = { ...cfg.settings, ...definedOnly(this.opts.overrides) };
    const jails = cfg.jails.map((j) => this.runnableJail(j, settings.strictFilters));
    if (jails.length === 0) this.log.warn('config', `${this.opts.configDir}: no jail is enabled`);
    return { settings, jails };
  }

  /** A filter RE2 cannot run is replaced by our built-in filter of the same name, if we have
   * one, so a stock /etc/fail2ban works; strict_filters turns that into an error. */
  private runnableJail(j: JailConfig, strict: boolean): JailConfig {
    try {
      compileFilterOnce(j.filter);
      return j;
    } catch (err) {
      if (!(err instanceof FilterRefused) || strict) throw err;
      const own = path.join(builtinFilterDir, `${j.filter.name}.conf`);
      let filter;
      try {
        const opts = Object.entries(j.filter.options)
          .filter(([k]) => k === 'mode')
          .map(([k, v]) => `${k}=${v}`);
        // the jail's backend picks the journal line format; its usedns and time zone carry over
        const builtin = loadFilter(path.dirname(builtinFilterDir), opts.length ? `${j.filter.name}[${opts.join(',')}]` : j.filter.name,
          { backend: j.backend });
        filter = { ...builtin, usedns: j.filter.usedns, logtimezone: j.filter.logtimezone ?? builtin.logtimezone };
        compileFilterOnce(filter);
      } catch {
        throw err;
      }
      this.log.warn('filter', `[${j.name}] ${err.message}; running logban's built-in filter ${own} instead`);
      return { ...j, filter };
    }
  }

  private async build(): Promise<void> {
    const { settings, jails } = this.readConfig();
    this.settings = settings;
    this.jails = jails;
    if (this.opts.mode === 'run') {
      this.store = StateStore.open(settings.stateDir);
    }
    this.backend = this.opts.mode === 'replay' && settings.backend === 'auto'
      ? selectBackend({ ...settings, backend: 'dry-run' }, this.log)
      : selectBackend(settings, this.log);
    const m = this.metrics;
    const backendName = this.backend.name;
    const xdp = this.backend;
    if (xdp instanceof XdpBackend) m.setXdpSource(() => xdp.droppedCounters());
    this.batcher = new ChangeBatcher(this.backend, {
      windowMs: settings.batchWindowMs,
      maxChanges: settings.batchMaxChanges,
      onApplied: (seconds, count) => {
        m.applySeconds.observe({ backend: backendName }, seconds);
        m.batchChanges.inc({ backend: backendName }, count);
      },
      onError: (err, changes) => {
        m.backendErrors.inc({ backend: backendName });
        this.log.error('backend', `${backendName}: applying ${changes.length} change(s) failed: ${err.message}`);
        this.reconciler?.soon();
      },
    });
    this.table = new BanTable({
      maxTracked: settings.maxTrackedAddresses,
      replay: this.opts.mode === 'replay',
      history: this.store ?? undefined,
      hooks: {
        change: (c, reason) => this.onChange(c, reason),
        ban: (e, reason) => this.onBan(e, reason),
        unban: (e, reason) => this.onUnban(e, reason),
        evicted: (n) => m.evictions.inc(n),
      },
    });
    this.pool = new MatcherPool({ threads: settings.threads, maxLineLength: settings.maxLineLength });
    this.sources = this.newSourceSet();
  }

  private newSourceSet(): SourceSet {
    const replay = this.opts.mode === 'replay';
    return new SourceSet({
      matcher: this.pool,
      sink: { apply: (jails, out, chunk) => this.applyChunk(jails, out, chunk) },
      maxInFlight: Math.max(2, this.pool.threads * 2),
      follow: !replay,
      start: replay ? 'start' : 'end',
      positions: this.store ?? undefined,
      cursors: (jail) => this.store?.cursor(jail),
      journalctl: this.opts.journalctl,
      warn: (msg) => this.log.warn('sources', msg),
      error: (err) => this.log.error('sources', err.message),
    });
  }

  /** Policies and groups for the current jails; used at start and on reload. */
  private async configureJails(): Promise<void> {
    const policies: JailPolicy[] = [];
    for (const j of this.jails) {
      const ignore = await IgnoreList.create(j, (msg) => this.log.warn('config', `[${j.name}] ${msg}`));
      if (j.increment.enabled && j.increment.multipliers.length === 0 && !isDefaultFormula(j.increment.formula)) {
        // fail2ban evaluates the formula as Python; we do not run configuration as code
        this.log.warn('config', `[${j.name}] bantime.formula ${JSON.stringify(j.increment.formula)} is not evaluated; using the default formula (use bantime.multipliers for other growth)`);
      }
      policies.push({
        name: j.name, maxretry: j.maxretry, findtime: j.findtime, bantime: j.bantime,
        increment: j.increment, ignore,
      });
      if (!this.counters.has(j.name)) this.counters.set(j.name, { lines: 0, matches: 0, bans: 0 });
    }
    this.table.configure(policies);
    this.groups = groupJails(this.jails, this.groupIds);
    this.pool.setGroups(poolGroups(this.groups));
    await this.backend.start(this.jails.map(jailRule));
  }

  /** Follow the logs until stop(). */
  async run(): Promise<void> {
    const s = this.settings;
    await this.configureJails();
    if (this.store) {
      const t0 = performance.now();
      const stored = this.store.activeBans(Date.now() / 1000);
      // restored bans go to the kernel as ONE transaction (not batches of batch_max_changes),
      // and past a screenful they are summarised instead of logged one by one
      this.restoring = { changes: [], quiet: stored.length > RESTORE_LOG_EACH };
      let restored: number;
      try {
        restored = this.table.restore(stored.map((b) => ({
          jail: b.jail, addr: b.addr, family: b.family, prefix: b.prefix, bannedAt: b.bannedAt,
          expires: b.expiresAt ?? Infinity, count: b.banCount,
        })));
        const changes = this.restoring.changes;
        if (changes.length > 0) {
          const ta = performance.now();
          await this.backend.apply(changes).then(
            () => this.metrics.applySeconds.observe({ backend: this.backend.name }, (performance.now() - ta) / 1000),
            (err: Error) => {
              this.metrics.backendErrors.inc({ backend: this.backend.name });
              this.log.error('backend', `${this.backend.name}: restoring ${changes.length} ban(s) failed: ${err.message}`);
            },
          );
        }
      } finally {
        this.restoring = null;
      }
      if (restored) this.log.notice('store', `restored ${restored} ban(s) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      // XDP maps have no timeouts: entries reused from an earlier run that no restored ban
      // claims (bans that ended while logban was down) would otherwise drop their source for ever
      if (this.backend instanceof XdpBackend) this.backend.pruneUnclaimed();
    }
    for (const j of this.jails) {
      this.log.info('jail', `[${j.name}] started: filter ${j.filter.name}, ${j.logpath.join(', ') || j.backend}, maxretry ${j.maxretry}, findtime ${j.findtime}s, bantime ${j.bantime}s`);
    }
    if (s.metrics) {
      this.metricsServer = new MetricsServer(this.metrics);
      const at = await this.metricsServer.start(s.metrics);
      this.log.info('metrics', `serving http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}/metrics`);
    }
    this.control = new ControlServer({
      path: s.socket,
      mode: s.socketMode,
      group: s.socketGroup,
      handler: {
        status: (jail) => this.status(jail),
        list: (jail) => this.list(jail),
        ban: async (jail, addr, seconds) => {
          const existed = this.table.isBanned(jail, addr);
          const e = this.table.ban(jail, addr, seconds);
          await this.batcher.flush();
          this.flushStore(); // durability fix: a confirmed manual ban must survive a kill -9 right after
          return { jail, addr: fmt(e), expires: e.expires === Infinity ? null : e.expires, created: !existed };
        },
        unban: async (addr, jail) => {
          const n = this.table.unban(addr, jail);
          await this.batcher.flush();
          this.flushStore(); // durability fix: likewise, a confirmed unban must not come back after a crash
          return n;
        },
        reload: () => this.reload(),
      },
      log: {
        info: (m) => this.log.info('control', m),
        warn: (m) => this.log.warn('control', m),
        error: (m) => this.log.error('control', m),
      },
    });
    await this.control.start();
    this.reconciler = new Reconciler({
      backend: this.backend,
      intervalSec: s.reconcileIntervalSec,
      rules: () => this.jails.map(jailRule),
      bans: () => this.table.list(),
      reapply: (changes) => { this.batcher.pushAll(changes); return this.batcher.flush(); },
      repaired: () => this.metrics.repairs.inc(),
      log: this.log,
    });
    this.reconciler.start();
    this.every(1000, () => {
      this.table.expire();
      this.metrics.tracked.set(this.table.trackedAddresses);
    });
    this.every(60_000, () => this.table.sweep());
    this.every(1000, () => this.persist());
    this.every(3600_000, () => this.store?.purge(s.dbpurgeage));
    await this.sources.start(this.groups);
  }

  /** Read every enabled jail's logs from the first byte to the end, apply, summarise. */
  async replay(): Promise<ReplaySummary> {
    const t0 = performance.now();
    await this.configureJails();
    await this.sources.start(this.groups);
    await this.batcher.flush();
    const seconds = (performance.now() - t0) / 1000;
    // lines count once per chunk read, even when several jails share the file
    const out: ReplaySummary = { lines: this.linesRead, matches: 0, bans: 0, seconds, jails: {} };
    for (const [name, c] of this.counters) {
      out.jails[name] = { ...c };
      out.matches += c.matches;
      out.bans += c.bans;
    }
    return out;
  }

  private linesRead = 0;

  private applyChunk(jails: readonly string[], out: ChunkOutcome<unknown>, chunk: Chunk): void {
    const m = this.metrics;
    this.linesRead += out.lines;
    for (let i = 0; i < jails.length; i++) {
      const c = this.counters.get(jails[i]);
      if (!c) continue;
      c.lines += out.lines;
      c.matches += out.matchesPerJail[i] ?? 0;
      m.lines.inc({ jail: jails[i] }, out.lines);
      if (out.matchesPerJail[i]) m.matches.inc({ jail: jails[i] }, out.matchesPerJail[i]);
    }
    if (out.badLines) m.badLines.inc({ jail: jails[0], reason: 'binary' }, out.badLines);
    if (out.cutLines) m.badLines.inc({ jail: jails[0], reason: 'too-long' }, out.cutLines);
    for (const ev of out.events) {
      if (ev.nofail) continue;
      const jail = jails[ev.jail];
      const r = this.table.failure(jail, ev.host, ev.time);
      if (r === 'invalid') m.invalidHosts.inc({ jail });
      else if (r === 'ignored') m.ignored.inc({ jail });
    }
    this.applied.set(chunk.source, chunk.endOffset);
  }

  /** last applied offset per source, so saved positions never run ahead of counted lines */
  private readonly applied = new Map<string, number>();

  private onChange(c: BanChange, reason: string): void {
    // nft sets expire elements themselves, and a removed jail's set is gone: deleting them again
    // would fail the whole transaction (DESIGN.md)
    if (c.op === 'unban' && this.backend.kernelExpiry && (reason === 'expired' || reason === 'jail-removed')) return;
    if (this.restoring && reason === 'restored') this.restoring.changes.push(c);
    else this.batcher.push(c);
  }

  private onBan(e: BanEntry, reason: string): void {
    const c = this.counters.get(e.jail);
    if (c) c.bans++;
    this.metrics.bans.inc({ jail: e.jail });
    this.metrics.banned.inc({ jail: e.jail });
    if (this.opts.mode === 'run' && !(reason === 'restored' && this.restoring?.quiet)) {
      this.log.notice('actions', `[${e.jail}] ${reason === 'restored' ? 'Restore Ban' : 'Ban'} ${fmt(e)}`);
    }
    if (reason !== 'restored') this.store?.recordBan(e);
  }

  private onUnban(e: BanEntry, reason: string): void {
    this.metrics.unbans.inc({ jail: e.jail });
    this.metrics.banned.dec({ jail: e.jail });
    if (this.opts.mode === 'run') this.log.notice('actions', `[${e.jail}] Unban ${fmt(e)}`);
    this.store?.recordUnban(e.jail, e.addr, e.prefix);
    void reason;
  }

  /** Write the store's queue now (it is written behind every 200 ms): a manual ban or unban
   * the user saw confirmed must not be lost by a crash in that window. A failure is left to the
   * write-behind retry. */
  private flushStore(): void {
    try {
      this.store?.flush();
    } catch (err) {
      this.log.warn('store', `saving state failed, will retry: ${(err as Error).message}`);
    }
  }

  private persist(): void {
    if (!this.store) return;
    const positions = this.sources.positions().map((p) => {
      const done = this.applied.get(p.path);
      return done !== undefined && done < p.offset ? { ...p, offset: done } : p;
    });
    this.store.savePositions(positions);
    for (const { jail, cursor } of this.sources.cursors()) this.store.saveCursor(jail, cursor);
  }

  status(jail?: string): StatusResult {
    if (jail !== undefined && !this.counters.has(jail)) throw new UserError(`no jail named "${jail}"`);
    const jails = this.jails
      .filter((j) => jail === undefined || j.name === jail)
      .map((j) => {
        const st = this.table.stats(j.name);
        const c = this.counters.get(j.name) ?? { lines: 0, matches: 0, bans: 0 };
        return {
          name: j.name,
          filter: j.filter.name,
          logFiles: this.sources.filesOf(j.name),
          lines: c.lines,
          matches: c.matches,
          currentlyFailed: st?.currentlyFailed ?? 0,
          currentlyBanned: st?.currentlyBanned ?? 0,
          totalBanned: st?.totalBanned ?? 0,
        };
      });
    return { backend: this.backend.name, uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000), jails };
  }

  list(jail?: string): BanListEntry[] {
    const now = Date.now() / 1000;
    return this.table.list(jail).map((e) => ({
      jail: e.jail,
      addr: fmt(e),
      expires: e.expires === Infinity ? null : Math.round(e.expires),
      remainingSeconds: e.expires === Infinity ? null : Math.max(0, Math.round(e.expires - now)),
    }));
  }

  /** Re-read the configuration; jails are added, removed or changed in place, bans are kept. */
  async reload(): Promise<ReloadResult> {
    const before = new Set(this.jails.map((j) => j.name));
    const { settings, jails } = this.readConfig(); // throws before anything is touched
    await this.sources.stop();
    // durability fix: save positions AFTER the old readers stopped and drained (SourceSet keeps
    // its final positions), so the new readers neither re-read nor skip what arrived meanwhile
    this.persist();
    this.settings = { ...this.settings, ...pickReloadable(settings) };
    this.jails = jails;
    await this.configureJails();
    // re-apply bans of kept jails: a changed port or protocol rebuilt their rules
    await this.batcher.flush();
    this.sources = this.newSourceSet();
    void this.sources.start(this.groups).catch((err: Error) => this.log.error('sources', err.message));
    const after = jails.map((j) => j.name);
    const result = {
      jails: after,
      added: after.filter((n) => !before.has(n)),
      removed: [...before].filter((n) => !after.includes(n)),
    };
    for (const n of result.removed) this.counters.delete(n);
    this.log.notice('config', `reloaded: ${after.length} jail(s)${result.added.length ? `, added ${result.added.join(', ')}` : ''}${result.removed.length ? `, removed ${result.removed.join(', ')}` : ''}`);
    return result;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.reconciler?.stop();
    await this.control?.stop();
    await this.sources.stop();
    await this.batcher.flush();
    this.persist();
    this.store?.close();
    await this.backend.stop(this.settings.keepTableOnStop);
    await this.metricsServer?.stop();
    await this.pool.close();
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(() => {
      try {
        fn();
      } catch (err) {
        this.log.error('daemon', (err as Error).message);
      }
    }, ms);
    t.unref();
    this.timers.push(t);
  }
}

function fmt(e: { addr: string; prefix?: number }): string {
  return e.prefix === undefined ? e.addr : `${e.addr}/${e.prefix}`;
}

function definedOnly<T extends object>(o: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Settings a reload may change; the rest (socket, state dir, backend) need a restart. */
function pickReloadable(s: LogbanSettings): Partial<LogbanSettings> {
  return {
    maxTrackedAddresses: s.maxTrackedAddresses,
    maxLineLength: s.maxLineLength,
    reconcileIntervalSec: s.reconcileIntervalSec,
    dbpurgeage: s.dbpurgeage,
    strictFilters: s.strictFilters,
  };
}
