// Locations the harness needs, found from the compiled file (dist/bench/*.js).
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The logban command under test; LOGBAN_CLI points the harness at another build. */
export const cliPath = process.env.LOGBAN_CLI ? path.resolve(process.env.LOGBAN_CLI) : path.join(repoRoot, 'bin', 'logban.js');
export const bundledFilters = path.join(repoRoot, 'config', 'filter.d');
