import t from 'tap';
import path from 'node:path';
import { IniStore, parseIniText } from '../../src/config/ini.js';
import { UserError } from '../../src/errors.js';
import { fixtures } from '../helpers/paths.js';
import { userError, writeTree } from './tree.js';

const parse = (text: string): IniStore => {
  const s = new IniStore();
  s.merge(parseIniText(text, 'test.conf'));
  return s;
};

t.test('keys, delimiters, case and sections', async (t) => {
  const s = parse(['[s]', 'a = 1', 'B: two', 'c:d = e', 'Mixed.Case = x', '[S]', 'a = other'].join('\n'));
  t.equal(s.get('s', 'a')?.value, '1');
  t.equal(s.get('s', 'b')?.value, 'two', 'keys are lower-cased; ":" is a delimiter');
  t.equal(s.get('s', 'c')?.value, 'd = e', 'the first delimiter splits key and value');
  t.equal(s.get('s', 'MIXED.case')?.value, 'x', 'lookups are case-insensitive');
  t.equal(s.get('S', 'a')?.value, 'other', 'section names are case-sensitive');
  t.same(s.get('s', 'a'), { value: '1', file: 'test.conf', line: 2, lines: [2] }, 'values remember file and line');
});

t.test('comments: full-line # and ;, inline only " ;"', async (t) => {
  const s = parse([
    '# a comment', '; another', '[s]',
    'a = v ; comment', 'b = v;kept', 'c = v # kept', 'd = v\t; comment after tab', '  # indented comment',
  ].join('\n'));
  t.equal(s.get('s', 'a')?.value, 'v');
  t.equal(s.get('s', 'b')?.value, 'v;kept');
  t.equal(s.get('s', 'c')?.value, 'v # kept', '# is not an inline comment prefix');
  t.equal(s.get('s', 'd')?.value, 'v');
});

t.test('continuation lines', async (t) => {
  const s = parse([
    '[s]', 'failregex = first', '    second ; comment', '', '  # comment inside', '    third', '', 'next = x',
    'empty =', '  only continuation',
  ].join('\n'));
  const v = s.get('s', 'failregex')!;
  t.equal(v.value, 'first\nsecond\n\nthird', 'joined with \\n; blank lines kept, comments dropped, trailing blank trimmed');
  t.same(v.lines, [2, 3, 4, 6], 'each part keeps its own line number');
  t.equal(s.get('s', 'next')?.value, 'x', 'a line at the key indentation starts a new option');
  t.equal(s.get('s', 'empty')?.value, '\nonly continuation');
});

t.test('DEFAULT and interpolation', async (t) => {
  const s = parse([
    '[DEFAULT]', 'd = def', 'uses = %(own)s+%(d)s', '[s]', 'own = mine', 'a = %(b)s-%(d)s', 'b = %(c)s', 'c = deep%%',
    'name = %(__name__)s', 'pct = 100%%', '[t]', 'own = theirs',
  ].join('\n'));
  t.equal(s.get('s', 'd')?.value, 'def', 'DEFAULT values are visible in every section');
  t.equal(s.get('s', 'a')?.value, 'deep%-def', 'nested interpolation, %% escape');
  t.equal(s.get('s', 'name')?.value, 's');
  t.equal(s.get('s', 'pct')?.value, '100%');
  t.equal(s.get('t', 'uses')?.value, 'theirs+def', 'DEFAULT values interpolate in the asking section');
  t.equal(s.get('s', 'a', { d: 'var' })?.value, 'deep%-var', 'vars win over section and DEFAULT');
  t.equal(s.get('s', 'missing'), undefined);
  t.equal(s.get('nosuch', 'd'), undefined);
});

t.test('interpolation errors name file, line, section and key', async (t) => {
  const s = parse(['[s]', 'a = %(b)s', 'b = %(a)s', 'm = x %(nothere)s', 'bad = 50%', 'self = %(self)s'].join('\n'));
  userError(t, () => s.get('s', 'a'), /^test\.conf:2: \[s\] a: /, /cyclic/, /%\(b\)s -> %\(a\)s/);
  userError(t, () => s.get('s', 'm'), /^test\.conf:4: \[s\] m: /, /%\(nothere\)s is not defined/);
  userError(t, () => s.get('s', 'bad'), /^test\.conf:5: \[s\] bad: /, /%%/);
  userError(t, () => s.get('s', 'self'), /^test\.conf:6: \[s\] self: /, /cyclic/);
});

