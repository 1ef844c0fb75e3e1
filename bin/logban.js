#!/usr/bin/env node
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
