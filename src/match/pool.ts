// Worker pool for matching: one worker per core, chunks transferred (not copied) to workers.
import type { Piscina } from 'piscina';
import type { FilterDef } from '../types.js';
import { compileFilterOnce, planOf, type CompiledFilter, type FilterPlan } from './compile.js';
import { canDeferMerge, DEFAULT_MAX_LINE_LENGTH, isStatefulFilter, type ChunkResult, type MatchState } from './chunk.js';
import { DeferredMerger, type MergeableResult } from './merge.js';
import type { MatchTask } from './worker.js';
import { fromWire, type WireResult } from './wire.js';
import { isChunkBuffer, recycleChunkBuffer } from '../sources/chunk-buffers.js';
import { takeWorkerThreads, workerThreadCount } from './worker-threads.js';

export interface PoolGroup {
  id: number;
  filters: FilterDef[];
}

export interface MatcherPoolOptions {
  /** worker threads; 0 or undefined = one per core */
  threads?: number;
  maxLineLength?: number;
}

interface PoolGroupEntry {
  compiled: CompiledFilter[];
  /** what the workers build their compiled filters from */
  plans: FilterPlan[];
  /** chunks must be matched one after the other, passing the state along */
  stateful: boolean;
  /** the group's only state is connection caches, kept on this thread (merge.ts) */
  deferMerge: boolean;
}

export class MatcherPool {
  private readonly piscina: Piscina;
  private readonly maxLineLength: number;
  private version = 0;
  private groups = new Map<number, PoolGroupEntry>();

  constructor(opts: MatcherPoolOptions = {}) {
    this.maxLineLength = opts.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    this.piscina = takeWorkerThreads(workerThreadCount(opts.threads));
  }

  get threads(): number {
    return this.piscina.maxThreads;
  }

  /** Replaces the groups. Compiles each filter on this thread (or takes the daemon's check of it),
   * so a bad filter throws now (with its file and line) rather than in a worker; the workers
   * build their own copies from its plan at once (warm). */
  setGroups(groups: PoolGroup[]): void {
    const next = new Map<number, PoolGroupEntry>();
    for (const g of groups) {
      const compiled = g.filters.map((d) => compileFilterOnce(d));
      const stateful = compiled.filter(isStatefulFilter);
      const deferMerge = stateful.length > 0 && stateful.every(canDeferMerge);
      next.set(g.id, { compiled, plans: compiled.map(planOf), stateful: stateful.length > 0 && !deferMerge, deferMerge });
    }
    this.groups = next;
    this.version++;
    this.warm();
  }

  /** Has every worker build the new groups (from their plans: ~2 ms for the bench's web
   * filters) now, while the sources open and read their first chunks, instead of on its first
   * chunk: the time to the first verdict of a replay or of a daemon's first lines. Best effort:
   * piscina gives each task to an idle worker, so one worker may take two and build on a chunk
   * later. */
  private warm(): void {
    const version = this.version;
    for (const [groupId, g] of this.groups) {
      for (let i = 0; i < this.piscina.maxThreads; i++) {
        const task: MatchTask = {
          version, groupId, filters: g.plans, chunk: new ArrayBuffer(0), byteOffset: 0, byteLength: 0, arrival: 0, warmOnly: true,
        };
        // a filter that fails to compile failed on this thread first (above); a failure here
        // shows again with the first chunk, where it is reported
        this.piscina.run(task).catch(() => undefined);
      }
    }
  }

  /** True when the group's chunks must be matched one after the other, passing `state` along. */
  isStateful(groupId: number): boolean {
    return this.group(groupId).stateful;
  }

  /** For a group whose connection caches live on this thread: the step that completes each
   * chunk's result, to be called in file order (one per source). */
  merger(groupId: number): ((out: MergeableResult) => void) | undefined {
    const g = this.group(groupId);
    if (!g.deferMerge) return undefined;
    const m = new DeferredMerger(g.compiled);
    return (out) => m.complete(out);
  }

  private group(groupId: number): PoolGroupEntry {
    const g = this.groups.get(groupId);
    if (!g) throw new Error(`matcher pool: unknown group ${groupId}`);
    return g;
  }

  /** Matches a chunk of whole lines. The chunk's memory is transferred to the worker: do not
   * use `chunk` after calling (unless it was a slice of a shared buffer, which is copied). A
   * chunk from the file reader (chunk-buffers.ts) travels whole, without a copy, and its memory
   * comes back for the next read. */
  match(groupId: number, chunk: Buffer, arrival: number, state?: MatchState): Promise<ChunkResult> {
    const g = this.group(groupId);
    let ab: ArrayBuffer;
    let byteOffset = chunk.byteOffset;
    const giveBack = isChunkBuffer(chunk.buffer);
    const whole = chunk.buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    if (giveBack || whole) ab = chunk.buffer as ArrayBuffer;
    else {
      // a slice of Node's shared pool (or of a bigger buffer): transferring would take it all
      ab = new ArrayBuffer(chunk.byteLength);
      new Uint8Array(ab).set(chunk);
      byteOffset = 0;
    }
    const task: MatchTask = {
      version: this.version, groupId, filters: g.plans, chunk: ab, byteOffset,
      byteLength: chunk.byteLength, arrival, state, maxLineLength: this.maxLineLength, giveBack, deferMerge: g.deferMerge,
    };
    return (this.piscina.run(task, { transferList: [ab] }) as Promise<WireResult>).then((w) => {
      if (w.chunk) recycleChunkBuffer(w.chunk);
      return fromWire(w);
    });
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
