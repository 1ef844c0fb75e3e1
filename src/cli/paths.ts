// Where state and the control socket live when the user did not say. Root gets the system
// paths; anyone else gets paths they can write, so `logban run` works without root (in dry-run)
// and `logban status` finds that daemon without extra flags.
import os from 'node:os';
import path from 'node:path';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function defaultStateDir(): string {
  if (isRoot()) return '/var/lib/logban';
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'logban');
}

export function defaultSocket(): string {
  if (isRoot()) return '/run/logban/logban.sock';
  const runtime = process.env.XDG_RUNTIME_DIR;
  return runtime ? path.join(runtime, 'logban', 'logban.sock') : path.join(defaultStateDir(), 'logban.sock');
}

export const DEFAULT_CONFIG_DIR = '/etc/logban';
