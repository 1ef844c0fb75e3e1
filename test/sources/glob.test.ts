import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expandGlob, globBaseDir, hasGlobMagic, segmentMatches, segmentToRegExp } from '../../src/sources/glob.js';
import { tempDir } from './collect.js';

const m = (seg: string, name: string) => segmentMatches(seg, segmentToRegExp(seg), name);

t.test('segment patterns follow Python glob', async (t) => {
  t.ok(m('*access.log', 'site-access.log'));
  t.ok(m('*access.log', 'access.log'));
  t.notOk(m('*access.log', 'access.log.1'));
  t.notOk(m('*.log', '.hidden.log'), 'a wildcard does not match a leading dot');
  t.ok(m('.*.log', '.hidden.log'));
  t.ok(m('a?c', 'abc'));
  t.notOk(m('a?c', 'ac'));
  t.ok(m('log[0-9]', 'log7'));
  t.notOk(m('log[0-9]', 'logx'));
  t.ok(m('log[!0-9]', 'logx'));
  t.notOk(m('log[!0-9]', 'log7'));
  t.ok(m('x[]]y', 'x]y'), "']' first in a class is a member");
  t.ok(m('a[b', 'a[b'), "an unclosed '[' is literal");
  t.ok(m('a.b+c(d)', 'a.b+c(d)'), 'regex metacharacters are literal');
  t.notOk(m('a.b', 'aXb'));
  t.ok(m('[^a]', '^'), "'^' in a class is literal as in fnmatch");
});

t.test('helpers', async (t) => {
  t.ok(hasGlobMagic('/var/log/*.log'));
  t.notOk(hasGlobMagic('/var/log/auth.log'));
  t.equal(globBaseDir('/var/log/nginx/*access.log'), '/var/log/nginx');
  t.equal(globBaseDir('/var/log/*/access.log'), '/var/log');
});

t.test('expandGlob walks the directories and returns sorted files', async (t) => {
  const dir = tempDir(t, 'glob');
  for (const site of ['b', 'a', 'c']) {
    mkdirSync(path.join(dir, site));
    writeFileSync(path.join(dir, site, 'access.log'), '');
  }
  mkdirSync(path.join(dir, 'a', 'dir.log'));
  writeFileSync(path.join(dir, 'a', 'error.log'), '');
  t.same(await expandGlob(path.join(dir, '*', 'access.log')), ['a', 'b', 'c'].map((s) => path.join(dir, s, 'access.log')));
  t.same(await expandGlob(path.join(dir, 'a', '*.log')), [path.join(dir, 'a', 'access.log'), path.join(dir, 'a', 'error.log')],
    'directories are not files');
  t.same(await expandGlob(path.join(dir, 'a', 'access.log')), [path.join(dir, 'a', 'access.log')]);
  t.same(await expandGlob(path.join(dir, 'a', 'missing.log')), []);
  t.same(await expandGlob(path.join(dir, 'nope', '*.log')), []);
});
