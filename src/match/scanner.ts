// Finds, in one pass over a chunk, where the gated filters' literals occur (per line, the
// first one). Searching each literal separately (Buffer.indexOf) costs one pass over the chunk
// per literal, plus a call per hit; with a few filters of a few rare literals each that was most
// of the matcher's time (scenario c: 14 passes over every chunk). The native scanner
// (native-rules/scan-addon) tests, 32 positions a step, which of eight buckets of literals may
// start there (about 11 GB/s for 2 to 32 literals with AVX2), or two rare bytes of every literal
// (2.2 GB/s for 14), and hands back, per chunk, where each line's first literal is; it is used
// whenever it is built. Without it: RE2 over the alternation of the literals, one DFA pass
// (about 0.65 GB/s here whatever their number), or indexOf for up to four case-sensitive ones
// (one pass each at about 3.1 GB/s).
import RE2 from 're2';
import { loadNativeAddon } from './native-addon.js';

export interface ScanLiteral {
  text: string;
  caseInsensitive: boolean;
}

const MAX_INDEXOF_LITERALS = 4;
/** Above this many hits per line, an RE2 search per hit (about 2-3 us with its result object)
 * costs more than looking at every line: sshd's literals are on nearly every line. */
const MAX_RE2_HIT_DENSITY = 1 / 16;

/** Whether literals seen this often (occurrences per line) are looked for line by line. */
export function denseLiterals(density: number): boolean {
  return density > MAX_RE2_HIT_DENSITY;
}

interface ScanAddon {
  /** 2 AVX2, 1 SSE2, 0 none: this CPU or build has no vectors, and the scan would be slower
   * than RE2's */
  readonly vectors: number;
  /** vectors: 2 = AVX2 when the CPU has it (default), 1 = SSE2 only, 0 = none (tests) */
  create(literals: Buffer[], caseInsensitive: boolean[], sample: Buffer, vectors?: number): object;
  /** per line holding a literal, the offset of its first one, ascending */
  lineHits(scanner: object, chunk: Uint8Array): Int32Array;
  /** [lines, lines longer than maxLineLength without a literal, clean (1: the walk saw only
   * ASCII and no NUL; 0: it did not, or did not look), then per line holding a literal: its
   * number from 1, start, end ('\n' or the chunk's end)] */
  walkLines(scanner: object, chunk: Uint8Array, maxLineLength: number): Int32Array;
  /** the scan this scanner runs on this CPU */
  kernel(scanner: object): NativeKernel;
}

/** The native scans: eight buckets of literals known by two adjacent bytes (2 to 32 literals,
 * AVX2), a rare byte pair per literal (AVX2 or SSE2), or byte by byte (tests only). */
export type NativeKernel = 'buckets' | 'pairs-avx2' | 'pairs-sse2' | 'bytes';

let addon: ScanAddon | null | undefined;

/** The native scanner, or null when it is not built (`npm run build:native`), the machine is
 * not x86 (no vectors: slower than RE2), or LOGBAN_NATIVE_SCAN=0 turns it off (to compare). */
export function scanAddon(): ScanAddon | null {
  if (addon === undefined) {
    const a = loadNativeAddon<ScanAddon>('scan-addon', 'logban_scan', 'LOGBAN_NATIVE_SCAN');
    addon = a && a.vectors > 0 ? a : null;
  }
  return addon;
}

/** ASCII case folding is all the native scanner does; RE2 also folds k to the Kelvin sign and
 * s to the long s, and non-ASCII letters: such case-insensitive literals stay with RE2. */
function nativeFolds(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text) && !/[ks]/i.test(text);
}

export interface ScannerOptions {
  /** the literals' expected occurrences per line (from a sample), if known */
  density?: number;
  /** some of the log, to choose each literal's rarest bytes (native scanner) */
  sample?: Buffer;
  /** use the native scanner when it is built (default true) */
  native?: boolean;
  /** the native scanner's widest vectors: 2 (default) AVX2 if present, 1 SSE2, 0 none; for tests */
  vectors?: 0 | 1 | 2;
}

export class LiteralScanner {
  private readonly re: RE2 | null;
  private readonly lits: Buffer[];
  private readonly native: { addon: ScanAddon; handle: object } | null = null;

  /** every line is a candidate for the literal check: hits are too dense to scan for */
  private readonly everyLine: boolean;

