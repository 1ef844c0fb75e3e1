// Test helper: write a small configuration tree into a fresh temporary directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { UserError } from '../../src/errors.js';

/** Create `files` (relative path -> content) under a new temp dir, removed at teardown. */
export function writeTree(t: Test, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return dir;
}

/** Assert fn throws a UserError whose message matches every pattern; returns the message. */
export function userError(t: Test, fn: () => unknown, ...patterns: RegExp[]): string {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof UserError, `throws UserError (got ${(err as Error).name}: ${(err as Error).message})`);
    const msg = (err as Error).message;
    for (const p of patterns) t.match(msg, p);
    return msg;
  }
  t.fail('expected a UserError, nothing was thrown');
  return '';
}
