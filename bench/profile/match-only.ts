// The matcher alone, on one thread: reads a scenario's log in line-aligned chunks and runs the
// jails' compiled filters over them (CompiledGroup.process, what a pool worker does), without
// workers, transfers or the ban table. Prints CPU time and lines per CPU-second; run it under
// `node --cpu-prof` to see where the matcher's own time goes.
//
//   node dist/bench/profile/match-only.js CONFIG_DIR [--chunk-mib 4] [--repeat 3]
import fs from 'node:fs';
import { loadConfig } from '../../src/config/load.js';
import { compileFilter } from '../../src/match/compile.js';
import { CompiledGroup, DEFAULT_MAX_LINE_LENGTH } from '../../src/match/chunk.js';

function chunksOf(file: string, size: number): Buffer[] {
  const all = fs.readFileSync(file);
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < all.length) {
    let end = Math.min(all.length, pos + size);
    if (end < all.length) end = all.lastIndexOf(10, end - 1) + 1;
    out.push(Buffer.from(all.subarray(pos, end)));
    pos = end;
  }
  return out;
}

function main(argv: string[]): void {
  const dir = argv[0];
  if (!dir) throw new Error('usage: match-only.js CONFIG_DIR [--chunk-mib N] [--repeat N]');
  const opt = (n: string): string | undefined => (argv.indexOf(n) >= 0 ? argv[argv.indexOf(n) + 1] : undefined);
  const chunkBytes = Number(opt('--chunk-mib') ?? 4) * 1024 * 1024;
  const repeat = Number(opt('--repeat') ?? 3);
  const cfg = loadConfig(dir);
  const file = cfg.jails[0]!.logpath[0]!;
  const filters = cfg.jails.filter((j) => j.logpath[0] === file).map((j) => compileFilter(j.filter));
  const chunks = chunksOf(file, chunkBytes);
  for (let r = 0; r < repeat; r++) {
    const group = new CompiledGroup(filters);
    const c0 = process.cpuUsage();
    let lines = 0;
    let events = 0;
    const matches = new Array<number>(filters.length).fill(0);
    for (const c of chunks) {
      const res = group.process(c, 0, undefined, { maxLineLength: DEFAULT_MAX_LINE_LENGTH });
      lines += res.lines;
      events += res.events.length;
      res.matchesPerJail.forEach((m, i) => (matches[i] += m));
    }
    const c1 = process.cpuUsage(c0);
    const cpu = (c1.user + c1.system) / 1e6;
    process.stdout.write(JSON.stringify({ lines, events, matches, cpu_s: +cpu.toFixed(3), lines_per_cpu_s: Math.round(lines / cpu) }) + '\n');
  }
}

main(process.argv.slice(2));
