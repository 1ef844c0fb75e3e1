import t from 'tap';
import { appendFileSync, copyFileSync, renameSync, truncateSync, writeFileSync, openSync, writeSync, closeSync, promises, statSync } from 'node:fs';
import path from 'node:path';
import { FileTailer, type FileTailerOptions } from '../../src/sources/file-tailer.js';
import { LineCollector, sleep, tempDir, waitFor } from './collect.js';

/** What these helpers need from a tap test. */
interface TestLike {
  teardown(fn: () => unknown): void;
  error(e: unknown): unknown;
}

function tailer(t: TestLike, c: LineCollector, opts: Partial<FileTailerOptions> & { logpaths: string[] }): {
  tail: FileTailer; warnings: string[];
} {
  const warnings: string[] = [];
  const tail = new FileTailer({
    start: 'end', follow: true, pollIntervalMs: 50, rescanIntervalMs: 100, rotateGraceMs: 500,
    onChunk: c.onChunk, onWarning: (m) => warnings.push(m), onError: (e) => t.error(e),
    ...opts,
  });
  t.teardown(() => tail.stop());
  return { tail, warnings };
}

/** A fresh log file `name` holding `content`, and a started tailer following it. */
async function tailedFile(t: TestLike, name: string, content: string, opts: Omit<Partial<FileTailerOptions>, 'logpaths'> = {}): Promise<{
  f: string; c: LineCollector; tail: FileTailer; warnings: string[];
}> {
  const f = path.join(tempDir(t, 'tail'), name);
  writeFileSync(f, content);
  const c = new LineCollector();
  const { tail, warnings } = tailer(t, c, { logpaths: [f], ...opts });
  await tail.start();
  return { f, c, tail, warnings };
}

t.test('starts at the end of an existing file and hands on appended lines', async (t) => {
  const { f, c, tail } = await tailedFile(t, 'a.log', 'old 1\nold 2\n');
  appendFileSync(f, 'new 1\nnew 2\n');
  await waitFor(() => c.lines.length >= 2);
  appendFileSync(f, 'new 3\n');
  await waitFor(() => c.lines.length >= 3);
  await sleep(100);
  t.same(c.lines, ['new 1', 'new 2', 'new 3']);
  t.equal(c.unaligned, 0, 'every chunk ends with a newline');
  t.same(c.bySource.get(f), c.lines, 'chunks carry the file path as source');
  const pos = tail.positions();
  t.equal(pos.length, 1);
  t.equal(pos[0]!.offset, 'old 1\nold 2\nnew 1\nnew 2\nnew 3\n'.length, 'position is after the last line');
});

t.test('starting at the end of a file whose last line is incomplete skips that line', async (t) => {
  const { f, c, tail } = await tailedFile(t, 'a.log', 'old 1\nhalf a li');
  appendFileSync(f, 'ne\nnew 1\n');
  await waitFor(() => c.lines.length >= 1);
  await sleep(100);
  t.same(c.lines, ['new 1'], 'the tail of a line is never taken for a whole line');
});

t.test('a partial last line waits for its newline', async (t) => {
  const { f, c, tail } = await tailedFile(t, 'a.log', '');
  appendFileSync(f, 'complete\nhalf of a ');
  await waitFor(() => c.lines.length >= 1);
  await sleep(200);
  t.same(c.lines, ['complete'], 'the partial line is held back');
  t.equal(tail.positions()[0]!.offset, 'complete\n'.length, 'position excludes the partial line');
  appendFileSync(f, 'line\n');
  await waitFor(() => c.lines.length >= 2);
  t.same(c.lines, ['complete', 'half of a line']);
  t.equal(c.unaligned, 0);
});

t.test('a missing file is waited for, with a warning, and read from its start', async (t) => {
  const dir = tempDir(t, 'tail');
  const f = path.join(dir, 'later.log');
  const c = new LineCollector();
  const { tail, warnings } = tailer(t, c, { logpaths: [f] });
  await tail.start();
  t.match(warnings.join('\n'), /later\.log does not exist yet; waiting/);
  await sleep(100);
  writeFileSync(f, 'first\nsecond\n');
  await waitFor(() => c.lines.length >= 2);
  t.same(c.lines, ['first', 'second']);
});

