import t from 'tap';
import { LiteralScanner, scanAddon, type ScanLiteral } from '../../src/match/scanner.js';
import { CompiledGroup } from '../../src/match/chunk.js';
import { compileFilter } from '../../src/match/compile.js';
import { filterDef } from './filter-def.js';

/** What the scanner reports walking forward line by line, as the chunk loop does: per line
 * holding a literal, the offset of its first one. */
function walk(lits: ScanLiteral[], text: string, density = 0, native = false, vectors: 0 | 1 | 2 = 2): { mode: string; at: number[] } {
  const buf = Buffer.from(text);
  const sc = new LiteralScanner(lits, { density, native, sample: buf, vectors });
  const c = sc.over(buf);
  const at: number[] = [];
  for (let p = c.at(0); p >= 0;) {
    at.push(p);
    const eol = buf.indexOf(10, p);
    if (eol < 0) break;
    p = c.at(eol + 1);
  }
  return { mode: sc.mode, at };
}

/** Per line, the byte offset of the first occurrence of any needle: what the scanner must find.
 * `ci` folds ASCII only, as RE2 does for the needles used with it here. */
function expected(text: string, needles: string[], ci: boolean): number[] {
  const hay = Buffer.from(ci ? text.replace(/[A-Z]/g, (c) => c.toLowerCase()) : text);
  const out: number[] = [];
  for (let start = 0; start < hay.length;) {
    let eol = hay.indexOf(10, start);
    if (eol < 0) eol = hay.length;
    let first = -1;
    for (const n of needles) {
      const p = hay.indexOf(ci ? n.toLowerCase() : n, start);
      if (p >= 0 && p < eol && (first < 0 || p < first)) first = p;
    }
    if (first >= 0) out.push(first);
    start = eol + 1;
  }
  return out;
}

const native = scanAddon() !== null;

const text = 'héllo wörld [Zeus]\n"POST /xmlrpc.php\nnothing here\nGET /.env 404 zeus\n.git/config and .env\n';

t.test('one or few literals: indexOf, byte offsets', async (t) => {
  const r = walk([{ text: '.env', caseInsensitive: false }, { text: '"POST /xmlrpc', caseInsensitive: false }], text);
  t.equal(r.mode, 'indexOf');
  t.same(r.at, expected(text, ['.env', '"POST /xmlrpc'], false));
});

t.test('many literals or case-insensitive ones: one RE2 pass, byte offsets past multi-byte text', async (t) => {
  const lits = ['.env', '.git/config', 'phpmyadmin/', 'wp-config.php.bak', '"POST /xmlrpc'].map((s) => ({ text: s, caseInsensitive: false }));
  const r = walk(lits, text);
  t.equal(r.mode, 're2');
  t.same(r.at, expected(text, lits.map((l) => l.text), false));
  const ci = walk([{ text: 'zeus', caseInsensitive: true }], text);
  t.equal(ci.mode, 're2');
  t.same(ci.at, expected(text, ['zeus'], true), 'Zeus and zeus both');
  t.same(walk([{ text: 'a.c', caseInsensitive: false }, { text: '(x', caseInsensitive: true }], 'abc a.c\n(X\n').at, [4, 8], 'metacharacters are literal');
});

t.test('literals on nearly every line: every line is looked at instead of one RE2 search per hit', async (t) => {
  const lits = ['a', 'b', 'c', 'd', 'e'].map((s) => ({ text: s, caseInsensitive: false }));
  const r = walk(lits, 'abc\nxyz\n', 0.9);
  t.equal(r.mode, 'every line');
  t.same(r.at, [0, 4], 'every line is a candidate');
  t.equal(walk(lits, 'abc\n', 0.01).mode, 're2', 'sparse: scanned');
});

t.test('a filter whose first literal is on every line is scanned for its rarest one, same verdicts', async (t) => {
  // " HTTP/1." is on every line; only ".cgi" decides
  const f = compileFilter(filterDef('^<HOST> -.*"GET /\\S*\\.(?:exe|cgi) HTTP/1\\.[01]"'));
  const lines: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const bad = i % 97 === 0;
    lines.push(`198.18.${(i >> 8) & 255}.${i & 255} - - [18/Nov/2026:11:01:40 +0000] "GET /${bad ? 'x.cgi' : 'index.html'} HTTP/1.1" 200 5`);
  }
  const buf = Buffer.from(lines.join('\n') + '\n');
  const res = new CompiledGroup([f]).process(buf, 0, undefined, { maxLineLength: 65536 });
  t.equal(res.lines, 5000);
  t.same(res.events.map((e) => e.host), lines.filter((_, i) => i % 97 === 0).map((l) => l.split(' ')[0]));
});

