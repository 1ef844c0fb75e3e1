// Summarises V8 .cpuprofile files (`node --cpu-prof` writes one per thread, workers included):
// total sampled time and the functions with the most self time, per file.
//
//   node dist/bench/profile/cpuprofile-top.js FILE.cpuprofile... [--top 25]
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function summarise(file: string, top: number): void {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
    const dt = p.timeDeltas[i + 1] ?? 0;
    const f = n.callFrame;
    const name = f.functionName || '(anonymous)';
    if (name === '(idle)') idle += dt;
    total += dt;
    const key = `${name} ${f.url ? path.basename(f.url) + ':' + (f.lineNumber + 1) : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const ms = (us: number): string => (us / 1000).toFixed(0).padStart(7);
  process.stdout.write(`\n${path.basename(file)}: ${ms(total)} ms sampled, ${ms(idle)} ms idle\n`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${ms(v)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}\n`);
  }
}

const args = process.argv.slice(2);
const ti = args.indexOf('--top');
const top = ti >= 0 ? Number(args[ti + 1]) : 25;
for (const f of args.filter((a, i) => a.endsWith('.cpuprofile') && (ti < 0 || i !== ti + 1))) summarise(f, top);