t.test('a glob picks up a file created after start, from its start', async (t) => {
  const dir = tempDir(t, 'tail');
  writeFileSync(path.join(dir, 'a-access.log'), 'a old\n');
  writeFileSync(path.join(dir, 'other.txt'), '');
  const c = new LineCollector();
  const { tail } = tailer(t, c, { logpaths: [path.join(dir, '*access.log')] });
  await tail.start();
  t.same(tail.paths(), [path.join(dir, 'a-access.log')]);
  writeFileSync(path.join(dir, 'b-access.log'), 'b 1\nb 2\n');
  appendFileSync(path.join(dir, 'other.txt'), 'not followed\n');
  appendFileSync(path.join(dir, 'a-access.log'), 'a new\n');
  await waitFor(() => c.lines.length >= 3);
  await sleep(150);
  t.same(c.bySource.get(path.join(dir, 'b-access.log')), ['b 1', 'b 2']);
  t.same(c.bySource.get(path.join(dir, 'a-access.log')), ['a new']);
  t.equal(c.lines.length, 3, 'files outside the glob are not read');
});

t.test('rename rotation: the old file is read to its end, then the new one from its start', async (t) => {
  const { f, c, tail } = await tailedFile(t, 'app.log', '');
  appendFileSync(f, 'old 1\nold 2\n');
  await waitFor(() => c.lines.length >= 2);
  // The writer keeps its descriptor on the old inode after the rename, as nginx does until USR1.
  const writer = openSync(f, 'a');
  renameSync(f, `${f}.1`);
  writeFileSync(f, 'new 1\n');
  writeSync(writer, 'old 3 written after the rename\n');
  await sleep(120);
  writeSync(writer, 'old 4 written later still\n');
  closeSync(writer);
  appendFileSync(f, 'new 2\n');
  await waitFor(() => c.lines.length >= 6, 5000, 'all six lines');
  await sleep(200);
  const old = c.lines.filter((l) => l.startsWith('old'));
  const fresh = c.lines.filter((l) => l.startsWith('new'));
  t.same(old, ['old 1', 'old 2', 'old 3 written after the rename', 'old 4 written later still']);
  t.same(fresh, ['new 1', 'new 2']);
  t.equal(c.lines.length, 6, 'each line exactly once');
  t.equal(tail.stats().rotations, 1);
});

t.test('copytruncate: no line lost, none repeated', async (t) => {
  const { f, c, tail, warnings } = await tailedFile(t, 'app.log', '');
  appendFileSync(f, 'before 1\nbefore 2\nbefore 3\n');
  await waitFor(() => c.lines.length >= 3);
  copyFileSync(f, `${f}.1`);
  truncateSync(f, 0);
  // Refill past the old offset at once, so only the first-line check can notice.
  appendFileSync(f, 'after 1 is a longer line than before\nafter 2 is also long enough\n');
  await waitFor(() => c.lines.length >= 5, 5000, 'lines after the truncation');
  await sleep(200);
  t.same(c.lines, ['before 1', 'before 2', 'before 3', 'after 1 is a longer line than before', 'after 2 is also long enough']);
  t.equal(tail.stats().truncations, 1);
  t.match(warnings.join('\n'), /truncated/);
});

t.test('copytruncate seen as a shrink', async (t) => {
  const { f, c, tail } = await tailedFile(t, 'app.log', '');
  appendFileSync(f, 'before 1\nbefore 2\n');
  await waitFor(() => c.lines.length >= 2);
  truncateSync(f, 0);
  await sleep(150);
  appendFileSync(f, 'after 1\n');
  await waitFor(() => c.lines.length >= 3);
  await sleep(100);
  t.same(c.lines, ['before 1', 'before 2', 'after 1']);
});

