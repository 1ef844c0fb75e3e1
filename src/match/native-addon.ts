// Loading the matcher's optional native addons (native-rules/<dir>/build/Release/<name>.node).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/src/match (3 levels up). */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The addon built by `npm install` (native-rules/build.mjs), or null when it is not built, was
 * built for another Node, or the environment variable `off` is "0" (to compare with the
 * JavaScript path, which gives the same results). */
export function loadNativeAddon<T>(dir: string, name: string, off: string): T | null {
  const file = path.join(root, 'native-rules', dir, 'build', 'Release', `${name}.node`);
  if (process.env[off] === '0' || !existsSync(file)) return null;
  try {
    return createRequire(import.meta.url)(file) as T;
  } catch {
    return null;
  }
}
