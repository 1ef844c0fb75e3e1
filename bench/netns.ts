// A network namespace of the bench's own: the kernel scenarios never touch the host's
// firewall. Deleting the namespace drops every nft table and set made inside it.
import { spawnSync } from 'node:child_process';
import { hasProgram, run, failureText, type RunOptions, type RunResult } from './proc.js';

export function kernelSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and nft)';
  if (!hasProgram('ip')) return 'needs iproute2 (`ip`)';
  if (!hasProgram('nft')) return 'needs nftables (`nft`)';
  return null;
}

/** Namespaces still alive, so an interrupted run can remove them (see removeAllSync). */
const live = new Set<string>();

export function removeAllNamespacesSync(): void {
  for (const name of live) spawnSync('ip', ['netns', 'del', name]);
  live.clear();
}

export class BenchNetns {
  private constructor(readonly name: string) {}

  static async create(tag: string): Promise<BenchNetns> {
    const name = `lb-bench-${tag}-${process.pid}`;
    const r = await run('ip', ['netns', 'add', name]);
    if (r.code !== 0) throw new Error(`ip netns add ${name}: ${failureText(r)}`);
    // loopback up, so a daemon inside can bind its metrics endpoint to 127.0.0.1
    live.add(name);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return new BenchNetns(name);
  }

  /** argv that runs `cmd args` inside the namespace */
  argv(cmd: string, args: readonly string[]): string[] {
    return ['netns', 'exec', this.name, cmd, ...args];
  }

  exec(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return run('ip', this.argv(cmd, args), opts);
  }

  async destroy(): Promise<void> {
    await run('ip', ['netns', 'del', this.name]);
    live.delete(this.name);
  }
}
