import fs from 'node:fs';
import RE2 from 're2';
import { loadConfig } from '/work/main/dist/src/config/load.js';
import { compileFilter } from '/work/main/dist/src/match/compile.js';
const cfg = loadConfig('/tmp/lbprof/in/a/config');
const f = compileFilter(cfg.jails[0].filter);
const r = f.failregex[0];
console.log(r.batch.source.length, r.batch.source.slice(0, 300));
const all = fs.readFileSync('/tmp/lbprof/in/a/access.log', 'latin1').split('\n').filter(l => l.includes('POST /xmlrpc')).slice(0, 100000);
// cut date like the matcher does (approx): remove [..] 
const lines = all.map(l => l.replace(/\[[^\]]*\] /, ''));
const joined = lines.join('\n');
for (const [name, re] of [['batch', r.batch], ['trivial', new RE2('(?m)^(\\S+) ', 'g')], ['host-only', new RE2('(?m)^(\\d+\\.\\d+\\.\\d+\\.\\d+) -[^\\n]*"POST /xmlrpc', 'g')]]) {
  for (let k = 0; k < 2; k++) {
    let t = process.hrtime.bigint();
    re.lastIndex = 0;
    const out = joined.replace(re, '\u0000$1\u0002');
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (k) console.log(name, ms.toFixed(1), 'ms per 100k', out.length);
  }
}
