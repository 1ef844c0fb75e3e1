// Carries one source's chunks through the matcher pool and into the ban table. Several chunks
// may be matched at once on different workers (that is where the cores go), but their results
// are applied strictly in file order, so failure windows see lines in the order they were
// written and a saved position never runs ahead of a line whose failure was not yet counted.
import type { Chunk, MatchEvent } from '../types.js';

/** What the pipeline needs from the matcher (MatcherPool satisfies it). */
export interface ChunkMatcher<S> {
  match(groupId: number, chunk: Buffer, arrival: number, state?: S): Promise<ChunkOutcome<S>>;
}

export interface ChunkOutcome<S> {
  lines: number;
  events: MatchEvent[];
  /** per jail of the group: lines that matched a failregex and no ignoreregex */
  matchesPerJail: number[];
  badLines: number;
  cutLines: number;
  /** multi-line filters: state to pass with the next chunk of this source */
  state?: S;
}

/** Finishes a chunk's outcome in file order before it is applied (connection caches kept on
 * the main thread: MatcherPool.merger). */
export type OutcomeCompleter<S> = (out: ChunkOutcome<S>) => void;

/** Receives results in order. */
export interface PipelineSink {
  /** called once per chunk with its matches, in file order */
  apply(jails: readonly string[], outcome: ChunkOutcome<unknown>, chunk: Chunk): void;
}

interface Pending<S> {
  chunk: Chunk;
  out?: ChunkOutcome<S>;
  done: boolean;
}

export class SourcePipeline<S> {
  private readonly queue: Array<Pending<S>> = [];
  private waiters: Array<() => void> = [];
  private state: S | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly matcher: ChunkMatcher<S>,
    private readonly groupId: number,
    /** jail names in the order of the group's filters */
    readonly jails: readonly string[],
    private readonly sink: PipelineSink,
    /** chunks matched at once; stateful (multi-line) groups must use 1 */
    private readonly maxInFlight: number,
    private readonly complete?: OutcomeCompleter<S>,
  ) {}

  /** Hand over a chunk. Resolves when the source may read on (backpressure). */
  async push(chunk: Chunk): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.maxInFlight <= 1) {
      const out = await this.matcher.match(this.groupId, chunk.buf, chunk.arrival, this.state);
      this.state = out.state;
      this.complete?.(out);
      this.sink.apply(this.jails, out, chunk);
      return;
    }
    const p: Pending<S> = { chunk, done: false };
    this.queue.push(p);
    this.matcher.match(this.groupId, chunk.buf, chunk.arrival).then(
      (out) => { p.out = out; p.done = true; this.pump(); },
      (err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        p.done = true;
        this.pump();
      },
    );
    while (this.queue.length >= this.maxInFlight) await this.next();
  }

  /** Wait for every chunk handed over so far to be applied. */
  async drain(): Promise<void> {
    while (this.queue.length > 0) await this.next();
    if (this.failure) throw this.failure;
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Apply finished chunks from the head of the queue: results land in file order, each as
   * soon as it and everything before it is matched. */
  private pump(): void {
    while (this.queue.length > 0 && this.queue[0].done) {
      const p = this.queue.shift() as Pending<S>;
      if (p.out) {
        this.complete?.(p.out);
        this.sink.apply(this.jails, p.out, p.chunk);
      }
    }
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
