// The matcher's worker threads. Starting one costs 40-50 ms (a Node isolate that loads re2 and
// the matcher's modules), which `logban replay` paid inside its own timing and the daemon at
// every start. The CLI starts them first (prestartWorkerThreads), so they load while the rest
// of the CLI and the configuration do (~90 ms of imports here); MatcherPool then takes them
// over when their number is the one the configuration asks for.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

// a smaller young generation than V8's default: a worker's garbage is short-lived (one batch of
// lines), and the default let each worker's heap grow by tens of MB (measured: 1M failing
// addresses, peak RSS about 430 -> 350 MB, CPU time unchanged)
const WORKER_YOUNG_GENERATION_MB = 12;

let early: Piscina | null = null;

/** Threads for a `threads` setting: 0 or less means one per core. */
export function workerThreadCount(threads?: number): number {
  return threads && threads > 0 ? threads : availableParallelism();
}

function startWorkerThreads(threads: number): Piscina {
  return new Piscina({
    // resolves next to this file: dist/src/match/worker.js at run time
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 2 ** 31 - 1,
    // piscina's wait and run time histograms: nothing reads them, and they were a share of the
    // main thread's ~0.5 ms per task
    recordTiming: false,
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
}

/** Start one worker per core now, for a MatcherPool created later in this process. */
export function prestartWorkerThreads(): void {
  early ??= startWorkerThreads(workerThreadCount());
}

/** The prestarted workers if there are `threads` of them, else new ones (the others are
 * stopped). */
export function takeWorkerThreads(threads: number): Piscina {
  const p = early;
  early = null;
  if (p && p.maxThreads === threads) return p;
  void p?.destroy();
  return startWorkerThreads(threads);
}

/** Stop prestarted workers nobody took (the command failed first): they would keep the
 * process alive. */
export async function releaseWorkerThreads(): Promise<void> {
  const p = early;
  early = null;
  await p?.destroy();
}
