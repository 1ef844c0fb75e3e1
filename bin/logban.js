#!/usr/bin/env -S node --max-semi-space-size=2
// The main thread runs with a 2 MB young generation instead of V8's 16 MB: its garbage is
// short-lived per chunk, and the larger one was ~50 MB of a daemon's RSS (1M tracked addresses:
// peak RSS median 299 -> 246 MB over 9 runs, replay no slower). `npm start` and the benchmark
// pass the same flag; `node bin/logban.js` without it works too, with the larger heap.
// Entry point; the CLI lives in src/cli/main.ts (compiled to dist/ by `npm install`).
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
