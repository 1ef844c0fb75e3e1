#!/usr/bin/env -S node --max-semi-space-size=2 --v8-pool-size=1
// The main thread runs with a 2 MB young generation instead of V8's 16 MB: its garbage is
// short-lived per chunk, and the larger one was ~50 MB of a daemon's RSS (1M tracked addresses:
// peak RSS median 299 -> 246 MB over 9 runs, replay no slower).
// One V8 background thread instead of four: the matcher pool already runs a worker per core,
// and V8's helpers (parallel scavenges, concurrent marking and compiles of three isolates)
// only competed with it for the same cores (replay, interleaved: a -6%, b -2%, the 1M
// addresses one -5% with no more RSS; bench/profile/README.md).
// `npm start` and the benchmark pass the same flags; `node bin/logban.js` without them works
// too, with the larger heap and V8's default helpers.
// Entry point; the CLI lives in src/cli/main.ts (compiled to dist/ by `npm install`).
import { setFlagsFromString } from 'node:v8';

// V8 optimises a function once it has run about 66 KB of bytecode. On two cores those
// optimising compiles ran beside the matching (200 ms of compile CPU in a 0.2 s replay of the
// quiet scenario, some thrown away by deopts and redone); eight times that budget leaves the
// code a little longer on the baseline tier and optimises what is really hot. Measured with
// bench/profile/measure.js: replay a -8%, b -2%, c -18% (bench/profile/README.md).
setFlagsFromString('--interrupt-budget=540672');
import('../dist/src/cli/main.js')
  .then((m) => m.main(process.argv))
  .catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
      console.error('logban: not built yet; run `npm install` (or `npm run build`) first');
    } else {
      console.error(err);
    }
    process.exit(1);
  });
