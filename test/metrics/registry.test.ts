// The registry's own metrics beside logban's: the process and Node.js ones Prometheus users
// expect, with the event loop's lag sampled every 100 ms rather than every 10 ms.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { Metrics } from '../../src/metrics/registry.js';

t.test('default metrics are there, and the event-loop lag is measured', async (t) => {
  const m = new Metrics();
  // a stall the sampler must see: 150 ms of busy loop, then time for a few samples
  const until = Date.now() + 150;
  while (Date.now() < until) { /* block the loop */ }
  await sleep(350);
  const text = await m.registry.metrics();
  t.match(text, /^process_cpu_seconds_total /m);
  t.match(text, /^process_resident_memory_bytes /m);
  const max = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  t.ok(max, 'nodejs_eventloop_lag_max_seconds exported');
  t.ok(Number(max![1]) >= 0.04, `the 150 ms stall shows in the lag (max ${max![1]} s)`);
  t.match(text, /^# TYPE logban_lines_total counter$/m);
});
