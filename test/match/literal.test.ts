import t from 'tap';
import { compileFilter } from '../../src/match/compile.js';
import { leadingTexts, requiredLiterals } from '../../src/match/literal.js';
import { parsePythonRegex } from '../../src/match/pyregex.js';
import { expandTags } from '../../src/match/tags.js';
import { filterDef } from './filter-def.js';

const req = (re: string) => requiredLiterals(parsePythonRegex(expandTags(re, 'warn').regex).alt);

t.test('the longest literal every match must contain', async (t) => {
  t.same(req('^<HOST> .*"POST /xmlrpc\\.php HTTP/1\\.0'), { anyOf: [' .*"POST /xmlrpc.php HTTP/1.0'.replace(' .*', '')], caseInsensitive: false });
  t.same(req('^Failed password for (?:invalid user )?\\S+ from <HOST>'), { anyOf: ['Failed password for '], caseInsensitive: false });
  t.same(req('x(?:abc|de)+y'), { anyOf: ['abc', 'de'], caseInsensitive: false }, 'a repeated group needed once gives its alternatives');
  t.same(req('(?:Invalid|Illegal) user \\S+ from <HOST>'), { anyOf: ['Invalid', 'Illegal'], caseInsensitive: false });
  t.same(req('(?:authentication failure|auth failed)'), { anyOf: ['authentication failure', 'auth failed'], caseInsensitive: false });
  t.equal(req('^\\S+(?:a|\\d)<HOST>'), null, 'an alternative without a literal: no requirement');
  t.equal(req('^(?:foo)?<HOST>'), null, 'optional text is not required');
});

t.test('case-insensitive literals are lower-cased, non-ASCII ones dropped', async (t) => {
  t.same(req('(?i)^Login FAILED from <HOST>'), { anyOf: ['login failed from '], caseInsensitive: true });
  t.same(req('(?i)échec de connexion <HOST>|(?i)x'), null);
});

t.test('literal text where fail2ban cut the date out is split there', async (t) => {
  // after the date cut, an Apache line reads `1.2.3.4 - - [] "GET ...`: `[] "GET` is not in the raw line
  t.same(req('^<HOST> - \\S+ \\[\\] "GET /knock HTTP'), { anyOf: ['] "GET /knock HTTP'], caseInsensitive: false });
});

t.test('a filter gate: prefregex literal wins, else the union of failregex literals', async (t) => {
  const f = compileFilter(filterDef(['^Failed for \\S+ from <HOST>$', '^Invalid user \\S+ from <HOST>$'], {
    prefregex: { value: '^sshd\\[\\d+\\]: <F-CONTENT>.+</F-CONTENT>$', file: 'x', line: 1 },
  }));
  t.same(f.gate?.anyOf.map(String), ['sshd[']);
  const g = compileFilter(filterDef(['^Failed for \\S+ from <HOST>$', '^Invalid user \\S+ from <HOST>$']));
  t.same(g.gate?.anyOf.map(String), ['Failed for ', 'Invalid user ']);
  t.equal(compileFilter(filterDef(['^Failed for <HOST>$', '^<HOST>$'])).gate, null, 'one regex with no literal: every line is a candidate');
});

t.test('leading texts of anchored regexes sort texts out by their start', async (t) => {
  const lead = (re: string) => leadingTexts(parsePythonRegex(expandTags(re, 'warn').regex).alt);
  t.same(lead('^Failed (?:password|publickey) for <HOST>'), ['Failed password', 'Failed publickey']);
  t.same(lead('^[iI](?:llegal|nvalid) user \\S+'), ['illegal', 'invalid', 'Illegal', 'Invalid']);
  t.same(lead('^(?P<x>Accepted) \\w+'), ['Accepted '], 'a group of plain text is passed through');
  t.same(lead('^Received (?:dis)?connect'), ['Received '], 'an optional part ends the text');
  t.same(lead('^foo|^bar'), ['foo', 'bar']);
  t.equal(lead('^foo|bar'), null, 'a branch that is not anchored');
  t.equal(lead('Failed for <HOST>'), null, 'not anchored');
  t.equal(lead('^\\S+ from <HOST>'), null, 'no certain first character');
  t.same(lead('(?i)^ab'), ['ab', 'aB', 'Ab', 'AB'], 'case-insensitive ASCII letters in both cases');
  t.same(lead('(?i)^xk'), ['x', 'X'], 'k folds to the Kelvin sign in RE2: the text stops before it');
  t.same(lead('^[sS]ession'), null, '[sS] may match U+017F under (?i): not used');
});
