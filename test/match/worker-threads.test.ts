// Worker threads started before the configuration is read are the ones the pool uses.
import t from 'tap';
import { availableParallelism } from 'node:os';
import { prestartWorkerThreads, releaseWorkerThreads, takeWorkerThreads, workerThreadCount } from '../../src/match/worker-threads.js';

t.test('threads setting: 0 means one per core', async (t) => {
  t.equal(workerThreadCount(0), availableParallelism());
  t.equal(workerThreadCount(undefined), availableParallelism());
  t.equal(workerThreadCount(3), 3);
});

t.test('prestarted workers are taken over when their number matches', async (t) => {
  prestartWorkerThreads();
  const first = takeWorkerThreads(availableParallelism());
  t.teardown(() => first.destroy());
  t.equal(first.maxThreads, availableParallelism());
  // they are already running: a task needs no start-up
  t.ok(first.threads.length >= 1, 'threads running before any task');
  const again = takeWorkerThreads(availableParallelism());
  t.teardown(() => again.destroy());
  t.not(again, first, 'taken once: the next pool gets its own');
});

t.test('another thread count: the prestarted ones are stopped, new ones started', async (t) => {
  prestartWorkerThreads();
  const n = availableParallelism() + 1;
  const p = takeWorkerThreads(n);
  t.teardown(() => p.destroy());
  t.equal(p.maxThreads, n);
});

t.test('release stops workers nobody took, and is harmless without any', async (t) => {
  prestartWorkerThreads();
  await releaseWorkerThreads();
  await releaseWorkerThreads();
  t.pass('no worker left to keep the process alive (tap would time out otherwise)');
});
