/**
 * Network-namespace kit for kernel integration tests.
 *
 * Builds two fresh namespaces joined by a veth pair, never touching the host's own network:
 *
 *   server ns  (veth0) 198.18.0.1/24  <---->  (veth1) 198.18.0.2/24 attacker ns
 *                                                      198.18.0.3/24 neighbour (same veth)
 *
 * Usage (tap):
 *
 *   import { createNetns } from '../helpers/netns.js';
 *   const net = await createNetns('backends');          // names lb-backends-<pid>-<n>-{s,a}
 *   t.teardown(() => net.destroy());                     // always removes both namespaces
 *   await net.listen(80);                                // TCP server in the server ns
 *   await net.nft(net.server, ['list', 'ruleset']);      // nft inside a namespace only
 *   const ok = await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 80, 1000);
 *
 * tcpConnect() resolves true when the handshake completes within timeoutMs and false when it
 * does not (dropped SYN, refused connection). Connections come from a small node agent that
 * runs inside each namespace for the life of the kit, so a probe costs milliseconds, not a node
 * start-up. Namespaces are also removed on process exit (and on SIGINT/SIGTERM) if destroy() was
 * never reached.
 * Requires root and `ip`; skip the test when `canUseNetns()` is false.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { runProcess, type ProcessResult } from './process.js';

export type ExecResult = ProcessResult;

export interface NetnsKit {
  /** namespace names */
  readonly server: string;
  readonly attacker: string;
  readonly serverAddr: string;
  readonly attackerAddr: string;
  /** a second source address on the attacker side, for "the neighbour is not banned" checks */
  readonly neighbourAddr: string;
  /** run argv inside a namespace (no shell); never rejects on a non-zero exit */
  exec(ns: string, argv: string[], input?: string): Promise<ExecResult>;
  /** `nft ARGS` inside a namespace; rejects with nft's stderr on failure; resolves stdout */
  nft(ns: string, args: string[], input?: string): Promise<string>;
  /** accept TCP connections on this port in the server namespace (all its addresses) */
  listen(port: number): Promise<void>;
  /** true when a TCP handshake from srcAddr (in fromNs) to dstAddr:port completes in time */
  tcpConnect(fromNs: string, srcAddr: string, dstAddr: string, port: number, timeoutMs: number): Promise<boolean>;
  /** kill the agents and delete both namespaces; safe to call twice */
  destroy(): Promise<void>;
}

/** Root and `ip netns` available? */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs inside a namespace: reads JSON requests, one per line; answers `{id, ok, error?}`. */
const AGENT = `
const net = require('node:net');
const rl = require('node:readline').createInterface({ input: process.stdin });
const servers = [];
const reply = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
rl.on('line', (line) => {
  const m = JSON.parse(line);
  if (m.op === 'listen') {
    const s = net.createServer((c) => { c.on('error', () => {}); c.end(); });
    s.on('error', (e) => reply({ id: m.id, ok: false, error: e.message }));
    s.listen({ port: m.port, host: '0.0.0.0' }, () => reply({ id: m.id, ok: true }));
    servers.push(s);
  } else if (m.op === 'connect') {
    let done = false;
    const finish = (ok, error) => { if (!done) { done = true; sock.destroy(); reply({ id: m.id, ok, error }); } };
    const sock = net.connect({ host: m.dst, port: m.port, localAddress: m.src });
    sock.setTimeout(m.timeoutMs, () => finish(false, 'timeout'));
    sock.on('connect', () => finish(true));
    sock.on('error', (e) => finish(false, e.code || e.message));
  }
});
rl.on('close', () => process.exit(0));
`;

interface Agent {
  proc: ChildProcessWithoutNullStreams;
  waiting: Map<number, (m: { ok: boolean; error?: string }) => void>;
}

let kitCount = 0;
const live = new Set<string>();
let exitHookInstalled = false;