  constructor(literals: readonly ScanLiteral[], opts: ScannerOptions = {}) {
    const seen = new Set<string>();
    const alts: string[] = [];
    const distinct: ScanLiteral[] = [];
    for (const l of literals) {
      const key = (l.caseInsensitive ? 'i:' : 's:') + l.text;
      if (seen.has(key) || l.text === '') continue;
      seen.add(key);
      distinct.push(l);
      const esc = l.text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
      alts.push(l.caseInsensitive ? `(?i:${esc})` : esc);
    }
    const plain = literals.every((l) => !l.caseInsensitive);
    const native = opts.native === false ? null : scanAddon();
    // the native scan hands back a chunk's hits in one call, so literals on nearly every line
    // (sshd's) cost it little: only the JavaScript scans look at every line instead
    const useNative = !!native && distinct.length >= 1 && distinct.length <= 256 &&
      distinct.every((l) => !l.caseInsensitive || nativeFolds(l.text));
    this.everyLine = !useNative && denseLiterals(opts.density ?? 0) && !(plain && alts.length <= MAX_INDEXOF_LITERALS);
    if (native && useNative) {
      // even for one literal: indexOf is one call per hit and per line skipped after it
      // (scenario a, one literal on 1 line in 7: 68 ms per 1M lines, native 11 ms)
      const handle = native.create(distinct.map((l) => Buffer.from(l.text, 'utf8')), distinct.map((l) => l.caseInsensitive),
        opts.sample ?? Buffer.alloc(0), opts.vectors ?? 2);
      this.native = { addon: native, handle };
      this.re = null;
      this.lits = [];
    } else if (plain && alts.length <= MAX_INDEXOF_LITERALS) {
      this.re = null;
      this.lits = [...new Set(literals.map((l) => l.text))].filter((s) => s !== '').map((s) => Buffer.from(s, 'utf8'));
    } else {
      this.re = this.everyLine ? null : new RE2(alts.join('|'), 'g');
      this.lits = [];
    }
  }

  get mode(): 'native' | 'indexOf' | 're2' | 'every line' {
    return this.everyLine ? 'every line' : this.native ? 'native' : this.re ? 're2' : 'indexOf';
  }

  /** Which native scan runs, or null when the scan is not native. */
  get kernel(): NativeKernel | null {
    return this.native ? this.native.addon.kernel(this.native.handle) : null;
  }

  /** The native scanner's walk of a chunk (ScanAddon.walkLines): only the lines holding a
   * literal are visited in JavaScript; null when the scan is not native. */
  walk(buf: Buffer, maxLineLength: number): Int32Array | null {
    return this.native ? this.native.addon.walkLines(this.native.handle, buf, maxLineLength) : null;
  }

  /** A cursor over one chunk; positions asked for must be line starts and must not decrease. */
  over(buf: Buffer): LineScanCursor {
    if (this.native) return new NativeCursor(this.native.addon.lineHits(this.native.handle, buf));
    return new ScanCursor(buf, this.re, this.lits, this.everyLine);
  }
}

export interface LineScanCursor {
  /** Byte offset of the first literal in the first line at or after `from` (a line start)
   * that holds one; -1 if none. */
  at(from: number): number;
}

/** Walks the native scanner's answer for a chunk: each line's first literal, in order. */
class NativeCursor implements LineScanCursor {
  private i = 0;
  constructor(private readonly hits: Int32Array) {}

  at(from: number): number {
    const hits = this.hits;
    while (this.i < hits.length && hits[this.i] < from) this.i++;
    return this.i < hits.length ? hits[this.i] : -1;
  }
}

export class ScanCursor implements LineScanCursor {
  /** per indexOf literal: its next occurrence at or after the last position asked, -1 none */
  private readonly next: number[];
  /** RE2: the last hit and where the search that found it started */
  private reHit = -2;
  private reFrom = -1;

  constructor(
    private readonly buf: Buffer, private readonly re: RE2 | null, private readonly lits: Buffer[],
    private readonly everyLine: boolean,
  ) {
    this.next = lits.map(() => -2);
  }

  /** Byte offset of the first occurrence of any literal at or after `from`; -1 if none. */
  at(from: number): number {
    if (this.everyLine) return from < this.buf.length ? from : -1;
    if (this.re) {
      if (this.reHit === -1 || (this.reHit >= from && this.reFrom <= from)) return this.reHit;
      this.re.lastIndex = from;
      const m = this.re.exec(this.buf);
      this.reFrom = from;
      this.reHit = m ? m.index : -1;
      return this.reHit;
    }
    let best = -1;
    for (let k = 0; k < this.lits.length; k++) {
      let p = this.next[k];
      if (p !== -1 && p < from) p = this.next[k] = this.buf.indexOf(this.lits[k], from);
      if (p >= 0 && (best < 0 || p < best)) best = p;
    }
    return best;
  }
}
