// Builds FilterDef objects directly, as the config reader would, for matcher tests.
import type { FilterDef, Sourced } from '../../src/types.js';

export const FILE = '/etc/logban/filter.d/test.conf';

export function src(value: string, line = 10): Sourced {
  return { value, file: FILE, line };
}

export function filterDef(failregex: string | string[], over: Partial<FilterDef> = {}): FilterDef {
  const list = Array.isArray(failregex) ? failregex : [failregex];
  return {
    name: 'test', file: FILE, failregex: list.map((r, i) => src(r, 10 + i)), ignoreregex: [],
    maxlines: 1, usedns: 'warn', journalmatch: [], options: {}, ...over,
  };
}
