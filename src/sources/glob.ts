// Expansion of logpath globs (`*`, `?`, `[...]`, `[!...]`) with the semantics of Python's glob,
// which is what fail2ban uses: a wildcard never crosses '/', and never matches a leading dot.
// Node 20 has no fs.glob, and the hot path never touches this: it runs at start and on rescans.
import { promises as fsp } from 'node:fs';
import path from 'node:path';

const MAGIC = /[*?[]/;

export function hasGlobMagic(pattern: string): boolean {
  return MAGIC.test(pattern);
}

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

/** One path segment (no '/') as an anchored RegExp. An unclosed '[' is a literal, as in fnmatch. */
export function segmentToRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      let j = i + 1;
      if (segment[j] === '!') j++;
      if (segment[j] === ']') j++; // a ']' right after '[' or '[!' is a member
      while (j < segment.length && segment[j] !== ']') j++;
      if (j >= segment.length) {
        re += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, j);
      let negate = false;
      if (body.startsWith('!')) {
        negate = true;
        body = body.slice(1);
      }
      // Inside a class only '\', ']' and '^' need escaping; ranges like a-z stay as written.
      const cls = body.replace(/[\\\]^]/g, (m) => `\\${m}`);
      re += negate ? `[^/${cls}]` : `[${cls}]`;
      i = j;
    } else re += escapeRegExp(ch);
  }
  return new RegExp(`^${re}$`, 's');
}

/** Does a directory entry name match a glob segment? Leading dots must be matched literally. */
export function segmentMatches(segment: string, re: RegExp, name: string): boolean {
  if (name.startsWith('.') && !segment.startsWith('.')) return false;
  return re.test(name);
}

/** The longest leading directory of an absolute pattern that holds no wildcard. */
export function globBaseDir(pattern: string): string {
  const parts = path.resolve(pattern).split('/');
  const fixed: string[] = [];
  for (const p of parts.slice(0, -1)) {
    if (hasGlobMagic(p)) break;
    fixed.push(p);
  }
  return fixed.join('/') || '/';
}

/** Files (not directories) matching the pattern, sorted. A pattern without wildcards is
 * returned as is if it exists as a file. Unreadable directories are skipped silently: the
 * caller warns when nothing matches. */
export async function expandGlob(pattern: string): Promise<string[]> {
  const abs = path.resolve(pattern);
  if (!hasGlobMagic(abs)) {
    try {
      const st = await fsp.stat(abs);
      return st.isFile() ? [abs] : [];
    } catch {
      return [];
    }
  }
  const segments = abs.split('/').slice(1);
  const out: string[] = [];
  await walk('/', segments, 0, out);
  out.sort();
  return out;
}

async function walk(dir: string, segments: string[], i: number, out: string[]): Promise<void> {
  const seg = segments[i]!;
  const last = i === segments.length - 1;
  if (!hasGlobMagic(seg)) {
    const p = path.join(dir, seg);
    if (last) {
      if (await isFile(p)) out.push(p);
    } else await walk(p, segments, i + 1, out);
    return;
  }
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  const re = segmentToRegExp(seg);
  for (const name of names) {
    if (!segmentMatches(seg, re, name)) continue;
    const p = path.join(dir, name);
    if (last) {
      if (await isFile(p)) out.push(p);
    } else await walk(p, segments, i + 1, out);
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}
