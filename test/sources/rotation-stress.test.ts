// 1,000 rename rotations while a separate writer process keeps writing: count lost and
// repeated lines. The writer also appends to each old inode after renaming it away.
import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { FileTailer } from '../../src/sources/file-tailer.js';
import { fixtures } from '../helpers/paths.js';
import { tempDir, waitFor } from './collect.js';

interface Outcome { written: number; seen: number; unique: number; ms: number; outOfOrder: number }

async function run(
  t: { teardown(fn: () => unknown): void }, rotations: number, pauseMs: number, naming: 'dateext' | 'overwrite',
): Promise<Outcome> {
  const dir = tempDir(t, 'rot');
  const f = path.join(dir, 'app.log');
  writeFileSync(f, '');
  const seen = new Set<number>();
  let count = 0;
  let outOfOrder = 0;
  const lastPerFile = new Map<string, number>();
  const tail = new FileTailer({
    logpaths: [f], start: 'end', follow: true, pollIntervalMs: 100, rescanIntervalMs: 1000, rotateGraceMs: 300,
    onChunk: (c) => {
      let prevEnd = -1;
      for (let i = c.buf.indexOf(0x0a); i >= 0; prevEnd = i, i = c.buf.indexOf(0x0a, i + 1)) {
        const l = c.buf.toString('latin1', prevEnd + 1, i);
        const n = Number(/^seq=(\d+) /.exec(l)?.[1] ?? NaN);
        count++;
        seen.add(n);
        // within one chunk lines come from one inode and must be increasing
        const last = lastPerFile.get('chunk') ?? -1;
        if (prevEnd >= 0 && n < last) outOfOrder++;
        lastPerFile.set('chunk', n);
      }
    },
    onError: (e) => { throw e; },
  });
  await tail.start();
  t.teardown(() => tail.stop());
  const t0 = Date.now();
  const writer = spawn(process.execPath, [path.join(fixtures, 'sources', 'rotating-writer.mjs'), f, String(rotations), '5', String(pauseMs), naming], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  writer.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise<void>((res, rej) => writer.on('exit', (code) => (code === 0 ? res() : rej(new Error(`writer exited ${code}`)))));
  const written = Number(out.trim());
  // wait until everything arrived, or nothing more arrives for a second
  let last = -1;
  let lastChange = Date.now();
  await waitFor(() => {
    if (seen.size !== last) {
      last = seen.size;
      lastChange = Date.now();
    }
    return seen.size >= written || Date.now() - lastChange > 1000;
  }, 30000, 'lines to stop arriving');
  const ms = Date.now() - t0;
  await tail.stop();
  return { written, seen: count, unique: seen.size, ms, outOfOrder };
}

const report = (label: string, r: Outcome) =>
  `${label}: written ${r.written}, lost ${r.written - r.unique}, repeated ${r.seen - r.unique}, ${r.ms} ms`;

t.test('1,000 rename rotations (dateext names), 3 ms apart, writer appends to each old inode', async (t) => {
  const r = await run(t, 1000, 3, 'dateext');
  t.comment(report('dateext, 3 ms apart', r));
  t.equal(r.written, 1000 * 6 + 5);
  t.equal(r.unique, r.written, 'no line lost');
  t.equal(r.seen, r.unique, 'no line read twice');
  t.equal(r.outOfOrder, 0, 'lines of one file stay in order');
});

t.test('1,000 rotations back to back: files renamed away before the tailer looked are found', async (t) => {
  const r = await run(t, 1000, 0, 'dateext');
  t.comment(report('dateext, back to back', r));
  t.equal(r.unique, r.written, 'no line lost');
  t.equal(r.seen, r.unique, 'no line read twice');
});

t.test('1,000 rotations onto one name (FILE.1 replaced each time), 3 ms apart', async (t) => {
  const r = await run(t, 1000, 3, 'overwrite');
  // A rotated file replaced before the tailer ever opened it is gone from the filesystem, so
  // losses here measure how often this process was not scheduled within two rotations.
  t.comment(report('overwrite .1, 3 ms apart', r));
  t.equal(r.seen, r.unique, 'no line read twice');
  t.equal(r.outOfOrder, 0, 'lines of one file stay in order');
});
