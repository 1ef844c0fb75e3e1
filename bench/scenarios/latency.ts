// e. Latency: a running daemon follows a log that grows by 1,000 lines/s; every third line
// completes a ban of a fresh address. Time from the append of that line to the address being
// in the kernel set.
//
// How it is measured: both ends are stamped by this process on one monotonic clock. The start
// is taken right after write() of the line that reaches maxretry returns (the bytes are in the
// page cache, visible to the daemon). The end is the arrival of the kernel's own netlink
// notification for the new set element, read from `nft monitor new elements` running in the
// namespace: the kernel sends it when the transaction commits, so it says "in the set" without
// polling, and the pipe hop only adds to the measured latency (it is counted against logban).
// The daemon's own log line about the ban, when it writes one naming the address, splits the
// time into detection and kernel application.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeConfigDir } from '../config-dir.js';
import { BENCH_NET, BENCH_NET_SIZE, poolAddress } from '../generate/addresses.js';
import { apacheDate } from '../generate/apache.js';
import { BenchNetns, kernelSkipReason } from '../netns.js';
import { allPresentIn, findJailSetIn } from '../nft-probe.js';
import { cliNodeFlags, cliPath } from '../paths.js';
import { check, emptyOutcome, SkipScenario, target, type Scenario } from '../scenario.js';
import { mean, percentile } from '../stats.js';
import { XMLRPC } from './filters.js';

const JAIL = 'bench-latency';
const MAXRETRY = 3;
const LINES_PER_SEC = 1000;
const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}\b/g;

