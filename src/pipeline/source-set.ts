// Turns the enabled jails into sources and matcher groups. Jails that read the same logpath
// share one tailer and one matcher group, so a file watched by five jails is read once and each
// line is scanned once for all five filters. journald jails get one journalctl each.
import type { Chunk, FilePosition, JailConfig } from '../types.js';
import { FileTailer, type PositionLookup } from '../sources/file-tailer.js';
import { JournalSource } from '../sources/journal.js';
import type { PoolGroup } from '../match/pool.js';
import { SourcePipeline, type ChunkMatcher, type OutcomeCompleter, type PipelineSink } from './source-pipeline.js';

export interface SourceGroup {
  id: number;
  /** a logpath pattern, or `journal:<jail>` */
  key: string;
  jails: JailConfig[];
}

export function isJournalJail(j: JailConfig): boolean {
  return j.backend === 'systemd' || j.backend.startsWith('systemd[');
}

/** Groups enabled jails by source. Group ids are stable for a given key across reloads. */
export function groupJails(jails: readonly JailConfig[], ids: Map<string, number>): SourceGroup[] {
  const byKey = new Map<string, JailConfig[]>();
  for (const j of jails) {
    const keys = isJournalJail(j) ? [`journal:${j.name}`] : j.logpath;
    for (const k of keys) {
      const list = byKey.get(k) ?? [];
      if (!list.includes(j)) list.push(j);
      byKey.set(k, list);
    }
  }
  const groups: SourceGroup[] = [];
  for (const [key, list] of byKey) {
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size + 1;
      ids.set(key, id);
    }
    groups.push({ id, key, jails: list });
  }
  return groups;
}

export function poolGroups(groups: readonly SourceGroup[]): PoolGroup[] {
  return groups.map((g) => ({ id: g.id, filters: g.jails.map((j) => j.filter) }));
}

export interface SourceSetOptions<S> {
  matcher: ChunkMatcher<S> & {
    isStateful(groupId: number): boolean;
    /** per source, the in-order completion of its chunks' outcomes, if the group needs one */
    merger?(groupId: number): OutcomeCompleter<S> | undefined;
  };
  sink: PipelineSink;
  /** chunks of one stateless source matched at once (2 per worker keeps every core busy) */
  maxInFlight: number;
  follow: boolean;
  start: 'end' | 'start';
  positions?: PositionLookup;
  cursors?: (jail: string) => string | undefined;
  journalctl?: string | readonly string[];
  maxChunkBytes?: number;
  warn: (msg: string) => void;
  error: (err: Error) => void;
}

interface RunningSource {
  group: SourceGroup;
  pipeline: SourcePipeline<unknown>;
  tailer?: FileTailer;
  journal?: JournalSource;
}

export class SourceSet {
  private running: RunningSource[] = [];

  constructor(private readonly opts: SourceSetOptions<unknown>) {}

  /** Start every group's source. With follow=false, resolves when all have been read. */
  async start(groups: readonly SourceGroup[]): Promise<void> {
    const o = this.opts;
    const waits: Array<Promise<void>> = [];
    for (const group of groups) {
      const depth = o.matcher.isStateful(group.id) ? 1 : o.maxInFlight;
      const pipeline = new SourcePipeline(o.matcher, group.id, group.jails.map((j) => j.name), o.sink, depth, o.matcher.merger?.(group.id));
      const onChunk = (c: Chunk) => pipeline.push(c);
      const rs: RunningSource = { group, pipeline };
      if (group.key.startsWith('journal:')) {
        const jail = group.jails[0];
        rs.journal = new JournalSource({
          jail: jail.name, journalmatch: jail.filter.journalmatch, journalctl: o.journalctl,
          cursor: o.cursors?.(jail.name), start: o.start, follow: o.follow,
          onChunk, onWarning: o.warn, onError: o.error,
        });
        rs.journal.start();
        if (!o.follow) waits.push(rs.journal.done().then(() => pipeline.drain()));
      } else {
        rs.tailer = new FileTailer({
          logpaths: [group.key], start: o.start, follow: o.follow, positions: o.positions,
          maxChunkBytes: o.maxChunkBytes, onChunk, onWarning: o.warn, onError: o.error,
        });
        const started = rs.tailer.start();
        waits.push(o.follow ? started : started.then(() => pipeline.drain()));
      }
      this.running.push(rs);
    }
    await Promise.all(waits);
  }

  /** Positions of every followed file (for the store); after stop(), the final ones. */
  positions(): FilePosition[] {
    return [...this.finalPositions, ...this.running.flatMap((r) => r.tailer?.positions() ?? [])];
  }

  /** Durability fix: the positions reached when stop() finished, which the daemon saves after
   * stopping us; without them a clean stop never saved its last second of reading, and a
   * restart then started from the end of the file, skipping lines written meanwhile. */
  private finalPositions: FilePosition[] = [];

  cursors(): Array<{ jail: string; cursor: string }> {
    const out: Array<{ jail: string; cursor: string }> = [];
    for (const r of this.running) {
      const c = r.journal?.cursor();
      if (c) out.push({ jail: r.group.jails[0].name, cursor: c });
    }
    return out;
  }

  /** Files being read, per jail (for `logban status`). */
  filesOf(jail: string): string[] {
    const out: string[] = [];
    for (const r of this.running) {
      if (!r.group.jails.some((j) => j.name === jail)) continue;
      if (r.tailer) out.push(...r.tailer.paths());
      else out.push(r.group.key);
    }
    return out;
  }

  /** Stop reading, then let matched chunks reach the ban table. */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = [];
    await Promise.all(running.map((r) => r.tailer?.stop() ?? r.journal?.stop()));
    await Promise.all(running.map((r) => r.pipeline.drain().catch(() => undefined)));
    this.finalPositions = running.flatMap((r) => r.tailer?.positions() ?? []);
  }
}
