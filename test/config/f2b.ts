// Test helper: what fail2ban's own reader (the installed Python package) makes of a config dir.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fixtures } from '../helpers/paths.js';

const python = '/usr/bin/python3';

/** Why the comparison cannot run, or false when fail2ban's Python package is available. */
export const noFail2ban: string | false =
  fs.existsSync(python) && fs.existsSync('/usr/lib/python3/dist-packages/fail2ban/client/jailreader.py')
    ? false
    : 'fail2ban (Python package) not installed';

export interface Fail2banJail {
  enabled?: boolean;
  error?: string;
  failregex?: string[];
  ignoreregex?: string[];
  journalmatch?: string[];
  usedns?: string;
  maxlines?: number;
  prefregex?: string;
  datepattern?: string;
  maxretry?: number;
  findtime?: number;
  bantime?: number;
  ignoreip?: string[];
}

/** Run test/fixtures/config/f2b-dump.py over `configDir`. */
export function fail2banView(configDir: string): Record<string, Fail2banJail> {
  const r = spawnSync(python, [path.join(fixtures, 'config', 'f2b-dump.py'), configDir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`f2b-dump.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, Fail2banJail>;
}