t.test('restart with a saved position: no line twice, none skipped', async (t) => {
  const dir = tempDir(t, 'tail');
  const f = path.join(dir, 'app.log');
  writeFileSync(f, 'seen before logban ever ran\n');
  const c1 = new LineCollector();
  const first = tailer(t, c1, { logpaths: [f] }).tail;
  await first.start();
  appendFileSync(f, 'a\nb\n');
  await waitFor(() => c1.lines.length >= 2);
  await sleep(50);
  const saved = first.positions();
  await first.stop();
  appendFileSync(f, 'c written while down\npartial');
  const c2 = new LineCollector();
  const second = tailer(t, c2, {
    logpaths: [f], positions: { position: (p) => saved.find((s) => s.path === p) },
  }).tail;
  await second.start();
  await waitFor(() => c2.lines.length >= 1);
  appendFileSync(f, ' line\nd\n');
  await waitFor(() => c2.lines.length >= 3);
  await sleep(100);
  t.same(c1.lines, ['a', 'b']);
  t.same(c2.lines, ['c written while down', 'partial line', 'd']);
});

t.test('restart after the file was rotated while down: the new file is read from its start', async (t) => {
  const dir = tempDir(t, 'tail');
  const f = path.join(dir, 'app.log');
  writeFileSync(f, 'x 1\nx 2\n');
  const saved = { path: f, dev: 0, ino: 0, offset: 8, firstLineHash: '' };
  const c = new LineCollector();
  const { tail } = tailer(t, c, { logpaths: [f], positions: { position: () => saved } });
  await tail.start();
  await waitFor(() => c.lines.length >= 2);
  t.same(c.lines, ['x 1', 'x 2'], 'another inode than the saved one: all of it is new');
});

t.test('replay reads every file from the first byte and hands on an unterminated last line', async (t) => {
  const dir = tempDir(t, 'tail');
  writeFileSync(path.join(dir, 'one.log'), 'l1\nl2\nno newline at the end');
  writeFileSync(path.join(dir, 'two.log'), 'm1\n');
  const c = new LineCollector();
  const { tail, warnings } = tailer(t, c, {
    logpaths: [path.join(dir, '*.log'), path.join(dir, 'absent.log')], start: 'start', follow: false,
  });
  await tail.start();
  t.same(c.bySource.get(path.join(dir, 'one.log')), ['l1', 'l2', 'no newline at the end']);
  t.same(c.bySource.get(path.join(dir, 'two.log')), ['m1']);
  t.match(warnings.join('\n'), /absent\.log does not exist/);
});

