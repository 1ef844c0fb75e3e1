// Loads logban's XDP object, pins its maps and attaches it to interfaces, through bpftool and
// ip (spawned with argument vectors, never a shell). Map contents are not this module's job.
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';

/** Map names in native-rules/xdp/logban_xdp.c; each is pinned as <pinDir>/<name>. */
export const MAP_NAMES = ['lb_ban_v4', 'lb_ban_v6', 'lb_net_v4', 'lb_net_v6', 'lb_stats'] as const;
export type MapName = (typeof MAP_NAMES)[number];
export const PROGRAM_NAME = 'logban_xdp';
/** The attached program is pinned here too, so operators can find it with bpftool. */
export const PROGRAM_PIN = 'prog';

export const defaultPinDir = '/sys/fs/bpf/logban';
export const defaultObjectPath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..', '..', '..',
  'native-rules', 'xdp', 'build', 'logban_xdp.o',
);

const BPF_FS_MAGIC = 0xcafe4a11;

export type XdpMode = 'native' | 'generic' | 'offload';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command; inside `netns` (a name under /run/netns) when given. nsenter switches only
 * the network namespace, so the host's bpffs stays visible (`ip netns exec` remounts /sys). */
export function runCommand(cmd: string, args: readonly string[], netns?: string): Promise<CommandResult> {
  const argv = netns ? ['--net=/run/netns/' + netns, cmd, ...args] : [...args];
  const bin = netns ? 'nsenter' : cmd;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new UserError(`${bin} is not installed (needed by the XDP backend)`) : err);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function mustRun(what: string, cmd: string, args: readonly string[], netns?: string): Promise<CommandResult> {
  const r = await runCommand(cmd, args, netns);
  if (r.code !== 0) {
    const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').filter((l) => !l.startsWith('Warning') && l.trim()).join('; ');
    throw new Error(`${what}: ${cmd} ${args.join(' ')} failed: ${detail}`);
  }
  return r;
}

