// Framing of the control protocol: lines reassembled across chunks, byte-exact UTF-8, and a
// hard limit on what a peer can make us buffer.

import t from 'tap';
import { LineSplitter } from '../../src/control/line-splitter.js';

t.test('lines split across chunks are reassembled, several per chunk are separated', async (t) => {
  const s = new LineSplitter(1024);
  t.same(s.push(Buffer.from('{"id":1,')), []);
  t.same(s.push(Buffer.from('"cmd":"ping"}\n{"id":2}\n{"id"')), ['{"id":1,"cmd":"ping"}', '{"id":2}']);
  t.equal(s.buffered, 5);
  t.same(s.push(Buffer.from(':3}\n')), ['{"id":3}']);
  t.equal(s.buffered, 0);
});

t.test('a multi-byte character cut between chunks decodes intact', async (t) => {
  const s = new LineSplitter(1024);
  const bytes = Buffer.from('jail "café"\n', 'utf8');
  const cut = bytes.indexOf(0xc3) + 1; // inside the two-byte é
  t.same([...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))], ['jail "café"']);
});

t.test('more than the limit without a newline throws, whether in one chunk or several', async (t) => {
  t.throws(() => new LineSplitter(8).push(Buffer.from('123456789')), { message: 'line longer than 8 bytes' });
  const s = new LineSplitter(8);
  s.push(Buffer.from('12345'));
  t.throws(() => s.push(Buffer.from('6789')), { message: 'line longer than 8 bytes' });
  const ok = new LineSplitter(8);
  t.same(ok.push(Buffer.from('12345678\n')), ['12345678'], 'exactly the limit is accepted');
});
