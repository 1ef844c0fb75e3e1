// Applies one compiled filter to the lines of one source, as fail2ban's Filter.findFailure does:
// prefregex (and its <F-CONTENT>), failregexes in order (first match wins), ignoreregex, the
// multi-line buffer (maxlines, <SKIPLINES>) and the <F-MLFID> connection cache. The state that
// must survive between chunks is plain data (FilterState), so a worker can hand it back.
import { groupsOf, hostOf, mayMatch, userCaptures, type CompiledFilter, type Groups } from './compile.js';

export interface MlfidEntry {
  groups: Groups;
  users: string[];
  /** epoch seconds of the line that created it (entries expire after MLFID_TTL) */
  time: number;
}

/** What must be carried from one chunk of a source to the next, per filter. Structured-clone safe. */
export interface FilterState {
  /** multi-line buffer: the lines (date cut out) still waiting to be part of a match */
  lines: string[];
  /** <F-MLFID> cache, oldest first */
  mlfid: Array<[string, MlfidEntry]>;
}

export interface LineFailure {
  /** failregex index */
  regex: number;
  host: string;
  nofail: boolean;
  captures?: Record<string, string>;
}

export interface LineVerdict {
  failure?: LineFailure;
  /** ignoreregex index when an ignoreregex cancelled a failregex match */
  ignored?: number;
  /** failregex index that matched (also set when the match produced no failure) */
  matched?: number;
  /** the match was an <F-NOFAIL>/<F-MLFGAINED> line of a session: seen, not a failure */
  nofail?: boolean;
}

const MLFID_MAX = 100;
const MLFID_TTL = 300;
const NO_VERDICT: LineVerdict = Object.freeze({}) as LineVerdict;

/** The text a single-line filter's failregexes see once its prefregex matched: the
 * <F-CONTENT>, else the whole line. Takes `content` out of the prefregex's groups, as
 * processLine does. */
export function contentOf(rest: string, pre: Groups): string {
  const content = pre.content;
  pre.content = undefined; // not delete: that turns the object into a slow dictionary
  return content ? content : rest;
}

export class FilterRun {
  private lines: string[];
  private readonly mlfid: Map<string, MlfidEntry>;
  /** the line time of the last sweep of expired connection entries */
  private sweptAt = NaN;

  constructor(
    readonly filter: CompiledFilter,
    state?: FilterState,
  ) {
    this.lines = state ? [...state.lines] : [];
    this.mlfid = new Map(state?.mlfid ?? []);
  }

  state(): FilterState {
    return { lines: [...this.lines], mlfid: [...this.mlfid] };
  }

  /** True when the run holds nothing worth carrying to the next chunk. */
  get stateless(): boolean {
    return this.lines.length === 0 && this.mlfid.size === 0;
  }

  /** One line whose date was cut out (`rest`), with its time (epoch seconds). */
  processLine(rest: string, time: number): LineVerdict {
    const f = this.filter;
    let buf: string;
    let lines: string[] | null = null;
    if (f.multiline) {
      this.lines.push(rest);
      if (this.lines.length > f.maxlines) this.lines.splice(0, this.lines.length - f.maxlines);
      lines = this.lines;
      buf = lines.join('\n') + '\n';
    } else buf = rest;

    let pre: Groups | null = null;
    if (f.prefregex) {
      const m = f.prefregex.re.exec(buf);
      if (!m) return NO_VERDICT;
      pre = groupsOf(f.prefregex, m);
    }
    return this.afterPrefix(buf, lines, pre, time);
  }

  /** processLine for a single-line filter whose prefregex was already run over many lines at
   * once (batch.ts): `pre` holds its groups, null when it did not match the line. */
  processPrefixed(rest: string, pre: Groups | null, time: number): LineVerdict {
    if (!pre) return NO_VERDICT;
    return this.afterPrefix(rest, null, pre, time);
  }

  private afterPrefix(buf: string, lines: string[] | null, pre: Groups | null, time: number): LineVerdict {
    const f = this.filter;
    if (pre) {
      const content = pre.content;
      pre.content = undefined;
      if (content) {
        buf = content;
        if (lines) {
          this.lines = [content];
          lines = this.lines;
          buf = content + '\n';
        }
      }
    }

    let lower: string | undefined;
    const lowerOf = (): string => (lower ??= buf.toLowerCase());
    for (let i = 0; i < f.failregex.length; i++) {
      const r = f.failregex[i];
      if (!mayMatch(r, buf, lowerOf)) continue;
      const m = r.re.exec(buf);
      if (!m) continue;
      let groups = groupsOf(r, m);
      let matchedLines: string[] | null = null;
      if (lines) {
        const split = splitMatch(buf, m, lines, groups);
        matchedLines = split.matched;
        this.lines = split.unmatched;
      }
      return this.finish(i, groups, matchedLines ? matchedLines.join('\n') + '\n' : buf, pre, time);
    }
    return NO_VERDICT;
  }

  /** processLine's last step for a single-line filter whose prefregex and failregexes were run
   * over many lines at once (batch.ts): failregex `ri` matched `text` (the <F-CONTENT>, see
   * contentOf) with `groups`; ri < 0 when none did. Lines must come in order (connection ids). */
  processMatched(text: string, pre: Groups, ri: number, groups: Groups | null, time: number): LineVerdict {
    if (ri < 0 || !groups) return NO_VERDICT;
    return this.finish(ri, groups, text, pre, time);
  }

