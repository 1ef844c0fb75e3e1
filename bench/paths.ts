// Locations the harness needs, found from the compiled file (dist/bench/*.js).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The logban command under test; LOGBAN_CLI points the harness at another build. */
export const cliPath = process.env.LOGBAN_CLI ? path.resolve(process.env.LOGBAN_CLI) : path.join(repoRoot, 'bin', 'logban.js');
/** Node options on the CLI's `#!/usr/bin/env -S node ...` line: the harness runs it with this
 * Node (process.execPath) and these options, as the `logban` command runs. */
export const cliNodeFlags: string[] = (() => {
  const first = fs.existsSync(cliPath) ? fs.readFileSync(cliPath, 'utf8').split('\n', 1)[0] : '';
  const m = /^#!\S*env -S node((?: --[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
})();
export const bundledFilters = path.join(repoRoot, 'config', 'filter.d');
