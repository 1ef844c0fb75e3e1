// Typed access to the native bpf() binding in native-rules/bpf-addon (built by node-gyp).
// Loaded lazily so that importing the XDP backend never fails on machines without it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../errors.js';

export interface BpfAddon {
  /** fd of a pinned BPF object (BPF_OBJ_GET) */
  objGet(pinPath: string): number;
  close(fd: number): void;
  /** insert/replace keys.length/keySize elements in one BPF_MAP_UPDATE_BATCH (or a loop of
   * single updates for map types without batch support); returns the count written */
  updateMany(fd: number, keys: Buffer, keySize: number, values: Buffer, valueSize: number): number;
  /** delete the keys, ignoring keys that are absent; returns how many were deleted */
  deleteMany(fd: number, keys: Buffer, keySize: number): number;
  /** the value, or null when the key is absent */
  lookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  /** kernel id of the map behind fd */
  mapId(fd: number): number;
  /** every key of the map, concatenated (keySize bytes each) */
  keys(fd: number, keySize: number): Buffer;
}

/** The compiled addon, relative to the repository root (dist/src/backends/bpf -> 4 levels up). */
export const addonPath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..', '..', '..', '..',
  'native-rules', 'bpf-addon', 'build', 'Release', 'logban_bpf.node',
);

let cached: BpfAddon | undefined;

/** Load the addon; throws a UserError saying how to build it when it is missing. */
export function loadBpfAddon(): BpfAddon {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new UserError(`the bpf addon is not built (${addonPath} is missing): run \`npm run build:addon\``);
  }
  const require = createRequire(import.meta.url);
  cached = require(addonPath) as BpfAddon;
  return cached;
}

/** The addon throws Errors whose `code` is the numeric errno; name it (ENOENT) for messages. */
export function errnoName(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^\d+$/.test(code)) return undefined;
  const n = Number(code);
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === n) return name;
  return undefined;
}
