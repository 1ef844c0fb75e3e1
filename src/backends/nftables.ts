// The nftables backend: one table (default `inet logban`), per jail four sets (single addresses
// and networks, per family), one base chain at the input hook. Every apply() is one kernel
// transaction per kind of change:
//   1. bans of single addresses (`add element` with timeout, plus expires where the element may
//      already be there, which restarts its clock); a bulk batch of 40,000 or more is split
//      across one nft per core, each part its own transaction (applyBulkText),
//   2. network bans and unbans (flattened so interval sets never see overlapping elements),
//   3. unbans of single addresses.
// Unbans travel apart so that nothing that fails there can cost a ban. A delete of an element
// the kernel already expired would fail its transaction, so every delete is preceded by an
// `add` of the same element in the same transaction: the pair always succeeds and leaves the
// element absent.
import { availableParallelism } from 'node:os';
import { UserError } from '../errors.js';
import { familyBits, formatAddress, parseAddress } from '../net/address.js';
import { ElementLedger } from './nft-ledger.js';
import { lastChanges } from './last-changes.js';
import type { Backend, BanChange, JailRule } from '../types.js';
import { NetBanSet, type NetDiff, type NetPiece } from './nft-prefixes.js';
import {
  chainSpec, elementJson, jailSets, loadRulesetTemplate, ruleExpr,
  type JailSet, type NftCommand, type RulesetTemplate,
} from './nft-ruleset.js';
import { NftError, NftSession, runNft, type NftInvocation } from './nft-runner.js';

export interface NftBackendOptions {
  /** table name in the template's family (inet) */
  table: string;
  chainPriority: number;
  nftPath?: string;
  /** run nft inside this network namespace (`ip netns exec NAME nft ...`); for tests */
  netns?: string;
  log: (msg: string) => void;
  /** ruleset template; default native-rules/nftables.json */
  templatePath?: string;
  /** transactions whose JSON is at most this many bytes go through a long-lived `nft -j -i`
   * process (it reads stdin byte by byte, so past ~8 KB a fresh `nft -j -f` is faster);
   * 0 = always a fresh process. Default 8192 (about 130 IPv4 bans). */
  sessionMaxBytes?: number;
  /** most nft processes one bulk batch of bans is split across, run at once; default the
   * number of cores, at most 4 (see applyBulkText) */
  bulkProcesses?: number;
}

/** Fewest elements worth their own nft process in a split bulk batch (a process start is
 * ~5 ms; nft parses ~600 elements per ms). */
const MIN_BULK_SHARE = 20_000;

/** Counters the daemon can export as metrics. */
export interface NftBackendStats {
  /** nft processes started for transactions (bulk path) */
  processes: number;
  /** transactions sent (bulk and session) */
  transactions: number;
  /** changes refused before reaching nft (invalid address, unknown jail) */
  rejected: number;
}

/** Longest timeout sent to the kernel: ~68 years (the kernel keeps element timeouts in ms). */
const MAX_TIMEOUT_SEC = 2 ** 31 - 1;

export class NftBackend implements Backend {
  readonly name = 'nftables';
  // set elements carry their own timeouts: the kernel lifts expired bans itself
  readonly kernelExpiry = true;
  readonly stats: NftBackendStats = { processes: 0, transactions: 0, rejected: 0 };
  private readonly template: RulesetTemplate;
  private readonly inv: NftInvocation;
  private readonly family: string;
  private readonly session: NftSession | null;
  private readonly sessionMaxBytes: number;
  private readonly bulkProcesses: number;
  /** address sets whose names nft's text grammar accepts (see probeTextNames) */
  private readonly textSets = new Set<string>();
  private sets = new Map<string, JailSet[]>();
  /** network bans per interval set name */
  private readonly netSets = new Map<string, NetBanSet>();
  /** address sets this object created empty: what it added since (nft-ledger.ts) */
  private readonly ledgers = new Map<string, ElementLedger>();

