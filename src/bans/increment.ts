// bantime.increment as fail2ban computes it (server/jail.py, server/observer.py): for an address
// banned `count` times before, the next ban lasts
//   multipliers set:  bantime * factor * multipliers[min(count, len-1)]
//   otherwise:        max(bantime, bantime * 2^min(count, 20) * factor)   (the default formula)
// capped by maxtime, plus a random 0..rndtime. Only the first ban (count 0) keeps `bantime`.
import type { IncrementConfig } from '../types.js';

const DEFAULT_FORMULA = 'ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor';

/** True when the configured formula is fail2ban's default one (the only one we evaluate). */
export function isDefaultFormula(formula: string | undefined): boolean {
  if (formula === undefined || formula.trim() === '') return true;
  return formula.replace(/\s+/g, '') === DEFAULT_FORMULA.replace(/\s+/g, '');
}

export function incrementedBantime(
  bantime: number,
  previousBans: number,
  inc: IncrementConfig,
  random: () => number = Math.random,
): number {
  if (!inc.enabled || bantime <= 0 || previousBans <= 0) return bantime;
  let t: number;
  if (inc.multipliers.length > 0) {
    const i = previousBans < inc.multipliers.length ? previousBans : inc.multipliers.length - 1;
    t = bantime * inc.factor * inc.multipliers[i];
  } else {
    t = Math.max(bantime, bantime * 2 ** Math.min(previousBans, 20) * inc.factor);
  }
  if (inc.maxtime > 0) t = Math.min(t, inc.maxtime);
  if (inc.rndtime > 0) t += random() * inc.rndtime;
  return t;
}
