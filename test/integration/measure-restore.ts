// Durability numbers of the real daemon (not a test: prints measurements).
//
//   npx tsc -p tsconfig.json && node dist/test/integration/measure-restore.js [options]
//     --bans N            active bans in the store for the restore measurement (100000)
//     --rotations N       rename rotations for the lines-lost measurement (1000)
//     --lines-per-file N  lines the writer appends between two rotations (100)
//     --only restore|rotation
//     --log-level L       the daemon's log level for the restore runs (INFO: one line per ban)
//     --set KEY=VALUE     extra [logban] setting for the restore runs (repeatable), e.g.
//                         --set batch_max_changes=100000
//
// 1. Restore: N active bans are written to the SQLite store through StateStore, then
//    `logban run --backend nftables` starts inside a fresh network namespace. Timed from the
//    spawn to "logban PID running" (the daemon restores and flushes every ban into the kernel
//    before it says so; at --log-level WARNING, to the control socket answering), then the set is listed once to check that all N elements are there.
//    Three starts: empty kernel; after kill -9 with the table still in the kernel; after
//    kill -9 plus `nft flush ruleset`. A start with an empty store gives the baseline.
// 2. Rotation: a writer appends at full speed and rename-rotates the file R times while the
//    daemon follows it (dry-run backend, inside a namespace); lines the daemon counted
//    (`logban status` lines) against lines written, for both rotated-file namings. A total:
//    lines lost and lines read twice would cancel out (the tests check exactness on small
//    cases: daemon-rotation, daemon-reload-lines).
// Needs root and `ip netns`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNetns, canUseNetns, type NetnsKit } from '../helpers/netns.js';
import { execIn, startDaemon, writeConfigDir, type RunningDaemon } from '../helpers/daemon.js';
import { fixtures } from '../helpers/paths.js';
import { StateStore } from '../../src/store/state-store.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const BANS = Number(arg('bans', '100000'));
const ROTATIONS = Number(arg('rotations', '1000'));
const PER_FILE = Number(arg('lines-per-file', '100'));
const ONLY = arg('only', '');
const LOG_LEVEL = arg('log-level', 'INFO');
const EXTRA_SETTINGS: Record<string, string> = Object.fromEntries(process.argv
  .flatMap((a, i) => (a === '--set' && i + 1 < process.argv.length ? [process.argv[i + 1]] : []))
  .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

/** Count the elements of a set by listing it once (slow on big sets; outside any timing). */
async function countElements(ns: string, set: string): Promise<number> {
  const r = await execIn(ns, ['nft', '-j', 'list', 'set', 'inet', 'logban', set]);
  if (r.code !== 0) return 0;
  const doc = JSON.parse(r.stdout) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
  return (doc.nftables.find((o) => o.set)?.set?.elem?.length ?? 1) - 1; // minus the sentinel
}

/** The i-th address from 198.18.16.0 on, inside 198.18.0.0/15 (room for 126,976; the veth
 * pair uses 198.18.0.0/24). */
function address(i: number): string {
  const n = ((198 << 24) >>> 0) + (18 << 16) + (16 << 8) + i;
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function restoredSeconds(d: RunningDaemon): number | null {
  // NOTICE: logged at the default level and at NOTICE; absent at WARNING and above
  const m = /restored (\d+) ban\(s\) in ([\d.]+) s/.exec(d.stderrText());
  return m ? Number(m[2]) : null;
}

async function measureRestore(): Promise<void> {
  if (BANS > 126_976) throw new Error('--bans: at most 126976 (addresses of 198.18.0.0/15)');
  const net = await createNetns('meas');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-meas-'));
  try {
    const log = path.join(dir, 'auth.log');
    fs.writeFileSync(log, '');
    const configDir = writeConfigDir(path.join(dir, 'config'), {
      jails: { sshd: { logpath: log, port: '22', maxretry: '3', bantime: '86400' } },
      settings: { reconcile_interval: '0', ...EXTRA_SETTINGS },
    });
    console.log(`daemon settings: ${JSON.stringify(EXTRA_SETTINGS)}, log level ${LOG_LEVEL}`);
    const stateDir = path.join(dir, 'state');
    const opts = { netns: net.server, configDir, stateDir, socket: path.join(dir, 'logban.sock'), readyTimeoutMs: 300_000, logLevel: LOG_LEVEL };

    // baseline: the same start with an empty store
    const base = await startDaemon({ ...opts, stateDir: path.join(dir, 'state-empty') });
    const baseline = (base.readyAt - base.spawnedAt) / 1000;
    await base.kill9();
    await net.nft(net.server, ['flush', 'ruleset']);

    const t0 = performance.now();
    const store = StateStore.open(stateDir);
    const now = Date.now() / 1000;
    for (let i = 0; i < BANS; i++) {
      store.recordBan({ jail: 'sshd', addr: address(i), family: 4, bannedAt: now, expires: now + 86400 });
    }
    store.flush();
    store.close();
    console.log(`store: ${BANS} active bans written in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    console.log(`baseline: spawn -> running with an empty store: ${baseline.toFixed(2)} s`);

    for (const situation of ['empty kernel', 'after kill -9, table still in the kernel', 'after kill -9 + nft flush ruleset']) {
      if (situation.includes('flush')) await net.nft(net.server, ['flush', 'ruleset']);
      const d = await startDaemon(opts);
      const total = (d.readyAt - d.spawnedAt) / 1000;
      const own = restoredSeconds(d);
      const inKernel = await countElements(net.server, 'sshd-v4');
      const line = `restore ${BANS} bans, ${situation}: spawn -> running (all bans applied) ${total.toFixed(2)} s; ` +
        `daemon's own restore step ${own?.toFixed(2) ?? '?'} s; elements in the kernel set: ${inKernel}` +
        (inKernel === BANS ? '' : ` (EXPECTED ${BANS})`);
      console.log(line);
      await d.kill9();
    }
  } finally {
    await net.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runWriter(file: string, naming: string): Promise<{ lines: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(fixtures, 'integration', 'rotating-writer.mjs'), file, String(ROTATIONS), String(PER_FILE), naming], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { lines: number; seconds: number }) : reject(new Error(`writer exited ${code}`))));
  });
}

