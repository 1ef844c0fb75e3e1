// Turns one `journalctl -o json` entry into the syslog-style line fail2ban's systemd backend
// produces, so the same filters match: "ISO-local-time host ident[pid]: message".
// Field values in journalctl's JSON are a string, an array of byte values (non-UTF-8 or binary
// data), null (too large), or an array of those when the field repeats.

export type JournalValue = string | number[] | null | Array<string | number[] | null>;
export type JournalEntry = Record<string, JournalValue | undefined>;

const BACKSLASH_N = Buffer.from('\\n');

function isByteArray(v: unknown): v is number[] {
  return Array.isArray(v) && (v.length === 0 || typeof v[0] === 'number');
}

/** A field as bytes; repeated values are joined with a space (as fail2ban does). */
export function fieldBytes(v: JournalValue | undefined): Buffer | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (isByteArray(v)) return Buffer.from(v);
  const parts = v.map((x) => fieldBytes(x)).filter((b): b is Buffer => b !== undefined);
  if (parts.length === 0) return undefined;
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(Buffer.from(' '));
    out.push(p);
  });
  return Buffer.concat(out);
}

function fieldString(v: JournalValue | undefined): string | undefined {
  const b = fieldBytes(v);
  return b && b.length > 0 ? b.toString('utf8') : undefined;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Microseconds since the epoch as a local-time ISO string, like Python's
 * datetime.isoformat() on a naive local datetime (microseconds only when non-zero). */
export function isoLocal(usec: bigint): string {
  const ms = Number(usec / 1000n);
  const micro = Number(usec % 1000000n);
  const d = new Date(ms);
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return micro ? `${base}.${pad(micro, 6)}` : base;
}

/** Realtime of the entry in microseconds: the source's own timestamp when it has one. */
export function entryTimeUsec(e: JournalEntry): bigint | undefined {
  for (const k of ['_SOURCE_REALTIME_TIMESTAMP', '__REALTIME_TIMESTAMP']) {
    const v = fieldString(e[k]);
    if (v && /^\d+$/.test(v)) return BigInt(v);
  }
  return undefined;
}

/** The log line for one entry, without the trailing newline. Newlines inside the message
 * become a literal "\n" so one entry stays one line. */
export function formatJournalEntry(e: JournalEntry, fallbackUsec: bigint): Buffer {
  const head: string[] = [isoLocal(entryTimeUsec(e) ?? fallbackUsec)];
  const host = fieldString(e._HOSTNAME);
  if (host) head.push(host);
  const ident = fieldString(e.SYSLOG_IDENTIFIER) ?? fieldString(e._COMM);
  if (ident) {
    let tag = ident;
    const pid = fieldString(e.SYSLOG_PID) ?? fieldString(e._PID);
    if (pid) tag += /^\d+$/.test(pid) ? `[${Number(pid)}]` : `[${pid}]`;
    tag += ':';
    head.push(tag);
    if (tag === 'kernel:') {
      const mono = fieldString(e._SOURCE_MONOTONIC_TIMESTAMP) ?? fieldString(e.__MONOTONIC_TIMESTAMP);
      if (mono && /^\d+$/.test(mono)) head.push(`[${(Number(mono) / 1e6).toFixed(6).padStart(12)}]`);
    }
  }
  const msg = fieldBytes(e.MESSAGE) ?? Buffer.alloc(0);
  const prefix = Buffer.from(`${head.join(' ')} `.replace(/\n/g, '\\n'), 'utf8');
  return Buffer.concat([prefix, escapeNewlines(msg)]);
}

function escapeNewlines(b: Buffer): Buffer {
  let i = b.indexOf(0x0a);
  if (i < 0) return b;
  const parts: Buffer[] = [];
  let from = 0;
  while (i >= 0) {
    parts.push(b.subarray(from, i), BACKSLASH_N);
    from = i + 1;
    i = b.indexOf(0x0a, from);
  }
  parts.push(b.subarray(from));
  return Buffer.concat(parts);
}

/** journalmatch lines to journalctl arguments: terms within a line are ANDed (for different
 * fields), lines are alternatives joined with '+'. Quotes group words as in a shell. */
export function journalMatchArgs(lines: readonly string[]): string[] {
  const groups = lines.map(splitWords).filter((g) => g.length > 0);
  const out: string[] = [];
  groups.forEach((g, i) => {
    if (i > 0 && g[0] !== '+' && out[out.length - 1] !== '+') out.push('+');
    out.push(...g);
  });
  return out;
}

function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) words.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) words.push(cur);
  return words;
}
