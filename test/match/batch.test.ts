// Batch matching (all candidate lines of a chunk in one RE2 search per regex) must give the very
// verdicts that matching line by line gives.
import t, { type Test } from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { compileFilter, groupsOf, type CompiledFilter } from '../../src/match/compile.js';
import { batchGroups, canBatch, firstMatches, matchBatch } from '../../src/match/batch.js';
import { bundledConfig } from '../helpers/paths.js';
import { FilterRun } from '../../src/match/matcher.js';
import { loadFilter } from '../../src/config/load.js';
import { filterDef, src } from './filter-def.js';
import { lineAddon, useNativeLines } from '../../src/match/native-lines.js';

/** Each test runs twice: through node-re2's batches (one search over joined lines), and
 * through the native line matcher (native-rules/re2-lines), which CI builds. */
function both(name: string, opts: { skip?: string | false }, fn: (t: Test) => Promise<void>): void {
  for (const native of [false, true]) {
    t.test(`${name} [${native ? 'native lines' : 'node-re2 batches'}]`, opts, async (t) => {
      if (native) t.ok(lineAddon(), 'the native line matcher is built');
      useNativeLines(native);
      try {
        await fn(t);
      } finally {
        useNativeLines(true);
      }
    });
  }
}

function lineByLine(f: CompiledFilter, lines: string[]) {
  return lines.map((l) => new FilterRun(f).processLine(l, 0));
}

both('batch and line-by-line agree on tricky regexes', {}, async (t) => {
  const lines = [
    'auth fail user=bob from 192.0.2.1 port 22',
    'auth fail user= from 192.0.2.2 port 22',
    'auth fail user=x from 1.2.3.4 port 1 from 192.0.2.3 port 22',
    'AUTH FAIL user=eve from 2001:db8::3 port 22',
    'auth\tfail user=tab from 192.0.2.4 port 22',
    'denied [192.0.2.5] reason="x y"',
    'denied [192.0.2.6] reason=""',
    'login <admin> from host.example.org',
    'login <> from 192.0.2.7',
    'token 0123abcd rejected \u0001 weird',
    'token \u0001sep rejected',
    'nothing here',
    'ünïcödé user=çà from 192.0.2.8 port 9',
  ];
  const regexes = [
    ['^auth\\s+fail user=<F-USER>\\S*</F-USER> from <HOST> port \\d+$'],
    ['(?i)^auth fail user=(?P<u>[^ ]+) from <ADDR>', '^\\S+ user=<F-ALT_USER_1>\\w*</F-ALT_USER_1>\\W+from <HOST>'],
    ['^denied \\[<HOST>\\] reason="<F-WHY>[^"]*</F-WHY>"$'],
    ['^login <(?:<F-USER>[^>]+</F-USER>)?> from <HOST>$'],
    ['^token <F-ID>\\S+</F-ID> rejected'],
    ['user=<F-USER>\\S+</F-USER> from <HOST>\\Z', '^denied \\[<HOST>\\]'],
    ['[\\s\\S]*user=(\\w+) from <HOST>'],
  ];
  for (const rs of regexes) {
    const f = compileFilter(filterDef(rs, { ignoreregex: [src('port 9$')] }));
    t.ok(canBatch(f), `${rs.join(' | ')} runs in batch`);
    t.same(matchBatch(f, lines), lineByLine(f, lines), rs.join(' | '));
  }
});

both('repeats after the last capture run lazy in batch mode, and the captures stay those of exec', {}, async (t) => {
  const lines = [
    'hit 192.0.2.10 aXb aXcd end',
    'hit 192.0.2.11 zz end end',
    'hit 192.0.2.12 X',
    'hit host.example.org Xy end Xz',
    'miss 192.0.2.13 end',
  ];
  const cases: Array<[string[], boolean]> = [
    // greedy .* before a capture decides where the capture starts: it stays greedy
    [['^hit <HOST> .*X<F-TAIL>\\w+</F-TAIL>'], false],
    // nothing captured after the .*: where the match ends is all that changes
    [['^hit <HOST> .*end'], true],
    [['^hit <HOST> \\S*X\\w*'], true],
    [['^hit <HOST> .*X\\w+|^miss <F-ID>\\S+</F-ID>.*end'], true],
    // a group that can match '' has a witness after it: the repeat after the witness only
    [['^hit <HOST> (?:<F-USER>\\w*</F-USER>X)?.*end'], true],
  ];
  for (const [rs, lazy] of cases) {
    const f = compileFilter(filterDef(rs));
    t.ok(canBatch(f), `${rs.join(' | ')} runs in batch`);
    t.equal(/\*\?/.test(f.failregex[0].batchSource ?? ''), lazy, `${rs.join(' | ')}: ${lazy ? 'a lazy tail' : 'left greedy'}`);
    t.same(matchBatch(f, lines), lineByLine(f, lines), rs.join(' | '));
  }
});