async function measureRotation(net: NetnsKit, naming: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-meas-rot-'));
  try {
    const log = path.join(dir, 'app.log');
    fs.writeFileSync(log, '');
    const configDir = writeConfigDir(path.join(dir, 'config'), {
      jails: { sshd: { logpath: log, port: '22', maxretry: '3', bantime: '600' } },
    });
    const d = await startDaemon({ netns: net.server, configDir, stateDir: path.join(dir, 'state'), socket: path.join(dir, 'logban.sock'), backend: 'dry-run' });
    const lines = async () => (await d.status('sshd')).jails[0].lines;
    const w = await runWriter(log, naming);
    // wait until the count reaches what was written, or stops moving for 5 s
    let seen = await lines();
    let still = performance.now();
    while (seen < w.lines && performance.now() - still < 5000) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await lines();
      if (now !== seen) still = performance.now();
      seen = now;
    }
    console.log(`rotation (${naming}): ${ROTATIONS} rename rotations, writer ${w.lines} lines in ${w.seconds.toFixed(2)} s ` +
      `(${Math.round(w.lines / w.seconds)} lines/s); daemon counted ${seen}; lost ${Math.max(0, w.lines - seen)}` +
      (seen > w.lines ? `; EXTRA ${seen - w.lines} (read twice)` : ''));
    const warnings = d.stderrText().split('\n').filter((l) => /WARNING|ERROR/.test(l));
    if (warnings.length) console.log(`  daemon warnings: ${warnings.length}, first: ${warnings[0]}`);
    await d.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!canUseNetns()) {
    console.error('needs root and ip netns');
    process.exit(2);
  }
  console.log(`measure-restore: ${new Date().toISOString()}, ${os.cpus().length} cpu(s), load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (ONLY !== 'rotation') await measureRestore();
  if (ONLY !== 'restore') {
    const net = await createNetns('measrot');
    try {
      for (const naming of ['numbered', 'overwrite']) await measureRotation(net, naming);
    } finally {
      await net.destroy();
    }
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