t.test('the native scanner finds what RE2 finds', { skip: native ? false : 'native scan addon not built' }, async (t) => {
  const lits = ['.env', '.git/config', 'phpmyadmin/', 'wp-config.php.bak', '"POST /xmlrpc'].map((s) => ({ text: s, caseInsensitive: false }));
  const r = walk(lits, text, 0, true);
  t.equal(r.mode, 'native');
  t.same(r.at, expected(text, lits.map((l) => l.text), false));
  t.same(r.at, walk(lits, text, 0, false).at, 'same as RE2');
  const ci = [{ text: 'zeu', caseInsensitive: true }, { text: '.GIT/', caseInsensitive: true }];
  t.equal(walk(ci, text, 0, true).mode, 'native');
  t.same(walk(ci, text, 0, true).at, expected(text, ['zeu', '.git/'], true), 'ASCII letters folded both ways');
  t.equal(walk([{ text: 'kelvin', caseInsensitive: true }, { text: 'x', caseInsensitive: false }], text, 0, true).mode, 're2',
    'k and s fold to non-ASCII letters in RE2: left to RE2');
  t.equal(walk([{ text: 'ä', caseInsensitive: true }, { text: 'x', caseInsensitive: false }], text, 0, true).mode, 're2', 'non-ASCII case folding: RE2');
  const one = walk([{ text: '.env', caseInsensitive: false }], text, 0, true);
  t.equal(one.mode, 'native', 'one literal: native too');
  t.same(one.at, expected(text, ['.env'], false));
  const dense = walk(lits, text, 0.9, true);
  t.equal(dense.mode, 'native', 'dense literals: still native (one call returns every hit)');
  t.same(dense.at, expected(text, lits.map((l) => l.text), false));
});

t.test('native scanner against RE2 on random logs: literals at block edges, in the tail, overlapping, repeated, many', { skip: native ? false : 'native scan addon not built' }, async (t) => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const alphabet = 'abcAB./"- \n\n0xyZ';
  const byKernel = new Map<string, number>();
  for (let round = 0; round < 600; round++) {
    const lits: ScanLiteral[] = [];
    // up to 7 literals mostly; now and then more than the bucket scan's 8 buckets hold one
    // each, or more than the 32 it takes at all
    const nl = round % 11 === 0 ? 9 + rnd(30) : 1 + rnd(7);
    const ci = rnd(3) === 0;
    // odd rounds: no one-byte literal, so the bucket scan applies
    const minLen = round % 2 ? 2 : 1;
    for (let k = 0; k < nl; k++) {
      let w = '';
      const len = minLen + rnd(round % 10 === 0 ? 40 : 6);
      for (let i = 0; i < len; i++) w += alphabet[rnd(alphabet.length - 2)]; // no newline in literals
      lits.push({ text: w, caseInsensitive: ci });
    }
    let body = '';
    const size = rnd(round % 7 === 0 ? 3000 : 200);
    while (body.length < size) body += rnd(8) === 0 ? lits[rnd(nl)].text : alphabet[rnd(alphabet.length)];
    const js = walk(lits, body, 0, false);
    for (const vectors of [2, 1, 0] as const) {
      const sc = new LiteralScanner(lits, { native: true, sample: Buffer.from(body), vectors });
      if (sc.mode !== 'native') continue;
      const nat = walk(lits, body, 0, true, vectors);
      byKernel.set(sc.kernel!, (byKernel.get(sc.kernel!) ?? 0) + 1);
      if (JSON.stringify(nat.at) !== JSON.stringify(js.at)) {
        t.same(nat.at, js.at, `round ${round}, ${sc.kernel}: ${JSON.stringify(lits)} in ${JSON.stringify(body)}`);
        return;
      }
    }
  }
  const kernels = scanAddon()!.vectors === 2 ? ['buckets', 'pairs-avx2', 'pairs-sse2', 'bytes'] : ['pairs-sse2', 'bytes'];
  for (const k of kernels) t.ok((byKernel.get(k) ?? 0) > 100, `${byKernel.get(k) ?? 0} random logs through the ${k} scan: the same lines, the same offsets as RE2`);
});