both('filters that need line-by-line matching are not batched', {}, async (t) => {
  t.notOk(canBatch(compileFilter(filterDef('^a\\nb <HOST>', { maxlines: 2 }))));
  t.notOk(canBatch(compileFilter(filterDef('^(?s)a.b <HOST>'))));
  t.notOk(canBatch(compileFilter(filterDef('^a[\\W]b <HOST>'))));
  t.notOk(canBatch(compileFilter(filterDef('^<F-MLFID>\\d+</F-MLFID> <HOST>'))));
  t.notOk(canBatch(compileFilter(filterDef('<HOST>', { prefregex: src('^x <F-CONTENT>.+</F-CONTENT>') }))));
});

const ETC = '/etc/fail2ban';
const LOGS = '/usr/lib/python3/dist-packages/fail2ban/tests/files/logs';
both('batch and line-by-line agree on every stock filter that batches, over its sample log', { skip: !existsSync(LOGS) && 'fail2ban not installed' }, async (t) => {
  let compared = 0;
  for (const file of readdirSync(`${ETC}/filter.d`)) {
    const name = file.replace(/\.conf$/, '');
    if (!existsSync(`${LOGS}/${name}`)) continue;
    let f: CompiledFilter;
    try {
      f = compileFilter(loadFilter(ETC, name));
    } catch {
      continue; // refused (lookaround...) or unreadable: covered elsewhere
    }
    if (!canBatch(f)) continue;
    const dates = f.newDateDetector();
    const rests = readFileSync(`${LOGS}/${name}`, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
      const h = dates.detect(l, 1124013600);
      return h && h.end > h.start ? l.slice(0, h.start) + l.slice(h.end) : l;
    });
    t.same(matchBatch(f, rests), lineByLine(f, rests), name);
    compared++;
  }
  t.ok(compared >= 20, `${compared} stock filters compared`);
});

both('a prefregex ending in (.+)$ is batched to its header only, with the same groups', {}, async (t) => {
  const f = compileFilter(filterDef('^Failed password for \\S+ from <HOST> port \\d+', {
    prefregex: src('^\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d (?P<host>\\S+) (?P<proc>sshd)(?:\\[(?P<pid>\\d+)\\])?: <F-CONTENT>.+</F-CONTENT>$'),
  }));
  const pre = f.prefregex!;
  t.ok(pre.batchToEol, 'the short batch form is used for this shape');
  const lines = [
    'Jun 15 11:00:01 srv sshd[42]: Failed password for root from 192.0.2.1 port 22 ssh2',
    'Jun 15 11:00:01 srv sshd: x',
    'Jun 15 11:00:01 srv sshd[42]: ',
    'Jun 15 11:00:01 srv cron[1]: not sshd',
    'Jun  5 11:00:01 srv sshd[7]: ünïcödé \u0001 tail with $1 and \\ and ) characters',
    'garbage',
  ];
  const batched = batchGroups(pre, lines);
  const single = lines.map((l) => {
    pre.re.lastIndex = 0;
    const m = pre.re.exec(l);
    return m ? groupsOf(pre, m) : null;
  });
  t.same(batched, single, 'every line: same match, same captures, the tail included');
});

both('firstMatches sorts texts out by their start and literals, and finds what exec finds', {}, async (t) => {
  const f = compileFilter(loadFilter(bundledConfig, 'sshd', { mode: 'aggressive' }));
  t.ok(f.failregex.filter((r) => r.leading).length >= 10, 'most sshd regexes are anchored at a fixed text');
  const texts = [
    'Failed password for root from 198.18.0.1 port 22 ssh2',
    'Failed publickey for invalid user x from 198.18.0.2 port 22 ssh2: RSA SHA256:abc',
    'Invalid user admin from 198.18.0.3 port 22',
    'illegal user admin from 198.18.0.4',
    'Connection closed by 198.18.0.5 port 22 [preauth]',
    'Connection from 198.18.0.6 port 22 on 198.18.1.1 port 22',
    'Accepted publickey for deploy from 198.18.0.7 port 22 ssh2',
    'Received disconnect from 198.18.0.8 port 22:11: Bye Bye [preauth]',
    'Did not receive identification string from 198.18.0.9',
    'authentication failure for bob from 198.18.0.10',
    'pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.18.0.11  user=root',
    ' Failed password for root from 198.18.0.12 port 22 ssh2',
    'failed password for root from 198.18.0.13 port 22 ssh2',
    'Server listening on 0.0.0.0 port 22.',
    '',
  ];
  const expected = texts.map((text) => {
    for (let ri = 0; ri < f.failregex.length; ri++) {
      const m = f.failregex[ri].re.exec(text);
      if (m) return { ri, host: groupsOf(f.failregex[ri], m).host ?? groupsOf(f.failregex[ri], m).ip4 };
    }
    return null;
  });
  const got = firstMatches(f, texts).map((m) => (m ? { ri: m.ri, host: m.groups.host ?? m.groups.ip4 } : null));
  t.same(got, expected);
  t.ok(got.filter(Boolean).length >= 10, 'the texts do exercise the regexes');
});

