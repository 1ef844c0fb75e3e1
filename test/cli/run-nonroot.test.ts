// `logban run` without root, as a first-time user would try it: no --backend, --state-dir or
// --socket. DESIGN.md: `auto` falls back to dry-run and says so in its log; the README: state
// and socket go to ~/.local/state/logban (or $XDG_RUNTIME_DIR), and `logban status` finds that
// daemon without flags. As root the test runs the daemon as user nobody (setpriv); it never
// runs the nftables backend, since nobody cannot.

import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { writeConfigDir } from '../helpers/daemon.js';
import { runProcess, type ProcessResult } from '../helpers/process.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

/** argv prefix that runs a command as an unprivileged user: setpriv to nobody when we are root. */
// `env -u NODE_OPTIONS`: the test runner's instrumentation, inherited through NODE_OPTIONS, would
// try to write its records under the repository, which nobody may not do.
const asUser: string[] = isRoot
  ? ['env', '-u', 'NODE_OPTIONS', 'setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath]
  : [process.execPath];

/** Why the test cannot run here, or false. */
function cannotRun(): string | false {
  if (process.platform !== 'linux') return 'Linux only';
  if (!isRoot) return false;
  // nobody must be able to read the build and the native modules where they are
  const probe = spawnSync(asUser[0], [...asUser.slice(1), '-e', `
    const fs = require('fs');
    for (const f of process.argv.slice(1)) fs.accessSync(f, fs.constants.R_OK);`,
  cliPath, path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), path.join(repoRoot, 'node_modules', 're2', 'build', 'Release', 're2.node'),
  path.join(repoRoot, 'node_modules', 'better-sqlite3', 'package.json')], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (probe.error) return `env/setpriv is not usable: ${probe.error.message}`;
  if (probe.status !== 0) return `user nobody cannot read the build under ${repoRoot}: ${probe.stderr.trim().split('\n').pop()}`;
  return false;
}

function chownTree(p: string, uid: number): void {
  fs.chownSync(p, uid, uid);
  if (fs.statSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid);
}

/** Runs `logban ARGS` as the user, from `cwd` (a directory the user owns: the test runner's
 * instrumentation writes there when the process exits). */
function runAsUser(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<ProcessResult> {
  return runProcess(asUser[0], [...asUser.slice(1), cliPath, ...args], { env, cwd, timeoutMs: 30_000 });
}

/** An Apache access log line stamped now, which the apache-xmlrpc filter counts. */
function xmlrpcLine(addr: string, when = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][when.getUTCMonth()];
  const stamp = `${p(when.getUTCDate())}/${mon}/${when.getUTCFullYear()}:${p(when.getUTCHours())}:${p(when.getUTCMinutes())}:${p(when.getUTCSeconds())} +0000`;
  return `${addr} - - [${stamp}] "POST /xmlrpc.php HTTP/1.0" 200 412 "-" "Mozilla/5.0"\n`;
}

interface UserDaemon {
  text(): string;
  waitForLog(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/** `logban run ARGS` as the user, its log (stderr) collected; killed at teardown if still up. */
function runDaemonAsUser(t: Test, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): UserDaemon {
  const proc: ChildProcess = spawn(asUser[0], [...asUser.slice(1), cliPath, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env, cwd });
  let text = '';
  let done = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => {
    text += s;
    wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('close', (code, signal) => {
      done = true;
      wake();
      resolve({ code, signal });
    });
  });
  t.teardown(async () => {
    if (!done) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  const waitForLog = (re: RegExp, ms = 30_000): Promise<RegExpExecArray> => new Promise((resolve, reject) => {
    const check = () => {
      const m = re.exec(text);
      if (m) finish(() => resolve(m));
      else if (done) finish(() => reject(new Error(`daemon exited without logging ${re}:\n${text}`)));
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no ${re} within ${ms} ms:\n${text}`))), ms);
    const finish = (f: () => void) => {
      clearTimeout(timer);
      waiters.delete(check);
      f();
    };
    waiters.add(check);
    check();
  });
  return { text: () => text, waitForLog, exited, kill: (sig) => proc.kill(sig) };
}

/** A temporary directory tree the user owns: home/, logs/access.log, config/ (the bundled
 * config with only the apache-xmlrpc jail, on that log; logban.local sets nothing, so backend,
 * state_dir and socket are the shipped defaults). */
function userTree(t: Test): { tmp: string; home: string; log: string; cfg: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-nonroot-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  fs.mkdirSync(path.join(tmp, 'logs'));
  const log = path.join(tmp, 'logs', 'access.log');
  fs.writeFileSync(log, '');
  const cfg = writeConfigDir(path.join(tmp, 'config'), { jails: { 'apache-xmlrpc': { logpath: log } } });
  return { tmp, home, log, cfg };
}

const skip = cannotRun();

t.test('logban run without root: dry-run, user paths, bans logged, SIGTERM exits 0', { skip }, async (t) => {
  const { tmp, home, log, cfg } = userTree(t);
  if (isRoot) chownTree(tmp, NOBODY);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };
  const stateDir = path.join(home, '.local', 'state', 'logban');
  const socket = path.join(stateDir, 'logban.sock');

  const d = runDaemonAsUser(t, ['--config-dir', cfg, '--metrics', '127.0.0.1:0'], env, home);
  await d.waitForLog(/logban \d+ running/);
  t.match(d.text(), /falling back to the dry-run backend/, 'says it falls back to dry-run');
  t.match(d.text(), /not running as root/, 'and why');
  t.ok(d.text().includes(`control socket listening on ${socket}`), `socket in the user's state dir (${socket})`);
  t.ok(fs.statSync(socket).isSocket(), 'the socket exists');
  if (isRoot) t.equal(fs.statSync(socket).uid, NOBODY, 'owned by the user who ran it');
  t.ok(fs.readdirSync(stateDir).some((f) => f.endsWith('.sqlite3') || f.endsWith('.db')), `state database in ${stateDir}`);

  // the client finds this daemon without --socket, as the same user
  const status = await runAsUser(['status'], env, home);
  t.equal(status.code, 0, 'logban status finds the daemon');
  t.equal(status.stderr, '', 'and has nothing to complain about');
  t.match(status.stdout, /Backend:\s+dry-run/);
  t.match(status.stdout, /apache-xmlrpc/);

  const metricsAt = /serving (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(d.text());
  t.ok(metricsAt, 'metrics endpoint on loopback, port chosen by the system');

  const addr = '198.18.7.77';
  const before = d.text().length;
  for (let i = 0; i < 3; i++) fs.appendFileSync(log, xmlrpcLine(addr));
  await d.waitForLog(new RegExp(`\\[apache-xmlrpc\\] Ban ${addr.replace(/\./g, '\\.')}\\b`));
  t.ok(d.text().indexOf(`[apache-xmlrpc] Ban ${addr}`) >= before, 'banned after the three lines were appended');
  await d.waitForLog(new RegExp(`dry-run: ban ${addr.replace(/\./g, '\\.')} in apache-xmlrpc`));
  t.pass('the dry-run backend logs what it would do');

  const list = await runAsUser(['list', '--json'], env, home);
  t.equal(list.code, 0);
  const bans = JSON.parse(list.stdout) as Array<{ jail: string; addr: string }>;
  t.same(bans.map((b) => [b.jail, b.addr]), [['apache-xmlrpc', addr]], 'logban list shows the ban');

  if (metricsAt) {
    const body = await (await fetch(metricsAt[1])).text();
    t.match(body, /^logban_bans_total\{jail="apache-xmlrpc"\} 1$/m, 'logban_bans_total counts it');
    t.match(body, /^logban_matches_total\{jail="apache-xmlrpc"\} 3$/m, 'three matches');
    t.notMatch(body, new RegExp(addr.replace(/\./g, '\\.')), 'no address in any label');
  }

  d.kill('SIGTERM');
  const exit = await d.exited;
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: clean exit 0');
  t.match(d.text(), /SIGTERM: stopping/);
  t.notOk(fs.existsSync(socket), 'the socket is removed on exit');
});

t.test('without root, XDG_STATE_HOME and XDG_RUNTIME_DIR choose the state dir and the socket', { skip }, async (t) => {
  const { tmp, home, cfg } = userTree(t);
  const stateHome = path.join(tmp, 'xdg-state');
  const runtime = path.join(tmp, 'xdg-run');
  fs.mkdirSync(stateHome);
  fs.mkdirSync(runtime, { mode: 0o700 });
  if (isRoot) chownTree(tmp, NOBODY);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', XDG_STATE_HOME: stateHome, XDG_RUNTIME_DIR: runtime,
  };
  const d = runDaemonAsUser(t, ['--config-dir', cfg, '--metrics', ''], env, home);
  await d.waitForLog(/logban \d+ running/);
  const socket = path.join(runtime, 'logban', 'logban.sock');
  t.ok(d.text().includes(`control socket listening on ${socket}`), `socket in $XDG_RUNTIME_DIR (${socket})`);
  t.ok(fs.readdirSync(path.join(stateHome, 'logban')).length > 0, 'state in $XDG_STATE_HOME/logban');
  t.notOk(fs.existsSync(path.join(home, '.local')), 'nothing under ~/.local');
  const status = await runAsUser(['status', '--json'], env, home);
  t.equal(status.code, 0, 'logban status finds it with the same environment');
  t.equal((JSON.parse(status.stdout) as { backend: string }).backend, 'dry-run');
  d.kill('SIGTERM');
  t.same(await d.exited, { code: 0, signal: null }, 'SIGTERM: exit 0');
});