t.test('syntax errors name file and line', async (t) => {
  userError(t, () => parseIniText('a = 1\n', 'x.conf'), /^x\.conf:1: /, /section/);
  userError(t, () => parseIniText('[s]\nnot an option\n', 'x.conf'), /^x\.conf:2: \[s\] /);
  userError(t, () => parseIniText('[s]\na = 1\nA = 2\n', 'x.conf'), /^x\.conf:3: \[s\] a: option set twice/);
  userError(t, () => parseIniText('[s]\n[s]\n', 'x.conf'), /^x\.conf:2: section \[s\] appears twice/);
  userError(t, () => parseIniText('[s]\n= value\n', 'x.conf'), /^x\.conf:2: /);
});

t.test('includes before/after, .local companions and known/', async (t) => {
  const main = path.join(fixtures, 'config', 'includes', 'main.conf');
  const s = IniStore.read([main]);
  t.same(s.files.map((f) => path.relative(path.join(fixtures, 'config', 'includes'), f)), [
    'sub/nested.conf', 'sub/common.conf', 'main.conf', 'after.conf', 'main.local',
  ], 'before-includes, the file, after-includes, then its .local; paths relative to the including file');
  t.equal(s.get('Definition', 'nested')?.value, 'from sub/nested.conf', 'nested includes resolve from their own directory');
  t.equal(s.get('Definition', 'sv')?.value, 'after', 'after-includes override the including file');
  t.equal(s.get('Definition', 'x')?.value, 'local-x + main-x', '%(known/x)s is x before the .local changed it');
  t.equal(s.get('Definition', 'y')?.value, 'main-x+main-y', 'known/ always names the layer before the last override');
  t.equal(s.get('Definition', 'z')?.value, 'common-cv', '%(section/option)s');
  t.equal(s.get('Definition', 'w')?.value, 'after-default', '%(default/option)s, interpolated in the asking section');
  t.equal(s.get('Definition', 'k')?.value, 'dd-from-default', 'known/ of an option never overridden falls back to DEFAULT');
  userError(t, () => s.get('Definition', 'kmissing'), /main\.conf:\d+: \[Definition\] kmissing: /, /known\/never/);
});

t.test('include cycles terminate; missing includes are skipped like fail2ban', async (t) => {
  const dir = writeTree(t, {
    'a.conf': '[INCLUDES]\nbefore = b.conf\n  missing.conf\n[s]\nv = a\n',
    'b.conf': '[INCLUDES]\nbefore = a.conf\n[s]\nv = b\nonly_b = yes\n',
  });
  const s = IniStore.read([path.join(dir, 'a.conf')]);
  t.equal(s.get('s', 'v')?.value, 'a');
  t.equal(s.get('s', 'only_b')?.value, 'yes');
});

t.test('conditional sections', async (t) => {
  const s = parse('[Init]\na = 1\n[Init?family=inet6]\na = 2\n');
  t.equal(s.get('Init', 'a')?.value, '1');
  t.equal(s.get('Init', 'a?family=inet6')?.value, '2');
});

t.test('random INI-ish input only ever throws UserError', async (t) => {
  // Deterministic pseudo-random generator so a failure is reproducible.
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const atoms = ['[', ']', '[s]', '[DEFAULT]', '[INCLUDES]', 'before = x.conf', '%(', ')s', '%%', '%', 'a', 'b', '=', ':',
    ' ', '  ', '\t', '\n', '\n  ', ';', '#', 'known/', 'default/', '%(a)s', '%(b)s', '%(known/a)s', '\r', '\u0000', 'é', '<a>'];
  let userErrors = 0;
  for (let i = 0; i < 3000; i++) {
    let text = '';
    const len = rnd(40);
    for (let j = 0; j < len; j++) text += atoms[rnd(atoms.length)];
    try {
      const s = new IniStore();
      s.merge(parseIniText(text, 'fuzz.conf'));
      for (const sec of ['s', 'DEFAULT', 'INCLUDES']) {
        for (const k of s.options(sec, true)) s.get(sec, k);
      }
    } catch (err) {
      if (!(err instanceof UserError)) {
        t.fail(`non-UserError ${(err as Error).name} for input ${JSON.stringify(text)}: ${(err as Error).message}`);
        return;
      }
      userErrors++;
    }
  }
  t.ok(userErrors > 0, `the generator reaches error paths (${userErrors} UserErrors)`);
});