  /** ignoreregex, the prefregex's groups, connection ids, the address: the verdict of a line
   * failregex `i` matched. */
  private finish(i: number, groups: Groups, ignoreText: string, pre: Groups | null, time: number): LineVerdict {
    const ignored = this.ignoredBy(ignoreText);
    if (ignored >= 0) return { ignored, matched: i };
    return this.finishMerged(i, pre ? withPrefix(pre, groups) : groups, time);
  }

  /** finish() after the ignoreregexes, on the prefregex's and failregex `i`'s groups together:
   * the part that needs this run's connection cache. merge.ts calls it on the main thread, in
   * line order, for lines a worker matched without the cache. */
  finishMerged(i: number, groups: Groups, time: number): LineVerdict {
    const mlfid = groups.mlfid;
    if (mlfid !== undefined) {
      groups = this.mergeFailure(mlfid, groups, time);
      if (groups.nofail) return { matched: i, nofail: true };
    }
    const host = hostOf(groups);
    if (host === undefined) {
      if (mlfid !== undefined) groups.mlfpending = '1'; // waits for a later line with the address
      return { matched: i };
    }
    return { matched: i, failure: { regex: i, host, nofail: !!groups.nofail, captures: userCaptures(groups) } };
  }

  /** The first ignoreregex that matches `text`, -1 if none. */
  ignoredBy(text: string): number {
    const ig = this.filter.ignoreregex;
    let lower: string | undefined;
    const lowerOf = (): string => (lower ??= text.toLowerCase());
    for (let i = 0; i < ig.length; i++) {
      if (mayMatch(ig[i], text, lowerOf) && ig[i].re.test(text)) return i;
    }
    return -1;
  }

  // fail2ban's _mergeFailure: lines of one connection (same mlfid) add up to one failure;
  // <F-NOFAIL>/<F-MLFGAINED> mark success, <F-MLFFORGET> ends the connection. A group that is
  // gone is set to undefined, which every reader treats as absent, rather than deleted: delete
  // turns each group object into a dictionary, slow for every later access (sshd's main thread).
  private mergeFailure(mlfid: string, fail: Groups, time: number): Groups {
    // entries are in creation order and made with the time of their line: once swept at a
    // time, none expires before the time changes (a sweep per line cost an iterator each)
    if (time !== this.sweptAt) {
      for (const [k, e] of this.mlfid) {
        if (e.time >= time - MLFID_TTL) break;
        this.mlfid.delete(k);
      }
      this.sweptAt = time;
    }
    const entry = this.mlfid.get(mlfid);
    let flags = 0;
    if (fail.mlfgained) {
      flags |= 8 | 1;
      if (!fail.nofail) fail.nofail = fail.mlfgained;
    } else if (fail.nofail) flags |= 1;
    if (fail.mlfforget !== undefined) {
      if (fail.mlfforget) flags |= 2;
      fail.mlfforget = undefined;
    }
    let users: string[] | undefined;
    if (entry) {
      const g = entry.groups;
      if (fail.user !== undefined && !entry.users.includes(fail.user)) entry.users.push(fail.user);
      users = entry.users;
      if (g.nofail !== undefined) {
        g.nofail = undefined;
        flags |= 4;
      }
      if (g.mlfgained !== undefined) {
        g.mlfgained = undefined;
        flags |= 4;
      }
      if (flags & 8) g.mlfpending = undefined;
      for (const k in fail) if (fail[k] !== undefined) g[k] = fail[k];
      fail = g;
      if (flags & 2) this.mlfid.delete(mlfid);
    } else if (!(flags & 2)) {
      users = fail.user !== undefined ? [fail.user] : [];
      this.mlfid.set(mlfid, { groups: fail, users, time });
      if (this.mlfid.size > MLFID_MAX) this.mlfid.delete(this.mlfid.keys().next().value as string);
    }
    const pending = fail.mlfpending;
    fail.mlfpending = undefined;
    if (pending || (users && users.length > 1)) {
      // failures before, or several users tried: a later success does not clear them
      fail.nofail = undefined;
      fail.mlfgained = undefined;
    }
    return fail;
  }
}

/** `{ ...pre, ...groups without its undefined values }`, written out: object spread over the
 * many shapes of group objects (one per regex) took V8's slow generic path, and its results
 * slowed mergeFailure too (sshd, 1M lines: matcher CPU about 8.4 s -> 5.6 s). */
export function withPrefix(pre: Groups, groups: Groups): Groups {
  const out: Groups = {};
  for (const k in pre) out[k] = pre[k];
  for (const k in groups) {
    const v = groups[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Lines of the buffer the match covers (minus <SKIPLINES>), and the ones it leaves. */
function splitMatch(buf: string, m: RegExpExecArray, lines: string[], groups: Groups): { matched: string[]; unmatched: string[] } {
  const start = buf.lastIndexOf('\n', m.index) + 1;
  const endNl = buf.indexOf('\n', Math.max(m.index, m.index + m[0].length - 1));
  const end = endNl < 0 ? buf.length : endNl + 1;
  const c1 = countNl(buf, 0, start);
  const c2 = countNl(buf, 0, end);
  const matched = lines.slice(c1, c2);
  const unmatched = lines.slice(0, c1);
  const skipped: string[] = [];
  for (let n = 0; groups[`skiplines${n}`] !== undefined || `skiplines${n}` in groups; n++) {
    const s = groups[`skiplines${n}`];
    if (s) skipped.push(...s.split('\n').filter((x, i, a) => i < a.length - 1 || x !== ''));
  }
  let from = 0;
  for (const s of skipped) {
    const at = matched.indexOf(s, from);
    if (at >= 0) {
      unmatched.push(...matched.splice(at, 1));
      from = at;
    }
  }
  unmatched.push(...lines.slice(c2));
  return { matched, unmatched };
}

function countNl(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i >= 0 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

