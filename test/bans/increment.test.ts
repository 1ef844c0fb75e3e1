import t from 'tap';
import { incrementedBantime, isDefaultFormula } from '../../src/bans/increment.js';
import type { IncrementConfig } from '../../src/types.js';

const inc: IncrementConfig = { enabled: true, factor: 1, multipliers: [], maxtime: 0, rndtime: 0, overalljails: false };

t.test('default formula doubles per previous ban', async (t) => {
  t.same([0, 1, 2, 3, 4].map((n) => incrementedBantime(600, n, inc)), [600, 1200, 2400, 4800, 9600]);
  t.equal(incrementedBantime(600, 3, { ...inc, enabled: false }), 600, 'disabled');
  t.equal(incrementedBantime(-1, 3, inc), -1, 'permanent stays permanent');
  t.equal(incrementedBantime(600, 30, inc), 600 * 2 ** 20, 'exponent capped at 20');
  t.equal(incrementedBantime(600, 1, { ...inc, factor: 3 }), 3600);
});

t.test('multipliers, maxtime and rndtime', async (t) => {
  const m = { ...inc, multipliers: [1, 5, 30, 60] };
  t.same([1, 2, 3, 9].map((n) => incrementedBantime(60, n, m)), [300, 1800, 3600, 3600]);
  t.equal(incrementedBantime(600, 10, { ...inc, maxtime: 86400 }), 86400);
  t.equal(incrementedBantime(600, 1, { ...inc, rndtime: 100 }, () => 0.5), 1250);
});

t.test('only the default formula is recognised', async (t) => {
  t.ok(isDefaultFormula(undefined));
  t.ok(isDefaultFormula('ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor'));
  t.notOk(isDefaultFormula('ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)'));
});
