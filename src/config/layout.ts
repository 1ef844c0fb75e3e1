// Which files make up one logical configuration, in fail2ban's order:
//   NAME.conf, NAME.d/*.conf (sorted), NAME.local, NAME.d/*.local (sorted)
// Each then brings its own [INCLUDES] and `.local` companion (see ini.ts).
import fs from 'node:fs';
import path from 'node:path';
import { IniStore } from './ini.js';

function sortedInDir(dir: string, ext: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  // Python's sorted() on the glob result: plain code-point order.
  return names
    .filter((n) => n.endsWith(ext) && !n.startsWith('.'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => path.join(dir, n));
}

function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Existing files for `base` (a path without extension, e.g. `/etc/fail2ban/jail`), in order. */
export function layeredFiles(base: string): string[] {
  const dDir = base + '.d';
  return [base + '.conf', ...sortedInDir(dDir, '.conf'), base + '.local', ...sortedInDir(dDir, '.local')].filter(exists);
}

/** Read a layered configuration; `files` is empty when none of its files exist. */
export function readLayered(base: string): { store: IniStore; files: string[] } {
  const files = layeredFiles(base);
  return { store: IniStore.read(files), files };
}
