import t from 'tap';
import { appendFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FollowedFile } from '../../src/sources/followed-file.js';
import { tempDir } from './collect.js';

/** Everything readAvailable hands on now, as lines. */
async function readLines(f: FollowedFile): Promise<string[]> {
  const out: string[] = [];
  await f.readAvailable(async (buf) => {
    out.push(...buf.toString('utf8').split('\n').slice(0, -1));
  }, 1 << 20, 2 << 20, () => false);
  return out;
}

t.test('a file found empty learns its first line from what it reads: a copytruncate and refill is seen', async (t) => {
  const file = path.join(tempDir(t, 'followed'), 'app.log');
  writeFileSync(file, '');
  const f = await FollowedFile.open(file);
  t.teardown(() => f.close());
  await f.startAt(0);
  // the tailer's check before a read, while the file is still empty
  t.equal(await f.checkRewritten(), false);
  appendFileSync(file, 'before 1\nbefore 2\nbefore 3\n');
  t.same(await readLines(f), ['before 1', 'before 2', 'before 3']);
  // copytruncate, then refilled past the old offset before the tailer looked again
  truncateSync(file, 0);
  appendFileSync(file, 'after 1 is a longer line than before\nafter 2 is also long enough\n');
  t.equal(await f.checkRewritten(), true, 'the first line changed: read again from the start');
  t.same(await readLines(f), ['after 1 is a longer line than before', 'after 2 is also long enough'], 'no tail of a line taken for a line');
});

t.test('the first line learnt from reads waits for its newline, across reads', async (t) => {
  const file = path.join(tempDir(t, 'followed'), 'app.log');
  writeFileSync(file, '');
  const f = await FollowedFile.open(file);
  t.teardown(() => f.close());
  await f.startAt(0);
  appendFileSync(file, 'first li');
  t.same(await readLines(f), []);
  t.equal(f.firstLine.hash, '', 'no newline yet: not known');
  appendFileSync(file, 'ne\nsecond\n');
  t.same(await readLines(f), ['first line', 'second']);
  t.equal(f.firstLine.len, 'first line\n'.length);
  t.equal(await f.checkRewritten(), false, 'the same file');
});