  constructor(private readonly opts: NftBackendOptions) {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(opts.table)) {
      throw new UserError(`nftables table name "${opts.table}" must start with a letter and hold only letters, digits, _ . -`);
    }
    if (!Number.isInteger(opts.chainPriority)) throw new UserError(`nftables chain priority "${opts.chainPriority}" must be an integer`);
    this.template = loadRulesetTemplate(opts.templatePath);
    this.family = this.template.table.family;
    this.inv = { nftPath: opts.nftPath, netns: opts.netns };
    this.sessionMaxBytes = opts.sessionMaxBytes ?? 8192;
    this.session = this.sessionMaxBytes > 0 ? new NftSession(this.inv) : null;
    this.bulkProcesses = Math.max(1, Math.floor(opts.bulkProcesses ?? Math.min(4, availableParallelism())));
  }

  /** Names of the kernel sets of a jail (for messages, README and tests). */
  setsOf(jail: string): readonly JailSet[] {
    return this.sets.get(jail) ?? [];
  }

  /**
   * Create or repair the table, the sets of these jails, the chain and its rules, in one
   * transaction. Address sets and their elements are kept (bans survive a restart of logban);
   * sets of jails no longer configured are deleted; the chain is rebuilt (and re-created if its
   * hook or priority changed). Network sets are rebuilt from the network bans this object
   * holds, which is none after a restart until the caller restores them. After healthy()
   * returned false, call start() and then re-apply every active ban.
   */
  async start(jails: readonly JailRule[]): Promise<void> {
    const sets = jailSets(this.template, jails);
    const existing = await this.describeTable();
    const t = { family: this.family, table: this.opts.table };
    const chain = chainSpec(this.template, this.opts.table, this.opts.chainPriority);
    const cmds: NftCommand[] = [{ add: { table: { family: this.family, name: this.opts.table } } }];
    const wanted = new Set<string>();
    const now = Date.now();
    const rebuilt: Array<[string, NetBanSet, NetPiece[]]> = [];
    for (const list of sets.values()) {
      for (const s of list) {
        wanted.add(s.name);
        cmds.push({ add: { set: { ...t, name: s.name, type: s.type, flags: s.flags } } });
        if (s.kind === 'network') {
          // network sets are small and fully known here: rebuild them from memory
          const ns = this.netSets.get(s.name) ?? new NetBanSet(s.family, s.sentinel);
          const pieces = ns.allPieces(now);
          cmds.push(...rebuildNetSet(t, s.name, ns, pieces, now));
          rebuilt.push([s.name, ns, pieces]);
        } else {
          cmds.push({ add: { element: { ...t, name: s.name, elem: [elementJson(s.sentinel, undefined, null)] } } });
        }
      }
    }
    const chainRef = { ...t, name: this.template.chain.name };
    if (existing.chain && !sameChain(existing.chain, chain)) {
      this.opts.log(`nftables: re-creating chain ${this.opts.table}/${chainRef.name} (hook or priority changed)`);
      cmds.push({ flush: { chain: chainRef } }, { delete: { chain: chainRef } });
    }
    cmds.push({ add: { chain } }, { flush: { chain: chainRef } });
    for (const j of jails) {
      for (const s of sets.get(j.name) ?? []) {
        cmds.push({ add: { rule: { ...t, chain: chainRef.name, expr: ruleExpr(this.template, s, j, this.opts.table) } } });
      }
    }
    for (const name of existing.sets) {
      if (!wanted.has(name)) cmds.push({ delete: { set: { ...t, name } } });
    }
    await this.transaction(cmds);

    this.sets = sets;
    // sets that did not exist are empty now; sets that did keep their ledger if this object
    // filled them, and are untracked (every ban refreshes) if an earlier process did
    for (const name of [...this.ledgers.keys()]) if (!wanted.has(name) || !existing.sets.includes(name)) this.ledgers.delete(name);
    for (const list of sets.values()) {
      for (const s of list) if (s.kind === 'address' && !existing.sets.includes(s.name)) this.ledgers.set(s.name, new ElementLedger());
    }
    this.netSets.clear();
    for (const [name, ns, pieces] of rebuilt) {
      ns.resetInstalled(pieces);
      this.netSets.set(name, ns);
    }
    await this.probeTextNames();
    const removed = existing.sets.filter((n) => !wanted.has(n));
    this.opts.log(`nftables: table ${this.family} ${this.opts.table} ready: ${jails.length} jail(s), ${wanted.size} set(s)` +
      (removed.length > 0 ? `, removed sets ${removed.join(', ')}` : ''));
  }

  /** Which address sets bulk text batches may name: `nft -c` (check only, nothing committed)
   * parses an element add per set; a table or set name that is an nft keyword fails it, and
   * those sets keep using JSON. */
  private async probeTextNames(): Promise<void> {
    this.textSets.clear();
    const sets = [...this.sets.values()].flat().filter((s) => s.kind === 'address');
    if (sets.length === 0) return;
    const text = sets.map((s) => `add element ${this.family} ${this.opts.table} ${s.name} { ${s.sentinel} }`).join('\n') + '\n';
    try {
      await runNft(this.inv, ['-c', '-f', '-'], text);
      for (const s of sets) this.textSets.add(s.name);
    } catch {
      this.opts.log(`nftables: table or set names are nft keywords; bulk batches use JSON`);
    }
  }

  async apply(changes: readonly BanChange[]): Promise<void> {
    // the last change of an address in a jail wins; what is left touches each element once
    const { keep, v4 } = lastChanges(changes);
    // single-address elements as JSON text: this path carries up to millions of elements, and
    // a validated canonical address needs no escaping
    const bans = new Map<string, BanElems>();
    const unbans = new Map<string, string[]>();
    const netTouched = new Set<string>();
    const rejected: string[] = [];
    const now = Date.now();
    for (let i = 0; i < changes.length; i++) {
      if (!keep[i]) continue;
      const c = changes[i];
      const jail = c.jail;
      const sets = this.sets.get(jail);
      if (!sets) {
        // an unban for a jail whose sets were removed on reload is already done
        if (c.op === 'ban') rejected.push(`${formatAddress(c)} (no jail "${jail}" in nftables)`);
        continue;
      }
      // a plain IPv4 address is canonical exactly when the strict dotted-quad parser takes it
      const a = c.family === 4 && c.prefix === undefined
        ? (v4[i] >= 0 ? { addr: c.addr, family: 4 as const, prefix: undefined } : null)
        : parseAddress(formatAddress(c));
      if (!a || a.family !== c.family || a.addr !== c.addr || a.prefix !== c.prefix) {
        rejected.push(`${JSON.stringify(formatAddress(c))} (not a canonical IPv${c.family} address)`);
        continue;
      }
      const kind = a.prefix === undefined ? 'address' : 'network';
      const set = sets.find((s) => s.family === a.family && s.kind === kind);
      if (!set) continue; // the template has no set for this kind
      if (kind === 'network') {
        const timeout = c.op === 'ban' ? clampTimeout(c.timeout) : null;
        const exp = c.op === 'unban' ? null : timeout === null ? Infinity : now + timeout * 1000;
        this.netSets.get(set.name)?.set(a.addr, a.prefix ?? familyBits(a.family), exp);
        netTouched.add(set.name);
      } else if (a.addr === set.sentinel) {
        continue; // never touch the sentinel
      } else if (c.op === 'ban') {
        const ledger = this.ledgers.get(set.name);
        // no ledger (a set this process did not create): every ban may meet its element there
        const refresh = ledger ? (v4[i] >= 0 ? ledger.addV4(v4[i]) : ledger.addSeen(a.addr, a.family)) : true;
        pushBan(bans, set.name, a.addr, clampTimeout(c.timeout), refresh);
      } else {
        push(unbans, set.name, `"${a.addr}"`);
      }
    }
    this.stats.rejected += rejected.length;

    const errors: Error[] = [];
    const attempt = async (work: () => Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (e) {
        errors.push(e as Error);
      }
    };
    const ref = `"family":${JSON.stringify(this.family)},"table":${JSON.stringify(this.opts.table)}`;
    const elementCmd = (op: string, name: string, elems: string[]): string =>
      `{"${op}":{"element":{${ref},"name":${JSON.stringify(name)},"elem":[${elems.join(',')}]}}}`;
    if (bans.size > 0) {
      let count = 0;
      for (const b of bans.values()) count += b.addrs.length;
      // Bulk batches go to a fresh nft as text: nft parses its own syntax ~30% faster than JSON
      // (measured: 100,000 elements 1.0 s text vs 1.3 s JSON). Only for names nft's text
      // grammar accepts (probed at start); every address is validated and canonical.
      const useText = count * 60 > this.sessionMaxBytes && [...bans.keys()].every((n) => this.textSets.has(n));
      if (useText) {
        await this.applyBulkText(bans, count, (e) => errors.push(e));
      } else {
        const cmds = [...bans].map(([name, b]) => elementCmd('add', name, banJson(b)));
        await attempt(() => this.transactionText(`{"nftables":[${cmds.join(',')}]}`));
      }
    }
    if (netTouched.size > 0) await attempt(() => this.applyNetDiffs([...netTouched]));
    if (unbans.size > 0) {
      // add, then delete: the pair succeeds whether or not the kernel already expired them
      const cmds = [...unbans].flatMap(([name, elems]) => [elementCmd('add', name, elems), elementCmd('delete', name, elems)]);
      await attempt(() => this.transactionText(`{"nftables":[${cmds.join(',')}]}`));
    }

    if (rejected.length > 0) {
      this.opts.log(`nftables: refused ${rejected.length} change(s): ${rejected.slice(0, 5).join(', ')}${rejected.length > 5 ? ', …' : ''}`);
      errors.push(new UserError(`refused ${rejected.length} change(s) before nft: ${rejected.slice(0, 5).join(', ')}`));
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new NftError(errors.map((e) => e.message).join('; '), '', null);
  }

  /**
   * Bans of single addresses as nft text, split across up to `bulkProcesses` nft processes
   * that run at once, each one transaction. nft spends about half of a bulk transaction parsing
   * in user space, which runs in parallel; the kernel commits the transactions one after the
   * other (measured, 100,000 elements in a network namespace: one `nft -f` 0.32 s, two halves
   * at once 0.19 s). Each element is in exactly one part and the parts hold only `add element`,
   * so their order does not matter; a part that fails is reported like a failed transaction
   * (the caller repairs by re-applying every ban). The first part's nft starts while the next
   * part's text is built.
   */
  private async applyBulkText(bans: Map<string, BanElems>, count: number, fail: (e: Error) => void): Promise<void> {
    const parts = Math.max(1, Math.min(this.bulkProcesses, Math.floor(count / MIN_BULK_SHARE)));
    const share = Math.ceil(count / parts);
    const running: Array<Promise<void>> = [];
    const send = (lines: string[]): void => {
      this.stats.transactions++;
      this.stats.processes++;
      running.push(runNft(this.inv, ['-f', '-'], lines.join('\n') + '\n').then(() => undefined, fail));
    };
    let lines: string[] = [];
    let inPart = 0;
    for (const [name, b] of bans) {
      for (const [part, n] of banText(b)) {
        lines.push(`add element ${this.family} ${this.opts.table} ${name} { ${part} }`);
        inPart += n;
        if (inPart >= share) {
          send(lines);
          lines = [];
          inPart = 0;
        }
      }
    }
    if (lines.length > 0) send(lines);
    await Promise.all(running);
  }

  /**
   * Cheap check that every set still holds its sentinel and is still used by a rule, without
   * listing anything (with 100,000 elements in a set, `nft get element` or `nft list chain` take
   * a second or more: nft 1.0.6 fetches every element first). One transaction that is always
   * aborted asks the kernel instead, which answers every command in order:
   *   create element SET { sentinel }   -> "File exists" when the sentinel is there
   *   delete set SET                    -> "Device or resource busy" when a rule uses the set
   *   delete table <absent>             -> "No such file or directory", always, so nothing
   *                                        above is ever committed
   * Healthy means exactly that sequence of answers. JSON, not nft's text syntax, so that table
   * and set names that are nft keywords (`rt`, `ct`, ...) work.
   */
  async healthy(): Promise<boolean> {
    const all = [...this.sets.values()].flat();
    if (all.length === 0) return true;
    const t = { family: this.family, table: this.opts.table };
    const cmds: NftCommand[] = [];
    for (const s of all) {
      cmds.push({ create: { element: { ...t, name: s.name, elem: [s.sentinel] } } }, { delete: { set: { ...t, name: s.name } } });
    }
    cmds.push({ delete: { table: { family: this.family, name: `${this.opts.table}-probe-absent` } } });
    let stderr: string;
    try {
      await this.transaction(cmds);
      // committed: the probe table existed, so the check proved nothing and may have changed state
      this.opts.log(`nftables: health check was not aborted (does table ${this.opts.table}-probe-absent exist?)`);
      return false;
    } catch (e) {
      if (!(e instanceof NftError)) throw e;
      stderr = e.stderr;
    }
    const answers = [...stderr.matchAll(/Error: (?:Could not process rule: )?([^\n]*)/g)].map((m) => m[1].trim());
    const expected = [...all.flatMap(() => ['File exists', 'Device or resource busy']), 'No such file or directory'];
    if (answers.length === expected.length && answers.every((a, i) => a === expected[i])) return true;
    // name the first set whose answers differ (exact when a single set is damaged)
    const bad = all.find((_, i) => answers[2 * i] !== expected[2 * i] || answers[2 * i + 1] !== expected[2 * i + 1]);
    this.opts.log(`nftables: kernel state needs repair${bad ? ` (first difference at set ${bad.name})` : ''}: ${answers.slice(0, 6).join('; ')}`);
    return false;
  }

  async stop(keep: boolean): Promise<void> {
    await this.session?.close();
    if (keep) return;
    try {
      await runNft(this.inv, ['-j', '-f', '-'], JSON.stringify({ nftables: [{ delete: { table: { family: this.family, name: this.opts.table } } }] }));
      this.opts.log(`nftables: removed table ${this.family} ${this.opts.table}`);
    } catch (e) {
      if (!(e instanceof NftError) || !/No such file or directory/.test(e.stderr)) throw e;
    }
  }

  /** Send one JSON document (one transaction); small ones through the long-lived session. */
  private async transaction(cmds: NftCommand[]): Promise<void> {
    await this.transactionText(JSON.stringify({ nftables: cmds }));
  }

  private async transactionText(doc: string): Promise<void> {
    this.stats.transactions++;
    if (this.session && doc.length <= this.sessionMaxBytes) {
      await this.session.run(doc);
    } else {
      this.stats.processes++;
      await runNft(this.inv, ['-j', '-f', '-'], doc);
    }
  }

  /** Sets and chains of our table, without elements or rules: `list sets` and `list chains`
   * stay fast whatever the sets hold, unlike `list table` or `list chain`. */
  private async describeTable(): Promise<{ sets: string[]; chain: Record<string, unknown> | null }> {
    type Listing = { nftables: Array<Record<string, Record<string, unknown>>> };
    const ours = (o: Record<string, unknown>): boolean => o.table === this.opts.table && o.family === this.family;
    const sets = (JSON.parse((await runNft(this.inv, ['-j', '-t', 'list', 'sets', this.family])).stdout) as Listing)
      .nftables.filter((o) => o.set && ours(o.set)).map((o) => String(o.set.name));
    const chain = (JSON.parse((await runNft(this.inv, ['-j', 'list', 'chains', this.family])).stdout) as Listing)
      .nftables.find((o) => o.chain && ours(o.chain) && o.chain.name === this.template.chain.name)?.chain ?? null;
    return { sets, chain };
  }

  /** One transaction that moves these interval sets to the cover of their bans. If the kernel
   * refuses (its content drifted from what we believed), rebuild them whole. */
  private async applyNetDiffs(names: string[]): Promise<void> {
    const now = Date.now();
    const t = { family: this.family, table: this.opts.table };
    const diffs: Array<[NetBanSet, NetDiff]> = [];
    const cmds: NftCommand[] = [];
    for (const name of names) {
      const ns = this.netSets.get(name);
      if (!ns) continue;
      const d = ns.diff(now);
      if (d.add.length === 0 && d.remove.length === 0) continue;
      diffs.push([ns, d]);
      const bits = familyBits(ns.family);
      const val = (p: NetPiece): unknown => elementJson(p.addr, p.prefix === bits ? undefined : p.prefix, null);
      if (d.remove.length > 0) {
        const elem = d.remove.map(val);
        cmds.push({ add: { element: { ...t, name, elem } } }, { delete: { element: { ...t, name, elem } } });
      }
      if (d.add.length > 0) {
        const elem = d.add.map((p) => elementJson(p.addr, p.prefix === bits ? undefined : p.prefix,
          p.expiresAt === Infinity ? null : clampTimeout(Math.ceil((p.expiresAt - now) / 1000))));
        cmds.push({ add: { element: { ...t, name, elem } } });
      }
    }
    if (cmds.length === 0) return;
    try {
      await this.transaction(cmds);
      for (const [ns, d] of diffs) ns.commit(d);
    } catch (e) {
      if (!(e instanceof NftError)) throw e;
      // the kernel content drifted from what we believed: rebuild these sets from memory
      this.opts.log(`nftables: network set update failed, rebuilding ${names.join(', ')}: ${e.message}`);
      const later = Date.now();
      const rebuilt = names.flatMap((name) => {
        const ns = this.netSets.get(name);
        return ns ? [[name, ns, ns.allPieces(later)] as const] : [];
      });
      await this.transaction(rebuilt.flatMap(([name, ns, pieces]) => rebuildNetSet(t, name, ns, pieces, later)));
      for (const [, ns, pieces] of rebuilt) ns.resetInstalled(pieces);
    }
  }
}

