// Turns native-rules/nftables.json (the layout: table, chain, per-jail sets, per-set rule) into
// nft JSON commands. Keeping the layout in a data file lets an administrator read or adjust it
// (add a counter, reject instead of drop) without touching code.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { parseAddress } from '../net/address.js';
import type { Family, JailRule } from '../types.js';

/** One nft JSON command, e.g. `{ add: { set: {...} } }`. */
export type NftCommand = Record<string, unknown>;

export interface SetTemplate {
  suffix: string;
  family: Family;
  /** address: hash set of single addresses; network: interval set of CIDR networks */
  kind: 'address' | 'network';
  type: 'ipv4_addr' | 'ipv6_addr';
  flags: string[];
  /** a permanent element that no real packet carries as its source, checked by healthy() */
  sentinel: string;
}

export interface RulesetTemplate {
  table: { family: string; name: string };
  chain: { name: string; type: string; hook: string; prio: string | number; policy: string };
  sets: SetTemplate[];
  rule: unknown[];
}

/** A set as created in the kernel for one jail. */
export interface JailSet extends SetTemplate {
  jail: string;
  name: string;
}

export const defaultTemplatePath = fileURLToPath(new URL('../../../native-rules/nftables.json', import.meta.url));

/** Read and check the ruleset template; a malformed file is a UserError naming it. */
export function loadRulesetTemplate(file: string = defaultTemplatePath): RulesetTemplate {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`cannot read nftables template ${file}: ${(e as Error).message}`);
  }
  const t = data as Partial<RulesetTemplate>;
  const bad = (what: string): never => {
    throw new UserError(`nftables template ${file}: ${what}`);
  };
  if (!t.table || typeof t.table.family !== 'string' || typeof t.table.name !== 'string') bad('"table" needs family and name');
  if (!t.chain || typeof t.chain.name !== 'string' || typeof t.chain.hook !== 'string') bad('"chain" needs name, type, hook, prio, policy');
  if (!Array.isArray(t.sets) || t.sets.length === 0) bad('"sets" must be a non-empty list');
  if (!Array.isArray(t.rule)) bad('"rule" must be a list of expressions');
  for (const s of t.sets ?? []) {
    if (typeof s.suffix !== 'string' || !/^[A-Za-z0-9_.-]*$/.test(s.suffix)) bad(`set suffix ${JSON.stringify(s.suffix)} is not a valid name part`);
    if (s.family !== 4 && s.family !== 6) bad(`set ${s.suffix}: family must be 4 or 6`);
    if (s.kind !== 'address' && s.kind !== 'network') bad(`set ${s.suffix}: kind must be "address" or "network"`);
    const p = parseAddress(s.sentinel);
    if (!p || p.family !== s.family || p.prefix !== undefined) bad(`set ${s.suffix}: sentinel ${JSON.stringify(s.sentinel)} is not a single IPv${s.family} address`);
    else s.sentinel = p.addr;
  }
  return t as RulesetTemplate;
}

const PLAIN_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,47}$/;

/**
 * Set-name stem of a jail. Names nft's own syntax accepts as identifiers (a letter, then letters,
 * digits, `_`, `.`, `-`; at most 48 characters) are used as they are, so `nft list set inet
 * logban sshd-v4` works. Anything else becomes `j_<name with other characters as _>_<6 hex of
 * sha1(name)>` (e.g. `3proxy` -> `j_3proxy_<hash>`), which stays unique and readable.
 */
export function setStem(jail: string): string {
  if (PLAIN_NAME.test(jail)) return jail;
  const hash = createHash('sha1').update(jail).digest('hex').slice(0, 6);
  return `j_${jail.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 32)}_${hash}`;
}

/** The kernel sets of each jail, in template order. Throws UserError when two jails would share
 * set names. */
export function jailSets(template: RulesetTemplate, jails: readonly JailRule[]): Map<string, JailSet[]> {
  const out = new Map<string, JailSet[]>();
  const owner = new Map<string, string>();
  for (const j of jails) {
    const stem = setStem(j.name);
    const prev = owner.get(stem);
    if (prev !== undefined && prev !== j.name) throw new UserError(`jails "${prev}" and "${j.name}" map to the same nftables set name "${stem}"; rename one`);
    owner.set(stem, j.name);
    out.set(j.name, template.sets.map((s) => ({ ...s, flags: [...s.flags], jail: j.name, name: `${stem}${s.suffix}` })));
  }
  return out;
}

/** nft JSON for a jail's port/protocol restriction; `ports: null` matches the protocol only. */
export function portMatch(rule: JailRule): NftCommand {
  const proto = rule.protocol;
  if (rule.ports === null) {
    return { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: proto } };
  }
  const ranges: Array<[number, number]> = rule.ports.map((p) => (Array.isArray(p) ? [p[0], p[1]] : [p, p]));
  for (const [a, b] of ranges) {
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 1 || b > 65535 || a > b) {
      throw new UserError(`jail "${rule.name}": port ${a === b ? a : `${a}:${b}`} is not a port number or range in 1-65535`);
    }
  }
  if (ranges.length === 0) throw new UserError(`jail "${rule.name}": empty port list`);
  // nft rejects overlapping intervals in one anonymous set, so merge them first
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  const items = merged.map(([a, b]) => (a === b ? a : { range: [a, b] }));
  const right = items.length === 1 ? items[0] : { set: items };
  return { match: { op: '==', left: { payload: { protocol: proto, field: 'dport' } }, right } };
}

function substitute(node: unknown, vars: Record<string, unknown>): unknown {
  if (typeof node === 'string') {
    if (node in vars) return vars[node];
    return node.replace(/\{([a-z-]+)\}/g, (m, k: string) => {
      const v = vars[`{${k}}`];
      return v === undefined ? m : String(v);
    });
  }
  if (Array.isArray(node)) return node.map((n) => substitute(n, vars));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, substitute(v, vars)]));
  }
  return node;
}

export interface RulesetNames {
  family: string;
  table: string;
  chain: string;
}

export function rulesetNames(template: RulesetTemplate, table: string): RulesetNames {
  return { family: template.table.family, table, chain: template.chain.name };
}

/** The base chain as the template wants it, with the configured priority. */
export function chainSpec(template: RulesetTemplate, table: string, priority: number): Record<string, unknown> {
  const c = substitute(template.chain, { '{priority}': priority, '{table}': table }) as Record<string, unknown>;
  return { family: template.table.family, table, ...c };
}

/** Rule expressions for one set of one jail. */
export function ruleExpr(template: RulesetTemplate, set: JailSet, rule: JailRule, table: string): unknown[] {
  return substitute(template.rule, {
    '{table}': table,
    '{set}': set.name,
    '{saddr-proto}': set.family === 4 ? 'ip' : 'ip6',
    // `ports: null` still matches the protocol, so a tcp jail leaves the address's UDP alone
    '{port-match}': portMatch(rule),
  }) as unknown[];
}

/** Element JSON: a single address or network, with `timeout`/`expires` (seconds) unless
 * permanent. Setting both restarts the clock of an element already in the set. */
export function elementJson(addr: string, prefix: number | undefined, timeoutSec: number | null): unknown {
  const val = prefix === undefined ? addr : { prefix: { addr, len: prefix } };
  if (timeoutSec === null) return val;
  return { elem: { val, timeout: timeoutSec, expires: timeoutSec } };
}
