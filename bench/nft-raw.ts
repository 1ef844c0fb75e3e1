// nft used directly, without logban: the kernel's own pace for the same elements, and the
// one-process-per-ban way fail2ban's nftables action works. Runs inside the namespace.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface NftCall {
  ok: boolean;
  seconds: number;
  error: string;
  stdout: string;
}

export function nft(args: readonly string[], input?: string): NftCall {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('nft', args, { input, encoding: 'utf8', maxBuffer: 256 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { ok: r.status === 0, seconds, stdout: r.stdout ?? '',
    error: (r.stderr ?? '').trim().slice(0, 500) || String(r.error ?? '') };
}

export function nftOrThrow(args: readonly string[], input?: string): NftCall {
  const r = nft(args, input);
  if (!r.ok) throw new Error(`nft ${args.join(' ')}: ${r.error}`);
  return r;
}

export function createTimeoutSet(table: string, set: string): void {
  nftFile(false, `add table inet ${table}\nadd set inet ${table} ${set} { type ipv4_addr; flags timeout; }\n`);
}

/** Runs `nft [-j] -f FILE` on a file written beforehand: only nft and the kernel are timed.
 * (A file, not stdin: nft opens /dev/stdin by name, which fails on the socket node passes.) */
function nftFile(json: boolean, text: string): NftCall {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-bench-nft-'));
  try {
    const file = path.join(dir, 'batch');
    fs.writeFileSync(file, text);
    return nftOrThrow(json ? ['-j', '-f', file] : ['-f', file]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One `nft -f` transaction adding every address, as nft text (1,000 elements a line). */
export function addAllText(table: string, set: string, addrs: readonly string[], timeout: number, refresh = false): NftCall {
  return nftFile(false, elementText(table, set, addrs, timeout, refresh));
}

function elementText(table: string, set: string, addrs: readonly string[], timeout: number, refresh = false): string {
  // refresh: also `expires T`, which restarts the clock of an element already in the set (what
  // logban must send so a re-ban extends the ban); nft needs ~1.8x the time to parse it
  const extra = refresh ? ` expires ${timeout}s` : '';
  const lines: string[] = [];
  for (let i = 0; i < addrs.length; i += 1000) {
    const part = addrs.slice(i, i + 1000).map((a) => `${a} timeout ${timeout}s${extra}`).join(', ');
    lines.push(`add element inet ${table} ${set} { ${part} }`);
  }
  return lines.join('\n') + '\n';
}

/** The same elements split into `parts` files, one `nft -f` each, all started at once (files
 * written beforehand): the best raw pace on several cores, since nft's parsing runs in parallel
 * and only the kernel's commits take turns. */
export async function addAllTextParallel(table: string, set: string, addrs: readonly string[], timeout: number, parts: number): Promise<NftCall> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-bench-nft-'));
  try {
    const share = Math.ceil(addrs.length / parts);
    const files: string[] = [];
    for (let k = 0; k < parts; k++) {
      const file = path.join(dir, `batch${k}`);
      fs.writeFileSync(file, elementText(table, set, addrs.slice(k * share, (k + 1) * share), timeout));
      files.push(file);
    }
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(files.map((file) => new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn('nft', ['-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('error', (e) => resolve({ code: null, err: e.message }));
      child.on('close', (code) => resolve({ code, err }));
    })));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const bad = results.find((r) => r.code !== 0);
    if (bad) throw new Error(`nft -f (one of ${parts} at once): ${bad.err.trim().slice(0, 500)}`);
    return { ok: true, seconds, error: '', stdout: '' };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The same transaction as one JSON document (`nft -j -f`). */
export function addAllJson(table: string, set: string, addrs: readonly string[], timeout: number): NftCall {
  const doc = { nftables: [{ add: { element: { family: 'inet', table, name: set,
    elem: addrs.map((a) => ({ elem: { val: a, timeout } })) } } }] };
  return nftFile(true, JSON.stringify(doc));
}

/** One `nft add element` process per address, sequentially. */
export function addEachProcess(table: string, set: string, addrs: readonly string[], timeout: number): NftCall {
  const t0 = process.hrtime.bigint();
  for (const a of addrs) nftOrThrow(['add', 'element', 'inet', table, set, `{ ${a} timeout ${timeout}s }`]);
  return { ok: true, seconds: Number(process.hrtime.bigint() - t0) / 1e9, error: '', stdout: '' };
}

/** True when every address is in the set (one `get element` for all of them). */
export function allPresent(table: string, set: string, addrs: readonly string[]): boolean {
  return nft(['get', 'element', 'inet', table, set, `{ ${addrs.join(', ')} }`]).ok;
}

/** Evenly spaced sample of a list, for cheap membership checks. */
export function sample<T>(list: readonly T[], n: number): T[] {
  if (list.length <= n) return [...list];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(list[Math.floor((i * (list.length - 1)) / (n - 1))]!);
  return out;
}