/** Flush an interval set and fill it with the sentinel and these pieces, in one transaction. */
function rebuildNetSet(t: { family: string; table: string }, name: string, ns: NetBanSet, pieces: readonly NetPiece[], now: number): NftCommand[] {
  const bits = familyBits(ns.family);
  const elem = pieces.map((p) => elementJson(p.addr, p.prefix === bits ? undefined : p.prefix,
    p.expiresAt === Infinity ? null : clampTimeout(Math.ceil((p.expiresAt - now) / 1000))));
  return [{ flush: { set: { ...t, name } } }, { add: { element: { ...t, name, elem } } }];
}

/** Host bans of one set, as parallel arrays (timeout null = permanent). */
interface BanElems {
  addrs: string[];
  timeouts: Array<number | null>;
  /** the element may already be in the set: restart its clock with `expires` */
  refresh: boolean[];
}

function pushBan(m: Map<string, BanElems>, set: string, addr: string, timeout: number | null, refresh: boolean): void {
  let b = m.get(set);
  if (!b) m.set(set, (b = { addrs: [], timeouts: [], refresh: [] }));
  b.addrs.push(addr);
  b.timeouts.push(timeout);
  b.refresh.push(refresh);
}

/** `expires` equal to `timeout` restarts the clock of an element already in the set. */
function banJson(b: BanElems): string[] {
  return b.addrs.map((a, i) => {
    const t = b.timeouts[i];
    if (t === null) return `"${a}"`;
    return b.refresh[i] ? `{"elem":{"val":"${a}","timeout":${t},"expires":${t}}}` : `{"elem":{"val":"${a}","timeout":${t}}}`;
  });
}