t.test('native bucket scan: a literal whose pair lies past where the vector loop stops is still found', { skip: native ? false : 'native scan addon not built' }, async (t) => {
  // the pair a literal is known by is its rarest adjacent bytes, here near its end: the
  // literal starts well before them, and near the chunk's end the vector loop stops first
  const lits: ScanLiteral[] = [{ text: 'aaaaaaaXY', caseInsensitive: false }, { text: 'bbbbbbbbbbbQZ', caseInsensitive: false }];
  let checked = 0;
  for (const size of [33, 34, 40, 47, 64, 65, 66, 97, 130]) {
    for (const lit of lits) {
      for (let q = 0; q + lit.text.length <= size; q++) {
        const body = '-'.repeat(q) + lit.text + '-'.repeat(size - q - lit.text.length);
        const sc = new LiteralScanner(lits, { native: true, sample: Buffer.from(body) });
        if (sc.kernel !== 'buckets') continue;
        const got = walk(lits, body, 0, true).at;
        if (JSON.stringify(got) !== JSON.stringify([q])) {
          t.same(got, [q], `${lit.text} at ${q} of ${size}`);
          return;
        }
        checked++;
      }
    }
  }
  t.ok(checked > 500 || scanAddon()!.vectors < 2, `${checked} placements found by the bucket scan`);
  // a pair is chosen among a literal's first 256 bytes (it doubles as the tail's anchors)
  const long: ScanLiteral[] = [{ text: 'a'.repeat(300) + 'QX', caseInsensitive: false }, { text: 'zz', caseInsensitive: false }];
  for (const at of [0, 17, 40]) {
    const body = '-'.repeat(at) + long[0].text + '-'.repeat(5) + '\nzz\n';
    t.same(walk(long, body, 0, true).at, [at, at + long[0].text.length + 6], `a 302-byte literal at ${at}, then a short one`);
  }
});

t.test('native line walk: line numbers, starts and ends of the lines holding a literal, all lines, long lines', { skip: native ? false : 'native scan addon not built' }, async (t) => {
  let seed = 777;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const lits: ScanLiteral[] = [{ text: 'xmlrpc', caseInsensitive: false }, { text: '.env', caseInsensitive: false }, { text: 'ZEu', caseInsensitive: true }];
  const words = ['GET /', 'xmlrpc', '.env', 'zEUS', 'a', 'bb', '\r', ' ', 'Zeu', 'a'.repeat(70)];
  // some rounds hold bytes the walk must report as not plain ASCII (UTF-8, NUL, a stray byte)
  const odd = ['é', '\u0000', '\u00ff', '\u007f'];
  const quiet = ['GET /', 'a', 'bb', ' ', 'c'.repeat(25), 'd'.repeat(40), 'e'.repeat(90)];
  for (let round = 0; round < 400; round++) {
    const lines: string[] = [];
    for (let i = rnd(30); i > 0; i--) {
      let l = '';
      for (let k = rnd(12); k > 0; k--) {
        if (round % 4 === 3 && rnd(20) === 0) l += odd[rnd(odd.length)];
        // some rounds are a quiet log: long lines, few literals (the walk counts whole blocks)
        else if (round % 4 === 1 && rnd(30) !== 0) l += quiet[rnd(quiet.length)];
        else l += words[rnd(words.length)];
      }
      lines.push(l);
    }
    const text = lines.join('\n') + (rnd(2) ? '\n' : '');
    const buf = round % 8 === 7 ? Buffer.from(text, 'latin1') : Buffer.from(text);
    const maxLen = 1 + rnd(round % 2 ? 200 : 40);
    // the AVX2 walk (which also says whether the bytes are plain ASCII) and the memchr one
    const vectors = round % 3 === 2 ? 1 : 2;
    const sc = new LiteralScanner(lits, { native: true, sample: buf, vectors });
    const got = Array.from(sc.walk(buf, maxLen)!);
    const plain = buf.every((b) => b !== 0 && b < 0x80);
    // the same walk in JavaScript, with the RE2 scan's idea of which lines hold a literal
    // the lines holding a literal, by their bytes (ASCII letters folded for 'zeu')
    const folded = Buffer.from(buf.map((b) => (b >= 65 && b <= 90 ? b + 32 : b)));
    const holds = (pos: number, eol: number): boolean => buf.subarray(pos, eol).includes('xmlrpc') ||
      buf.subarray(pos, eol).includes('.env') || folded.subarray(pos, eol).includes('zeu');
    const want = [0, 0, vectors === 2 && scanAddon()!.vectors >= 2 && plain ? 1 : 0];
    for (let pos = 0, no = 1; pos < buf.length; no++) {
      let eol = buf.indexOf(10, pos);
      if (eol < 0) eol = buf.length;
      want[0]++;
      if (holds(pos, eol)) want.push(no, pos, eol);
      else if (eol - pos > maxLen) want[1]++;
      pos = eol + 1;
    }
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.same(got, want, `round ${round}, max ${maxLen}: ${JSON.stringify(text)}`);
      return;
    }
  }
  t.pass('400 random chunks: the native walk agrees with a line-by-line walk');
  t.same(Array.from(new LiteralScanner(lits, { native: true }).walk(Buffer.alloc(0), 10)!).slice(0, 2), [0, 0], 'an empty chunk has no lines');
  t.equal(new LiteralScanner(lits, { native: false }).walk(Buffer.from('x\n'), 10), null, 'no native walk without the native scan');
});
