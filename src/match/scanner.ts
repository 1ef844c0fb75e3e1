// Finds, in one pass over a chunk, the next place where any of the gated filters' literals
// occurs. Searching each literal separately (Buffer.indexOf) costs one pass over the chunk per
// literal; with a few filters of a few rare literals each that was most of the matcher's time
// (scenario c: 14 passes over every chunk). RE2 runs their alternation as one DFA pass instead
// (about 0.65 GB/s here whatever the number of literals). Up to four case-sensitive literals
// stay with indexOf instead, one pass each at about 3.1 GB/s: that is still the faster way.
import RE2 from 're2';

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

export class LiteralScanner {
  private readonly re: RE2 | null;
  private readonly lits: Buffer[];

  /** every line is a candidate for the literal check: hits are too dense to scan for */
  private readonly everyLine: boolean;

  /** `density`: the literals' expected occurrences per line (from a sample), if known. */
  constructor(literals: readonly ScanLiteral[], density = 0) {
    const seen = new Set<string>();
    const alts: string[] = [];
    for (const l of literals) {
      const key = (l.caseInsensitive ? 'i:' : 's:') + l.text;
      if (seen.has(key) || l.text === '') continue;
      seen.add(key);
      const esc = l.text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
      alts.push(l.caseInsensitive ? `(?i:${esc})` : esc);
    }
    const plain = literals.every((l) => !l.caseInsensitive);
    this.everyLine = false;
    if (plain && alts.length <= MAX_INDEXOF_LITERALS) {
      this.re = null;
      this.lits = [...new Set(literals.map((l) => l.text))].filter((s) => s !== '').map((s) => Buffer.from(s, 'utf8'));
    } else {
      this.everyLine = denseLiterals(density);
      this.re = this.everyLine ? null : new RE2(alts.join('|'), 'g');
      this.lits = [];
    }
  }

  get mode(): 'indexOf' | 're2' | 'every line' {
    return this.everyLine ? 'every line' : this.re ? 're2' : 'indexOf';
  }

  /** A cursor over one chunk; positions asked for must not decrease. */
  over(buf: Buffer): ScanCursor {
    return new ScanCursor(buf, this.re, this.lits, this.everyLine);
  }
}

export class ScanCursor {
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