/** Element lists of at most 1,000 elements per statement: nft parses many short statements
 * faster than one huge one (still one transaction). */
function banText(b: BanElems): Array<[text: string, elements: number]> {
  const parts: Array<[string, number]> = [];
  for (let i = 0; i < b.addrs.length; i += 1000) {
    const end = Math.min(i + 1000, b.addrs.length);
    const elems: string[] = [];
    for (let j = i; j < end; j++) {
      const t = b.timeouts[j];
      elems.push(t === null ? b.addrs[j] : b.refresh[j] ? `${b.addrs[j]} timeout ${t}s expires ${t}s` : `${b.addrs[j]} timeout ${t}s`);
    }
    parts.push([elems.join(', '), end - i]);
  }
  return parts;
}

function push(m: Map<string, string[]>, key: string, v: string): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

/** Seconds for the kernel: -1 (permanent) = null; at least 1 s; whole seconds (nft JSON). */
function clampTimeout(timeout: number): number | null {
  if (timeout < 0) return null;
  return Math.min(MAX_TIMEOUT_SEC, Math.max(1, Math.ceil(timeout)));
}

function sameChain(have: Record<string, unknown>, want: Record<string, unknown>): boolean {
  return have.type === want.type && have.hook === want.hook && have.prio === want.prio && have.policy === want.policy;
}