t.test('reads in large blocks and keeps lines whole across block boundaries', async (t) => {
  const lines = Array.from({ length: 20000 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}`);
  const { c, tail } = await tailedFile(t, 'big.log', lines.join('\n') + '\n', { start: 'start', follow: false, maxChunkBytes: 64 * 1024 });
  t.equal(c.lines.length, lines.length);
  t.ok(c.lines.every((l, i) => l === lines[i]), 'every line intact and in order');
  t.ok(c.chunks.length > 10 && c.chunks.length < 40, `read in blocks (${c.chunks.length} chunks)`);
  t.equal(c.unaligned, 0);
  t.equal(c.chunks.at(-1)!.endOffset, lines.join('\n').length + 1);
});

t.test('a huge line without newline is cut, counted, and its rest skipped', async (t) => {
  const { f, c, tail } = await tailedFile(t, 'huge.log', '', { maxChunkBytes: 1024, maxLineBytes: 4096 });
  const fd = openSync(f, 'a');
  writeSync(fd, 'before\n');
  // Write the monster in pieces so the tailer sees it grow without a newline.
  for (let i = 0; i < 20; i++) {
    writeSync(fd, 'A'.repeat(1000));
    if (i % 5 === 0) await sleep(30);
  }
  writeSync(fd, '192.0.2.1 tail that must not look like a line\nafter\n');
  closeSync(fd);
  await waitFor(() => c.lines.includes('after'), 5000, 'the line after the monster');
  t.equal(tail.stats().cutLines, 1);
  t.equal(c.lines[0], 'before');
  t.ok(c.lines[1]!.startsWith('AAAA') && c.lines[1]!.length <= 4096 + 1024, 'cut head of the long line');
  t.same(c.lines.slice(2), ['after'], 'the rest of the long line is not handed on');
  t.equal(c.unaligned, 0);
});

t.test('a rotation between looking at the path and opening it: the new file is read once', async (t) => {
  const { f, c } = await tailedFile(t, 'app.log', '', { pollIntervalMs: 50 });
  appendFileSync(f, 'a 1\n');
  await waitFor(() => c.lines.length >= 1);
  // Two rotations in a row while the tailer is not scheduled (a → .1 with b new, b → .2 with c
  // new), and its stat() of the path reports b, which by then is gone: inotify pins c, and the
  // tailer, opening the path for b, gets c too. c must still be read exactly once.
  const realStat = promises.stat;
  let armed = true;
  const statHook = async (p: string) => {
    if (!armed || p !== f) return realStat(p);
    armed = false;
    renameSync(f, `${f}.1`);
    writeFileSync(f, 'b 1\n');
    const seen = statSync(f);
    renameSync(f, `${f}.2`);
    writeFileSync(f, 'c 1\nc 2\n');
    await sleep(100); // the inotify events arrive; both pin what is at the path now: c
    return seen;
  };
  (promises as { stat: unknown }).stat = statHook;
  t.teardown(() => { (promises as { stat: unknown }).stat = realStat; });
  await waitFor(() => c.lines.includes('c 2') && c.lines.includes('b 1'), 5000, 'the lines of b and c');
  await sleep(300);
  t.notOk(armed, 'the race was staged');
  t.same(c.lines.filter((l) => l.startsWith('c')), ['c 1', 'c 2'], 'c read once');
  t.same(c.lines.filter((l) => l.startsWith('b')), ['b 1'], 'b read once');
});

t.test('a rotated file first seen empty, read, then retired, is not read again when a later rotation looks for skipped files', async (t) => {
  // Two rotations within one clock tick (A -> .1, P created empty and at once -> .2, N new):
  // P and N share a birth time. The tailer finds P among the skipped files while it is still
  // empty, reads what the writer then appends to it, and retires it. At the next rotation it
  // looks again for files born between N and the newest one: P, born "with" N, must be known
  // as read (its first line was learnt only after it was opened).
  let staged = false;
  for (let attempt = 1; attempt <= 20 && !staged; attempt++) {
    await t.test(`attempt ${attempt}`, async (t) => {
      const { f, c, tail } = await tailedFile(t, 'app.log', '', { pollIntervalMs: 50, rotateGraceMs: 100 });
      appendFileSync(f, 'a 1\n');
      await waitFor(() => c.lines.includes('a 1'));
      renameSync(f, `${f}.1`);
      writeFileSync(f, '');
      renameSync(f, `${f}.2`);
      writeFileSync(f, 'n 1\n');
      if (statSync(`${f}.2`).birthtimeMs !== statSync(f).birthtimeMs) return; // a tick between P and N: again
      await waitFor(() => c.lines.includes('n 1'), 5000, 'the line of N');
      if (tail.stats().recovered === 0) return; // P was not found among the skipped files: again
      staged = true;
      appendFileSync(`${f}.2`, 'p 1\np 2\n'); // the writer still has P open
      await waitFor(() => c.lines.includes('p 2'), 5000, 'the lines of P');
      await sleep(400); // P stops growing and is retired
      renameSync(f, `${f}.3`);
      writeFileSync(f, 'm 1\n');
      await waitFor(() => c.lines.includes('m 1'), 5000, 'the line of M');
      await sleep(300);
      t.same(c.lines.filter((l) => l.startsWith('p')), ['p 1', 'p 2'], 'P read once');
      t.same(c.lines.filter((l) => l.startsWith('n')), ['n 1'], 'N read once');
    });
  }
  t.ok(staged, 'two files with one birth time, the first found empty, were staged');
});
