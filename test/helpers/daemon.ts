/**
 * Runs the real daemon (`node bin/logban.js run ...`) as a child process for integration tests,
 * optionally inside a network namespace, and reads what a user would read: its log on stderr,
 * the control socket, the kernel's nft sets.
 *
 *   import { startDaemon, writeConfigDir, nftSetElements } from '../helpers/daemon.js';
 *   const configDir = writeConfigDir(dir, { jails: { sshd: { logpath: log, maxretry: '3' } },
 *                                           settings: { reconcile_interval: '1' } });
 *   const d = await startDaemon({ netns: net.server, configDir, stateDir, socket, backend: 'nftables' });
 *   t.teardown(() => d.stop());
 *   await d.waitForLog(/\[sshd\] Ban 198\.18\.0\.2/, 15_000);
 *   const elems = await nftSetElements(net.server, 'sshd');   // [{ addr, timeout, expires }]
 *   await d.kill9();                                           // crash, no clean-up
 *
 * startDaemon() resolves once the daemon logged "logban PID running" (control socket up, bans
 * restored, sources started) and rejects with its stderr if it exits before; with --log-level
 * WARNING or ERROR, once the control socket answers. The control
 * socket is a path in the filesystem, so the client side works from any namespace.
 * Requires a build (`npx tsc -p tsconfig.json`): bin/logban.js runs dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundledConfig, cliPath } from './paths.js';
import { runProcess, type ProcessResult } from './process.js';
import { callDaemon } from '../../src/control/client.js';
import type { BanListEntry, StatusResult } from '../../src/control/protocol.js';
import { setStem } from '../../src/backends/nft-ruleset.js';

export interface StartDaemonOptions {
  /** run inside this network namespace (`ip netns exec NS node ...`); omit for the host's */
  netns?: string;
  configDir: string;
  stateDir: string;
  socket: string;
  backend?: 'nftables' | 'dry-run' | 'auto' | 'xdp';
  /** HOST:PORT for the metrics endpoint; default '' (disabled) */
  metrics?: string;
  /** default INFO */
  logLevel?: string;
  extraArgs?: readonly string[];
  /** how long to wait for the "running" line; default 30 s (the machine is shared) */
  readyTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningDaemon {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly socket: string;
  /** when the process was spawned (performance.now()) and when it said it was running */
  readonly spawnedAt: number;
  readonly readyAt: number;
  /** resolves when the process has exited */
  readonly exited: Promise<ExitInfo>;
  /** still running? */
  alive(): boolean;
  /**
   * Resolves with the first match of `re` in the daemon's stderr at or after character offset
   * `from` (default 0: anything logged so far counts; give a line start, e.g. an earlier
   * stderrText().length); a match lies within complete lines. Rejects after timeoutMs, or when
   * the daemon exits without logging it, with the log tail in the message.
   */
  waitForLog(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpExecArray>;
  /** everything the daemon wrote on stderr so far */
  stderrText(): string;
  /** SIGTERM (or another signal) and wait for the exit; SIGKILL after timeoutMs. Safe to call twice. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** SIGKILL: a crash, nothing is flushed */
  kill9(): Promise<ExitInfo>;
  /** control socket calls, as `logban status --json` / `logban list --json` see them */
  status(jail?: string): Promise<StatusResult>;
  list(jail?: string): Promise<BanListEntry[]>;
}

/** Start `logban run` and wait until it is running. */
export async function startDaemon(o: StartDaemonOptions): Promise<RunningDaemon> {
  const args = [
    cliPath, 'run',
    '--config-dir', o.configDir,
    '--backend', o.backend ?? 'nftables',
    '--state-dir', o.stateDir,
    '--socket', o.socket,
    '--metrics', o.metrics ?? '',
    '--log-level', o.logLevel ?? 'INFO',
    ...(o.extraArgs ?? []),
  ];
  const [cmd, argv] = o.netns
    ? ['ip', ['netns', 'exec', o.netns, process.execPath, ...args]]
    : [process.execPath, args];
  const spawnedAt = performance.now();
  // `ip netns exec` execs the command in place, so proc.pid is the daemon's own pid
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  const watchers = new Set<() => void>();
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (s: string) => {
    text += s;
    for (const w of [...watchers]) w();
  });
  let exitInfo: ExitInfo | null = null;
  const exited = new Promise<ExitInfo>((resolve) => {
    proc.on('close', (code, signal) => {
      exitInfo = { code, signal };
      for (const w of [...watchers]) w();
      resolve(exitInfo);
    });
    proc.on('error', (err) => {
      text += `\n[spawn failed: ${err.message}]\n`;
      exitInfo = { code: null, signal: null };
      for (const w of [...watchers]) w();
      resolve(exitInfo);
    });
  });

  const tail = () => text.split('\n').slice(-25).join('\n');
  const waitForLog = (re: RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const flags = re.flags.replace('g', '');
      const search = new RegExp(re.source, flags);
      // search each complete line once: rescanning the whole log on every chunk is quadratic and,
      // with the daemon logging 100,000 "Restore Ban" lines into a pipe, it would slow the daemon
      let pos = from;
      const check = (): boolean => {
        const end = exitInfo ? text.length : text.lastIndexOf('\n') + 1;
        if (end > pos) {
          const m = search.exec(text.slice(pos, end));
          pos = end;
          if (m) {
            done();
            resolve(m);
            return true;
          }
        }
        if (exitInfo) {
          done();
          reject(new Error(`daemon exited (${exitInfo.code ?? exitInfo.signal}) without logging ${re}; log tail:\n${tail()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`daemon did not log ${re} within ${timeoutMs} ms; log tail:\n${tail()}`));
      }, timeoutMs);
      const w = () => void check();
      const done = () => {
        clearTimeout(timer);
        watchers.delete(w);
      };
      watchers.add(w);
      check();
    });

  const signal = async (sig: NodeJS.Signals, timeoutMs: number): Promise<ExitInfo> => {
    if (exitInfo) return exitInfo;
    proc.kill(sig);
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };

  try {
    const quiet = /^(WARNING|ERROR)$/i.test(o.logLevel ?? 'INFO');
    if (!quiet) await waitForLog(/logban \d+ running/, o.readyTimeoutMs ?? 30_000);
    else {
      // "running" is a NOTICE: below that level, ready = the control socket answers (it opens
      // after bans are restored, just before the sources start)
      const deadline = performance.now() + (o.readyTimeoutMs ?? 30_000);
      for (;;) {
        const info = exitInfo as ExitInfo | null;
        if (info) throw new Error(`daemon exited (${info.code ?? info.signal}) before its control socket answered; log tail:\n${tail()}`);
        if (await callDaemon(o.socket, { cmd: 'status', args: {} }, 1000).then(() => true, () => false)) break;
        if (performance.now() > deadline) throw new Error(`the daemon's control socket did not answer in time; log tail:\n${tail()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    await signal('SIGKILL', 1000);
    throw err;
  }
  const readyAt = performance.now();

  return {
    proc,
    pid: proc.pid ?? -1,
    socket: o.socket,
    spawnedAt,
    readyAt,
    exited,
    alive: () => exitInfo === null,
    waitForLog,
    stderrText: () => text,
    stop: (sig = 'SIGTERM', timeoutMs = 15_000) => signal(sig, timeoutMs),
    kill9: () => signal('SIGKILL', 1000),
    status: (jail) => callDaemon(o.socket, { cmd: 'status', args: jail === undefined ? {} : { jail } }),
    list: (jail) => callDaemon(o.socket, { cmd: 'list', args: jail === undefined ? {} : { jail } }),
  };
}

export type CliResult = ProcessResult;

/** Run the `logban` command line (a client command such as `ban sshd 1.2.3.4`) and collect it. */
export function runCli(args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  return runProcess(process.execPath, [cliPath, ...args], { timeoutMs });
}

export interface ConfigDirSpec {
  /** jails to enable, each with its options (logpath, maxretry, port, filter...); every other
   * jail of the bundled jail.conf is disabled */
  jails: Record<string, Record<string, string>>;
  /** [logban] settings written to logban.local */
  settings?: Record<string, string>;
  /** extra filters for filter.d: name -> file text */
  filters?: Record<string, string>;
}

/**
 * A configuration directory as an administrator would have it: the bundled jail.conf and
 * filter.d, plus a jail.local enabling only the given jails (and a logban.local).
 * Returns `dir`. Call again to rewrite jail.local/logban.local (for reload tests).
 */
export function writeConfigDir(dir: string, spec: ConfigDirSpec): string {
  fs.mkdirSync(dir, { recursive: true });
  const bundledJail = fs.readFileSync(path.join(bundledConfig, 'jail.conf'), 'utf8');
  fs.writeFileSync(path.join(dir, 'jail.conf'), bundledJail);
  const filterDir = path.join(dir, 'filter.d');
  if (!fs.existsSync(filterDir)) fs.cpSync(path.join(bundledConfig, 'filter.d'), filterDir, { recursive: true });
  for (const [name, body] of Object.entries(spec.filters ?? {})) fs.writeFileSync(path.join(filterDir, `${name}.conf`), body);
  const sections: string[] = [];
  const bundledJails = [...bundledJail.matchAll(/^\[([^\]]+)\]/gm)].map((m) => m[1]).filter((n) => n !== 'DEFAULT' && n !== 'INCLUDES');
  for (const name of bundledJails) {
    if (!(name in spec.jails)) sections.push(`[${name}]\nenabled = false\n`);
  }
  for (const [name, opts] of Object.entries(spec.jails)) {
    const lines = [`[${name}]`, 'enabled = true', ...Object.entries(opts).map(([k, v]) => `${k} = ${v}`)];
    sections.push(`${lines.join('\n')}\n`);
  }
  fs.writeFileSync(path.join(dir, 'jail.local'), `# written by test/helpers/daemon.ts\n${sections.join('\n')}`);
  const settings = Object.entries(spec.settings ?? {}).map(([k, v]) => `${k} = ${v}`);
  fs.writeFileSync(path.join(dir, 'logban.local'), `[logban]\n${settings.join('\n')}\n`);
  return dir;
}

export interface SetElement {
  addr: string;
  /** seconds the element was added with; null = permanent */
  timeout: number | null;
  /** seconds left; null = permanent */
  expires: number | null;
}

/** Name of a jail's kernel set (`sshd-v4`), as the nftables backend creates it. */
export function jailSetName(jail: string, family: 4 | 6 = 4, kind: 'address' | 'network' = 'address'): string {
  return `${setStem(jail)}-v${family}${kind === 'network' ? 'net' : ''}`;
}

/**
 * Elements of a jail's set in a namespace (`nft -j list set`), sentinel excluded; null when the
 * set (or table) does not exist. Listing is slow on big sets (1.3 s at 100,000): fine for checks,
 * never in a loop over a big set.
 */
export async function nftSetElements(netns: string, jail: string, opts: { family?: 4 | 6; table?: string } = {}): Promise<SetElement[] | null> {
  const family = opts.family ?? 4;
  const r = await execIn(netns, ['nft', '-j', 'list', 'set', 'inet', opts.table ?? 'logban', jailSetName(jail, family)]);
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) return null;
    throw new Error(`nft list set in ${netns} failed: ${r.stderr.trim()}`);
  }
  type Elem = string | { elem: { val: string; timeout?: number; expires?: number } };
  const doc = JSON.parse(r.stdout) as { nftables: Array<{ set?: { elem?: Elem[] } }> };
  const elems = doc.nftables.find((o) => o.set)?.set?.elem ?? [];
  const sentinel = family === 4 ? '255.255.255.255' : 'ff00::';
  return elems
    .map((e): SetElement => (typeof e === 'string'
      ? { addr: e, timeout: null, expires: null }
      : { addr: e.elem.val, timeout: e.elem.timeout ?? null, expires: e.elem.expires ?? null }))
    .filter((e) => e.addr !== sentinel);
}

/**
 * Wait until every address in `addrs` is in the jail's kernel set; resolves with the set's
 * elements. The daemon logs "[jail] Ban ADDR" when it decides, a few ms before the batched nft
 * transaction lands (longer on a loaded machine), so check the kernel with this, not right after
 * the log line.
 */
export function waitForBanned(netns: string, jail: string, addrs: readonly string[], timeoutMs = 15_000): Promise<SetElement[]> {
  return waitFor(`${addrs.join(', ')} in the kernel set of ${jail}`, async () => {
    const elems = await nftSetElements(netns, jail);
    return elems && addrs.every((a) => elems.some((e) => e.addr === a)) ? elems : undefined;
  }, timeoutMs, 100);
}

/** Run argv inside a namespace without a shell; never rejects on a non-zero exit. */
export function execIn(netns: string, argv: readonly string[], input?: string): Promise<CliResult> {
  return runProcess('ip', ['netns', 'exec', netns, ...argv], { input: input ?? '' });
}

/** GET http://HOST:PORT/metrics from inside a namespace (the endpoint is bound to its loopback). */
export async function scrapeMetrics(netns: string, hostPort: string): Promise<string> {
  const script = `fetch(${JSON.stringify(`http://${hostPort}/metrics`)}).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); })`;
  const r = await execIn(netns, [process.execPath, '-e', script]);
  if (r.code !== 0) throw new Error(`scraping ${hostPort} in ${netns} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Sum of a metric's samples in Prometheus text (all label sets, or those matching `labels`). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** Poll `probe` until it returns a value other than undefined/false, or throw after timeoutMs. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A syslog line the bundled sshd filter counts as one failure of `addr`, stamped now. */
export function sshdFailure(addr: string, when = new Date(), user = 'root'): string {
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][when.getMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${mon} ${String(when.getDate()).padStart(2, ' ')} ${p(when.getHours())}:${p(when.getMinutes())}:${p(when.getSeconds())}`;
  return `${stamp} srv sshd[${1000 + (when.getMilliseconds() % 9000)}]: Failed password for ${user} from ${addr} port ${40000 + (when.getSeconds() % 20000)} ssh2\n`;
}