const now = (): number => Number(process.hrtime.bigint()) / 1e6; // ms
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects "first time seen" per IPv4 address from a child's output lines. */
class AddressWatch {
  readonly seen = new Map<string, number>();
  readonly lines: Array<{ t: number; text: string }> = [];
  private tail = '';
  constructor(proc: ChildProcess, stream: 'stdout' | 'stderr', private readonly only?: RegExp) {
    proc[stream]!.on('data', (b: Buffer) => {
      const t = now();
      const parts = (this.tail + b.toString('utf8')).split('\n');
      this.tail = parts.pop()!;
      for (const text of parts) {
        if (this.lines.length < 100_000) this.lines.push({ t, text });
        if (this.only && !this.only.test(text)) continue;
        for (const a of text.match(IPV4) ?? []) if (!this.seen.has(a)) this.seen.set(a, t);
      }
    });
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, step = 5): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(step);
  }
  return cond();
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const kill = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('close', () => {
      clearTimeout(kill);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

function attackLine(addr: string): string {
  return `${addr} - - [${apacheDate(Math.floor(Date.now() / 1000))}] "POST /xmlrpc.php HTTP/1.0" 200 412 "-" "Mozilla/4.0"\n`;
}

export const latencyScenario: Scenario = {
  id: 'e',
  title: 'latency: log line appended -> address in the kernel set (daemon, nftables, 1,000 lines/s)',
  async run(ctx) {
    const skip = kernelSkipReason();
    if (skip) throw new SkipScenario(skip);
    if (!fs.existsSync(cliPath)) throw new SkipScenario('bin/logban.js does not exist yet');
    const bans = ctx.smoke ? 20 : 1000;
    const logFile = path.join(ctx.tmpDir, 'access.log');
    fs.writeFileSync(logFile, '');
    const stateDir = path.join(ctx.tmpDir, 'state');
    fs.mkdirSync(stateDir);
    const configDir = writeConfigDir(path.join(ctx.tmpDir, 'config'), {
      jails: [{ name: JAIL, filter: XMLRPC.name, logpath: logFile, maxretry: MAXRETRY, bantime: 3600, findtime: 600 }],
      filters: [XMLRPC],
    });
    const ns = await BenchNetns.create('e');
    const procs: ChildProcess[] = [];
    const fd = fs.openSync(logFile, 'a');
    try {
      const monitor = spawn('ip', ns.argv('nft', ['monitor', 'new', 'elements']), { stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(monitor);
      const kernel = new AddressWatch(monitor, 'stdout');
      await sleep(200); // let the monitor subscribe before anything can be added
      const daemon = spawn('ip', ns.argv(process.execPath, [...cliNodeFlags, cliPath, 'run', '--config-dir', configDir,
        '--backend', 'nftables', '--state-dir', stateDir, '--socket', path.join(stateDir, 'logban.sock')]),
      { stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(daemon);
      const banLog = new AddressWatch(daemon, 'stdout', /\bban/i);
      const daemonErr = new AddressWatch(daemon, 'stderr', /\bban/i);
      const daemonTail = (): string => [...banLog.lines, ...daemonErr.lines].slice(-8).map((l) => l.text).join(' | ');

      ctx.log(`daemon starting in ${ns.name}`);
      const ready = await waitFor(async () => {
        if (daemon.exitCode !== null) return true;
        return (await findJailSetIn(ns, JAIL)) !== null;
      }, 30_000, 100);
      if (daemon.exitCode !== null || !ready) throw new Error(`daemon did not come up: ${daemonTail()}`);
      const where = (await findJailSetIn(ns, JAIL))!;

      // warm-up ban: proves the file is followed end to end before the clock starts
      const warm = poolAddress(BENCH_NET, BENCH_NET_SIZE, 5);
      const warmDeadline = Date.now() + 30_000;
      while (!kernel.seen.has(warm) && Date.now() < warmDeadline) {
        for (let i = 0; i < MAXRETRY; i++) fs.writeSync(fd, attackLine(warm));
        await waitFor(() => kernel.seen.has(warm), 3000);
      }
      if (!kernel.seen.has(warm)) throw new Error(`warm-up ban never reached the kernel: ${daemonTail()}`);

      ctx.log(`${bans} bans at ${LINES_PER_SEC} lines/s`);
      const addrs = Array.from({ length: bans }, (_, i) => poolAddress(BENCH_NET, BENCH_NET_SIZE, 1000 + i));
      const appended = new Map<string, number>();
      const totalLines = bans * MAXRETRY;
      const t0 = now();
      let written = 0;
      while (written < totalLines) {
        const due = Math.min(totalLines, Math.floor(((now() - t0) * LINES_PER_SEC) / 1000) + 1);
        if (due > written) {
          let text = '';
          const completing: string[] = [];
          for (let j = written; j < due; j++) {
            const a = addrs[Math.floor(j / MAXRETRY)]!;
            text += attackLine(a);
            if (j % MAXRETRY === MAXRETRY - 1) completing.push(a);
          }
          fs.writeSync(fd, text);
          const t = now();
          for (const a of completing) appended.set(a, t);
          written = due;
        }
        await sleep(1);
      }
      const writeSeconds = (now() - t0) / 1000;
      await waitFor(() => addrs.every((a) => kernel.seen.has(a)), 15_000, 20);

      const lat: number[] = [];
      const detect: number[] = [];
      for (const a of addrs) {
        const t = appended.get(a)!;
        const k = kernel.seen.get(a);
        if (k !== undefined) lat.push(k - t);
        const l = banLog.seen.get(a) ?? daemonErr.seen.get(a);
        if (l !== undefined) detect.push(l - t);
      }
      const out = emptyOutcome();
      const p50 = percentile(lat, 50);
      const p99 = percentile(lat, 99);
      Object.assign(out.metrics, {
        bans, lines: totalLines, append_rate_lines_per_sec: totalLines / writeSeconds,
        reached_kernel: lat.length, missing: bans - lat.length,
        p50_ms: p50, p90_ms: percentile(lat, 90), p99_ms: p99, max_ms: Math.max(...lat), mean_ms: mean(lat),
        set: `${where.table} ${where.set}`,
      });
      if (detect.length >= bans * 0.9) {
        Object.assign(out.metrics, { ban_log_p50_ms: percentile(detect, 50), ban_log_p99_ms: percentile(detect, 99) });
        out.notes.push('ban_log_*: append -> the daemon\'s log line announcing the ban (detection, before the kernel).');
      } else {
        out.notes.push('The daemon wrote no log line per ban naming the address, so detection and kernel time are not split.');
      }
      out.checks.push(check('every ban reached the kernel set (nft monitor)', bans, lat.length));
      const probe = addrs.filter((_, i) => i % Math.max(1, Math.floor(bans / 100)) === 0);
      out.checks.push(check('sampled addresses present (nft get element)', 'yes', (await allPresentIn(ns, where, probe)) ? 'yes' : 'no'));
      out.targets.push(target('p50 append -> kernel', lat.length ? p50 : null, 'ms', '<= 10', (v) => v <= 10));
      out.targets.push(target('p99 append -> kernel', lat.length ? p99 : null, 'ms', '<= 50', (v) => v <= 50));
      out.notes.push('Start: right after write() of the line that reaches maxretry returns. End: arrival of the ' +
        "kernel's netlink notification of the new element (`nft monitor new elements` in the namespace), read by " +
        'the same process on the same monotonic clock: no polling interval, and the monitor hop is counted ' +
        'against logban. The daemon runs with its default batching window, `--backend nftables`, under ' +
        '`ip netns exec`. A warm-up ban precedes the timed ones.');
      return out;
    } finally {
      fs.closeSync(fd);
      for (const p of procs.reverse()) await stop(p);
      await ns.destroy();
    }
  },
};
