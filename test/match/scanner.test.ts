import t from 'tap';
import { LiteralScanner, type ScanLiteral } from '../../src/match/scanner.js';
import { CompiledGroup } from '../../src/match/chunk.js';
import { compileFilter } from '../../src/match/compile.js';
import { filterDef } from './filter-def.js';

/** Every position the scanner reports, walking forward as the chunk loop does. */
function walk(lits: ScanLiteral[], text: string, density = 0): { mode: string; at: number[] } {
  const sc = new LiteralScanner(lits, density);
  const buf = Buffer.from(text);
  const c = sc.over(buf);
  const at: number[] = [];
  for (let p = c.at(0); p >= 0; p = c.at(p + 1)) at.push(p);
  return { mode: sc.mode, at };
}

/** Byte offsets of every occurrence of any needle, as the scanner must find them. */
function expected(text: string, needles: string[], ci: boolean): number[] {
  const hay = Buffer.from(ci ? text.toLowerCase() : text);
  const out = new Set<number>();
  for (const n of needles) for (let p = hay.indexOf(n); p >= 0; p = hay.indexOf(n, p + 1)) out.add(p);
  return [...out].sort((a, b) => a - b);
}

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
  t.same(walk([{ text: 'a.c', caseInsensitive: false }, { text: '(x', caseInsensitive: true }], 'abc a.c (X\n').at, [4, 8], 'metacharacters are literal');
});

t.test('literals on nearly every line: every line is looked at instead of one RE2 search per hit', async (t) => {
  const lits = ['a', 'b', 'c', 'd', 'e'].map((s) => ({ text: s, caseInsensitive: false }));
  const r = walk(lits, 'abc\nxyz\n', 0.9);
  t.equal(r.mode, 'every line');
  t.same(r.at, [0, 1, 2, 3, 4, 5, 6, 7], 'any position asked for is a candidate');
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
