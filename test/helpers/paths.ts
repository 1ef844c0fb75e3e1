// Tests run from dist/test/...; fixtures and config live in the source tree.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root (the folder holding package.json). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const fixtures = path.join(repoRoot, 'test', 'fixtures');
export const bundledConfig = path.join(repoRoot, 'config');
export const cliPath = path.join(repoRoot, 'bin', 'logban.js');