async function isBpffs(dir: string): Promise<boolean> {
  try {
    return (await fsp.statfs(dir)).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** Make sure pinDir exists on a bpf filesystem, mounting bpffs at /sys/fs/bpf if that is where
 * it should be and nothing is mounted there yet (minimal systems and containers). */
export async function ensurePinDir(pinDir: string, log: (m: string) => void): Promise<void> {
  if (pinDir.includes('.')) {
    // libbpf rewrites '.' to '_' in pin paths, so such a directory would never be found again.
    throw new UserError(`xdp pin directory ${pinDir}: must not contain '.'`);
  }
  if (existsSync(pinDir)) {
    if (!(await isBpffs(pinDir))) throw new UserError(`xdp pin directory ${pinDir} is not on a bpf filesystem`);
    return;
  }
  const sysBpf = '/sys/fs/bpf';
  if (pinDir.startsWith(sysBpf + '/') && !(await isBpffs(sysBpf))) {
    await mustRun('mounting bpffs', 'mount', ['-t', 'bpf', 'bpf', sysBpf]);
    log(`xdp: mounted a bpf filesystem at ${sysBpf}`);
  }
  if (!(await isBpffs(path.dirname(pinDir)))) {
    throw new UserError(`xdp pin directory ${pinDir}: its parent is not on a bpf filesystem`);
  }
  await fsp.mkdir(pinDir, { mode: 0o700 });
}

/** Which maps are already pinned in pinDir. */
export function pinnedMaps(pinDir: string): MapName[] {
  return MAP_NAMES.filter((m) => existsSync(path.join(pinDir, m)));
}

/**
 * Load the program. Maps already pinned are reused (so bans survive a restart); otherwise the
 * object's maps are created and pinned. Returns the path of the freshly pinned program, a
 * temporary name until installProgramPin() moves it over the previous one.
 */
export async function loadProgram(objectPath: string, pinDir: string): Promise<string> {
  if (!existsSync(objectPath)) {
    throw new UserError(`XDP object ${objectPath} is missing: run \`npm run build:xdp\``);
  }
  const pinned = pinnedMaps(pinDir);
  const progPin = path.join(pinDir, `${PROGRAM_PIN}_new_${process.pid}`);
  await fsp.rm(progPin, { force: true });
  const args = ['prog', 'load', objectPath, progPin, 'type', 'xdp'];
  if (pinned.length === MAP_NAMES.length) {
    for (const m of MAP_NAMES) args.push('map', 'name', m, 'pinned', path.join(pinDir, m));
  } else {
    // A partial set cannot be reused with the program; start the maps afresh.
    for (const m of pinned) await fsp.rm(path.join(pinDir, m), { force: true });
    args.push('pinmaps', pinDir);
  }
  await mustRun('loading the XDP program', 'bpftool', args);
  return progPin;
}

/**
 * Pin into pinDir the maps of logban's program still attached to one of the interfaces, when
 * pinDir lacks them. The kernel keeps an attached program (and so its maps: bans and drop
 * counters) after the daemon is gone, but not always its pins: a bpffs that the daemon mounted
 * in the private mount namespace of `ip netns exec` (or of a container) vanishes with it.
 * Adopting the maps lets a restart go on dropping without a gap and keep the counters.
 * Returns the interface whose program's maps were adopted, or null when there was none.
 */
export async function adoptAttachedMaps(pinDir: string, interfaces: readonly string[], netns?: string): Promise<string | null> {
  if (pinnedMaps(pinDir).length === MAP_NAMES.length) return null;
  for (const iface of interfaces) {
    const a = await xdpAttachment(iface, netns);
    if (a.progName !== PROGRAM_NAME || a.progId === undefined) continue;
    const prog = JSON.parse((await mustRun('reading the attached XDP program', 'bpftool', ['-j', 'prog', 'show', 'id', String(a.progId)])).stdout) as { map_ids?: number[] };
    const ids = new Map<string, number>();
    for (const id of prog.map_ids ?? []) {
      const r = await runCommand('bpftool', ['-j', 'map', 'show', 'id', String(id)]);
      if (r.code === 0) ids.set((JSON.parse(r.stdout) as { name?: string }).name ?? '', id);
    }
    if (!MAP_NAMES.every((m) => ids.has(m))) continue; // an older program of another layout
    for (const m of MAP_NAMES) {
      const pin = path.join(pinDir, m);
      await fsp.rm(pin, { force: true });
      await mustRun('adopting the attached program\'s maps', 'bpftool', ['map', 'pin', 'id', String(ids.get(m)), pin]);
    }
    return iface;
  }
  return null;
}

/** Replace <pinDir>/prog by the newly loaded program's pin. */
export async function installProgramPin(pinDir: string, newPin: string): Promise<void> {
  const finalPin = path.join(pinDir, PROGRAM_PIN);
  await fsp.rm(finalPin, { force: true });
  await fsp.rename(newPin, finalPin);
}

export interface XdpAttachment {
  mode: XdpMode | null;
  progId?: number;
  progName?: string;
}

interface IpLinkXdp {
  ifname?: string;
  xdp?: { mode?: number; prog?: { id?: number; name?: string } };
}

/** What XDP program (if any) is attached to iface. Throws UserError if iface does not exist. */
export async function xdpAttachment(iface: string, netns?: string): Promise<XdpAttachment> {
  const r = await runCommand('ip', ['-j', '-d', 'link', 'show', 'dev', iface], netns);
  if (r.code !== 0) {
    throw new UserError(`xdp_interfaces: interface ${iface} does not exist${netns ? ` in namespace ${netns}` : ''}`);
  }
  const links = JSON.parse(r.stdout) as IpLinkXdp[];
  const xdp = links[0]?.xdp;
  if (!xdp || xdp.mode === undefined || xdp.mode === 0) return { mode: null };
  // iproute2 reports the kernel's XDP_ATTACHED_* value: 1 driver, 2 skb (generic), 3 hardware.
  const mode: XdpMode = xdp.mode === 1 ? 'native' : xdp.mode === 3 ? 'offload' : 'generic';
  return { mode, progId: xdp.prog?.id, progName: xdp.prog?.name };
}

/**
 * Attach the pinned program to iface, atomically replacing our earlier program if there is one
 * (no gap in dropping). Native mode when the driver supports it, generic otherwise.
 */
export async function attachProgram(
  iface: string,
  progPin: string,
  netns?: string,
  want: 'auto' | 'native' | 'generic' = 'auto',
): Promise<XdpMode> {
  const current = await xdpAttachment(iface, netns);
  if (current.mode !== null && current.progName !== PROGRAM_NAME) {
    throw new UserError(
      `xdp_interfaces: interface ${iface} already runs another XDP program ` +
        `(id ${current.progId ?? '?'}, name ${current.progName ?? '?'}); refusing to replace it`,
    );
  }
  const attach = (type: string) =>
    runCommand('bpftool', ['net', 'attach', type, 'pinned', progPin, 'dev', iface, 'overwrite'], netns);
  // A device cannot run native and generic XDP at once: switching modes needs a detach first.
  if (want !== 'auto' && current.mode !== null && current.mode !== want) {
    await detachProgram(iface, netns);
    current.mode = null;
  }
  // Otherwise keep the mode it already has, so the replacement is atomic.
  if (current.mode === 'generic' || want === 'generic') {
    await mustRun(`attaching XDP to ${iface}`, 'bpftool', ['net', 'attach', 'xdpgeneric', 'pinned', progPin, 'dev', iface, 'overwrite'], netns);
    return 'generic';
  }
  const native = await attach('xdpdrv');
  if (native.code === 0) return 'native';
  if (current.mode === 'native' || want === 'native') throw new Error(`attaching XDP to ${iface} in native mode failed: ${native.stderr.trim()}`);
  await mustRun(`attaching XDP to ${iface}`, 'bpftool', ['net', 'attach', 'xdpgeneric', 'pinned', progPin, 'dev', iface, 'overwrite'], netns);
  return 'generic';
}

/** Detach logban's program from iface (another program, or none, is left alone). */
export async function detachProgram(iface: string, netns?: string): Promise<boolean> {
  const current = await xdpAttachment(iface, netns);
  if (current.mode === null || current.progName !== PROGRAM_NAME) return false;
  const type = current.mode === 'native' ? 'xdpdrv' : current.mode === 'offload' ? 'xdpoffload' : 'xdpgeneric';
  await mustRun(`detaching XDP from ${iface}`, 'bpftool', ['net', 'detach', type, 'dev', iface], netns);
  return true;
}