both('groups that can match empty: taking no part and matching empty stay apart, in one batch', {}, async (t) => {
  const f = compileFilter(filterDef([
    '^(?:Connection closed|Disconnected) (?:by|from)(?: (?:invalid|authenticating) user <F-USER>\\S+|.*?</F-USER>)? <HOST>(?: port \\d+)?$',
    '^conn <F-MLFID>\\w*</F-MLFID>: <F-NOFAIL>(?:ok|)</F-NOFAIL> from <HOST>',
  ]));
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    lines.push(
      `Disconnected from 198.18.0.${i} port 22`,
      `Connection closed by invalid user  198.18.1.${i} port 22`,
      `Connection closed by invalid user root 198.18.2.${i}`,
      `conn : ok from 198.18.3.${i} conn x: from 198.18.4.${i}`,
      `conn abc:  from 198.18.5.${i}`,
      'nothing',
    );
  }
  for (const r of f.failregex) {
    const exact = lines.map((l) => {
      const m = r.re.exec(l);
      return m ? groupsOf(r, m) : null;
    });
    const batched = batchGroups(r, lines);
    t.same(batched, exact, `${r.source}: same as exec line by line`);
  }
  const u = batchGroups(f.failregex[0], lines);
  t.equal(u[0]?.user, undefined, 'a user that took no part is undefined');
  t.ok(u[0] && 'user' in u[0], '(the group is there, undefined)');
  t.equal(u[1]?.user, '', 'an empty user is kept as empty');
  t.equal(u[2]?.user, 'root');
  const m = batchGroups(f.failregex[1], lines);
  t.equal(m[3]?.mlfid, '', 'empty connection id, first match of the line');
  t.equal(m[3]?.nofail, 'ok');
  t.equal(m[4]?.mlfid, 'abc');
  t.equal(m[4]?.nofail, '');
});

both('witnesses: the batch output itself tells "took no part" from "matched empty"', {}, async (t) => {
  const f = compileFilter(filterDef([
    // the user's optional branch holds plain characters: one of them is captured as its witness
    '^(?:Connection closed|Disconnected) (?:by|from)(?: (?:invalid|authenticating) user <F-USER>\\S+|.*?</F-USER>)? <HOST>(?: port \\d+)?$',
    // two groups that can match '' in one optional branch: each its own witness
    '^pair(?: (?P<a>\\w*)/(?P<b>\\w*))? from <HOST>$',
    // in the regex's only branch: it takes part whenever the regex matches
    '^conn <F-MLFID>\\w*</F-MLFID>: from <HOST>',
    // an alternative with nothing but the group: no witness, the re-run decides
    '^alt (?:x|<F-USER>\\w*</F-USER>) from <HOST>',
  ]));
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) {
    lines.push(
      `Disconnected from 198.18.0.${i} port 22`, `Connection closed by invalid user  198.18.1.${i} port 22`,
      `pair from 198.18.2.${i}`, `pair / from 198.18.3.${i}`, `pair a/ from 198.18.4.${i}`, `pair /b from 198.18.5.${i}`,
      `conn : from 198.18.6.${i}`, `conn z: from 198.18.7.${i}`,
      `alt x from 198.18.8.${i}`, `alt  from 198.18.9.${i}`, `alt q from 198.18.10.${i}`,
    );
  }
  const known = f.failregex.map((r) => r.groupNames.filter((_, g) => r.canBeEmpty[g] && r.participationKnown[g]));
  t.same(known, [['user'], ['a', 'b'], ['mlfid'], []], 'which groups the batch output answers for');
  for (const r of f.failregex) {
    const exact = lines.map((l) => {
      const m = r.re.exec(l);
      return m ? groupsOf(r, m) : null;
    });
    t.same(batchGroups(r, lines), exact, `${r.source}: same as exec line by line`);
  }
  const p = batchGroups(f.failregex[1], lines);
  t.same([p[2]?.a, p[2]?.b], [undefined, undefined], 'no pair: neither took part');
  t.same([p[3]?.a, p[3]?.b], ['', ''], 'an empty pair: both took part');
  t.same([p[4]?.a, p[4]?.b], ['a', ''], 'a, then empty');
});
