// The native line matcher (native-rules/re2-lines) must give, line by line, the groups that
// node-re2's exec gives: same match, same captures, same "took no part", on any text.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { compileFilter, groupsOf, type CompiledRegex } from '../../src/match/compile.js';
import { lineAddon, nativeGroups, useNativeLines } from '../../src/match/native-lines.js';
import { loadFilter } from '../../src/config/load.js';
import { bundledConfig } from '../helpers/paths.js';
import { filterDef, src } from './filter-def.js';

function exact(r: CompiledRegex, lines: readonly string[]) {
  return lines.map((l) => {
    const m = r.re.exec(l);
    return m ? groupsOf(r, m) : null;
  });
}

t.test('the addon is built (npm install builds it; CI must run this path)', async (t) => {
  t.ok(lineAddon(), 'native-rules/re2-lines/build/Release/logban_re2_lines.node loads');
});

t.test('every bundled filter: each batchable regex runs natively', async (t) => {
  let regexes = 0;
  for (const file of readdirSync(`${bundledConfig}/filter.d`).filter((x) => x.endsWith('.conf'))) {
    let f;
    try {
      f = compileFilter(loadFilter(bundledConfig, file.slice(0, -5)));
    } catch {
      continue; // included definitions (common.conf) are no filters of their own
    }
    for (const r of [f.prefregex, ...f.failregex]) {
      if (!r || r.batchSource === null) continue;
      t.not(nativeGroups(r, ['x']), null, `${file}: ${r.source}`);
      regexes++;
    }
  }
  t.ok(regexes > 100, `${regexes} regexes`);
});

t.test('offsets in UTF-16 units: text before and inside the captures that is not ASCII', async (t) => {
  const f = compileFilter(filterDef([
    '^auth fail user=<F-USER>\\S*</F-USER> from <HOST>(?: port \\d+)?$',
    '^(?:Connection closed|Disconnected) (?:by|from)(?: (?:invalid|authenticating) user <F-USER>\\S+|.*?</F-USER>)? <HOST>(?: port \\d+)?$',
  ], { prefregex: src('^(?P<who>\\S*) said: <F-CONTENT>.+</F-CONTENT>$') }));
  const lines = [
    'auth fail user=bob from 198.18.0.1 port 22',
    'auth fail user=çà from 198.18.0.2 port 22',
    'auth fail user=日本語 from 198.18.0.3',
    'auth fail user=😀x😀 from 198.18.0.4 port 9',
    'auth fail user= from 198.18.0.5',
    'Disconnected from 198.18.0.6 port 22',
    'Connection closed by invalid user ünï 198.18.0.7 port 22',
    'Connection closed by authenticating user  198.18.0.8',
    'Connection closed by x 🦀 y 198.18.0.9 port 1',
    'nothing here ä',
    '',
  ];
  for (const r of f.failregex) {
    const native = nativeGroups(r, lines);
    t.not(native, null, 'taken natively');
    t.same(native, exact(r, lines), `${r.source}: same groups as exec`);
  }
  const said = ['ö said: auth fail user=x from 198.18.0.10', '😀😀 said: Disconnected from 198.18.0.11', 'x said: ', ' said: y'];
  const pre = f.prefregex!;
  t.ok(pre.lineToEolSource, 'the prefregex runs to its header only');
  t.same(nativeGroups(pre, said), exact(pre, said), 'prefregex: the content runs to the end of the line, in UTF-16 units');
  const user = nativeGroups(f.failregex[0], lines)!;
  t.equal(user[3]?.user, '😀x😀', 'a capture of astral characters, whole');
  t.equal(user[4]?.user, '', 'an empty capture that took part is empty');
  t.equal(nativeGroups(f.failregex[1], lines)![5]?.user, undefined, 'a group that took no part is undefined');
});

t.test('random lines: native, node-re2 batches and exec agree', async (t) => {
  const f = compileFilter(filterDef([
    '^<F-USER>[^ ]*</F-USER> (?:from|by) <HOST>(?: port (?P<port>\\d+))?(?: \\[(?P<tag>[^\\]]*)\\])?',
    '(?i)token=<F-ID>\\w*</F-ID>.*?from <HOST>',
  ]));
  const parts = ['a', 'ä', '😀', '', ' ', 'from', 'by', '198.18.3.4', 'port', '22', '[x]', '[]', 'token=', 'TOKEN=ab', '\u0001', '\u0002', 'é日'];
  let seed = 7;
  // the high bits: an LCG's low bits repeat with a short period
  const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % n;
  const words = (n: number, sep = ' '): string => Array.from({ length: n }, () => parts[rnd(parts.length)]).join(sep);
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const ip = `198.18.${rnd(4)}.${rnd(256)}`;
    const shape = rnd(4);
    // lines of the regexes' shape with random words in every free place, and random junk
    if (shape === 0) lines.push(`${words(rnd(2))} ${rnd(2) ? 'from' : 'by'} ${ip}${rnd(2) ? ` port ${rnd(65536)}` : ''}${rnd(2) ? ` [${words(rnd(3))}]` : ''}${words(rnd(3))}`);
    else if (shape === 1) lines.push(`${words(rnd(3))}${rnd(2) ? 'token=' : 'ToKeN='}${words(rnd(2), '')} ${words(rnd(3))} from ${ip}${words(rnd(2))}`);
    else lines.push(words(rnd(9), rnd(3) ? ' ' : ''));
  }
  for (const r of f.failregex) {
    const want = exact(r, lines);
    t.ok(want.filter(Boolean).length > 50, `the lines do match sometimes (${want.filter(Boolean).length})`);
    t.same(nativeGroups(r, lines), want, `${r.source}: native`);
    useNativeLines(false);
    t.equal(nativeGroups(r, lines), null, 'turned off, the caller falls back');
    useNativeLines(true);
  }
});
