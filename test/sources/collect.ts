// Test helpers for sources: collect emitted chunks as lines, wait for a condition.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Chunk } from '../../src/types.js';

export class LineCollector {
  readonly lines: string[] = [];
  readonly bySource = new Map<string, string[]>();
  readonly chunks: Chunk[] = [];
  /** chunks that did not end with '\n' (allowed only at EOF in replay) */
  unaligned = 0;

  readonly onChunk = (c: Chunk): void => {
    this.chunks.push(c);
    if (c.buf.length === 0 || c.buf[c.buf.length - 1] !== 0x0a) this.unaligned++;
    let text = c.buf.toString('utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const lines = text.split('\n');
    let list = this.bySource.get(c.source);
    if (!list) this.bySource.set(c.source, (list = []));
    for (const l of lines) {
      this.lines.push(l);
      list.push(l);
    }
  };
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A fresh temporary directory, removed when the test ends. */
export function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `logban-${prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
