// FilterRun's connection cache (<F-MLFID>, fail2ban's _mergeFailure): lines of one connection
// add up, and a connection is forgotten 300 s (log time) after its first line.
import t from 'tap';
import { compileFilter } from '../../src/match/compile.js';
import { FilterRun } from '../../src/match/matcher.js';
import { filterDef, src } from './filter-def.js';

const T0 = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000;

function run(): FilterRun {
  return new FilterRun(compileFilter(filterDef([
    '^<F-NOFAIL>hello</F-NOFAIL> from <HOST>$',
    '^fail user <F-USER>\\w+</F-USER>$',
  ], { prefregex: src('^conn <F-MLFID>\\d+</F-MLFID>: <F-CONTENT>.+</F-CONTENT>$', 9) })));
}

t.test('a connection\'s address carries to its later lines for 300 s of log time, not longer', async (t) => {
  const r = run();
  t.equal(r.processLine('conn 7: hello from 198.18.0.1', T0).nofail, true, 'the greeting is no failure');
  t.equal(r.processLine('conn 8: hello from 198.18.0.2', T0 + 100).nofail, true);
  // many lines of the same second: the cache is swept once per second, with the same result
  for (let i = 0; i < 3; i++) {
    t.same(r.processLine('conn 7: fail user bob', T0 + 299).failure, { regex: 1, host: '198.18.0.1', nofail: false, captures: { user: 'bob' } },
      'within 300 s: the failure has the connection\'s address');
  }
  t.equal(r.processLine('conn 7: fail user bob', T0 + 301).failure, undefined, 'past 300 s: connection 7 is forgotten');
  t.same(r.processLine('conn 8: fail user eve', T0 + 301).failure?.host, '198.18.0.2', 'connection 8 (100 s younger) is not');
  t.equal(r.processLine('conn 8: fail user eve', T0 + 401).failure, undefined, 'and then it is');
});

t.test('a cache carried in a state keeps expiring by the times of its entries', async (t) => {
  const a = run();
  a.processLine('conn 9: hello from 198.18.0.3', T0);
  const b = new FilterRun(a.filter, a.state());
  t.equal(b.processLine('conn 9: fail user bob', T0 + 400).failure, undefined, 'swept on the first line after the state');
  const c = new FilterRun(a.filter, a.state());
  t.equal(c.processLine('conn 9: fail user bob', T0 + 10).failure?.host, '198.18.0.3');
});