function deleteNamespacesSync(names: Iterable<string>): void {
  for (const n of names) {
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

function run(cmd: string, argv: string[], input?: string): Promise<ExecResult> {
  return runProcess(cmd, argv, { input: input ?? '' });
}

async function must(cmd: string, argv: string[]): Promise<void> {
  const r = await run(cmd, argv);
  if (r.code !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr.trim()}`);
}

/** Create the namespaces, veth pair and addresses. `area` goes into the names. */
export async function createNetns(area: string): Promise<NetnsKit> {
  const base = `lb-${area}-${process.pid}-${++kitCount}`;
  const server = `${base}-s`;
  const attacker = `${base}-a`;
  const serverAddr = '198.18.0.1';
  const attackerAddr = '198.18.0.2';
  const neighbourAddr = '198.18.0.3';
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => deleteNamespacesSync(live));
    // a killed test (tap's timeout sends SIGTERM) skips 'exit': clean up, then die of the signal
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        deleteNamespacesSync(live);
        process.kill(process.pid, sig);
      });
    }
  }
  const agents: Agent[] = [];
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    for (const a of agents) a.proc.kill('SIGKILL');
    for (const ns of [server, attacker]) {
      await run('ip', ['netns', 'del', ns]);
      live.delete(ns);
    }
  };

  try {
    for (const ns of [server, attacker]) {
      await must('ip', ['netns', 'add', ns]);
      live.add(ns);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // the pair is created inside the server namespace and its peer moved straight to the
    // attacker's, so no interface ever exists in the host namespace
    await must('ip', ['-n', server, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', attacker]);
    await must('ip', ['-n', server, 'addr', 'add', `${serverAddr}/24`, 'dev', 'veth0']);
    await must('ip', ['-n', attacker, 'addr', 'add', `${attackerAddr}/24`, 'dev', 'veth1']);
    await must('ip', ['-n', attacker, 'addr', 'add', `${neighbourAddr}/24`, 'dev', 'veth1']);
    await must('ip', ['-n', server, 'link', 'set', 'veth0', 'up']);
    await must('ip', ['-n', attacker, 'link', 'set', 'veth1', 'up']);
  } catch (e) {
    await destroy();
    throw e;
  }

  let nextId = 0;
  const agentFor = new Map<string, Agent>();
  const agent = (ns: string): Agent => {
    const have = agentFor.get(ns);
    if (have) return have;
    const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', AGENT], { stdio: ['pipe', 'pipe', 'pipe'] });
    const a: Agent = { proc, waiting: new Map() };
    proc.stderr.resume();
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { id: number; ok: boolean; error?: string };
      a.waiting.get(m.id)?.(m);
      a.waiting.delete(m.id);
    });
    proc.on('close', () => {
      for (const w of a.waiting.values()) w({ ok: false, error: 'agent ended' });
      a.waiting.clear();
    });
    agents.push(a);
    agentFor.set(ns, a);
    return a;
  };
  const ask = (ns: string, req: Record<string, unknown>): Promise<{ ok: boolean; error?: string }> => {
    if (destroyed) return Promise.reject(new Error('netns kit already destroyed'));
    const a = agent(ns);
    const id = ++nextId;
    return new Promise((resolve) => {
      a.waiting.set(id, resolve);
      a.proc.stdin.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  };

  return {
    server, attacker, serverAddr, attackerAddr, neighbourAddr,
    exec: (ns, argv, input) => run('ip', ['netns', 'exec', ns, ...argv], input),
    async nft(ns, args, input) {
      const r = await run('ip', ['netns', 'exec', ns, 'nft', ...args], input);
      if (r.code !== 0) throw new Error(`nft ${args.join(' ')} in ${ns} failed: ${r.stderr.trim()}`);
      return r.stdout;
    },
    async listen(port) {
      const r = await ask(server, { op: 'listen', port });
      if (!r.ok) throw new Error(`cannot listen on ${port} in ${server}: ${r.error}`);
    },
    async tcpConnect(fromNs, srcAddr, dstAddr, port, timeoutMs) {
      return (await ask(fromNs, { op: 'connect', src: srcAddr, dst: dstAddr, port, timeoutMs })).ok;
    },
    destroy,
  };
}
