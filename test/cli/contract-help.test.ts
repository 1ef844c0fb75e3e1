// The command line as DESIGN.md's "Contracts other tools rely on" and the README promise it,
// run as a user would: `node bin/logban.js ...` with an argument vector. Here: every command's
// --help names every contracted option, and client commands without a daemon fail in one line.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { logbanCli, runProcess, type ProcessResult } from '../helpers/process.js';
import { cliPath } from '../helpers/paths.js';

const logban = (args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ProcessResult> => logbanCli(args, { env });

/** Options (and positional arguments) each command's help must show: DESIGN.md's contracts,
 * plus what the README's command table adds (--xdp-interface, --print-*, --socket, --jail). */
const CONTRACT: Record<string, { options: string[]; args?: string[] }> = {
  run: { options: ['--config-dir', '--backend', '--state-dir', '--socket', '--metrics', '--xdp-interface'] },
  replay: { options: ['--config-dir', '--backend', '--json'] },
  test: { options: ['--config-dir', '--json', '--now', '--print-missed', '--print-ignored'], args: ['filter', 'log'] },
  status: { options: ['--json', '--socket'], args: ['jail'] },
  list: { options: ['--json', '--jail', '--socket'] },
  ban: { options: ['--time', '--socket'], args: ['jail', 'addr'] },
  unban: { options: ['--jail', '--socket'], args: ['addr'] },
  reload: { options: ['--socket'] },
};

t.test('logban --help lists every command and exits 0', async (t) => {
  const r = await logban(['--help']);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  for (const cmd of Object.keys(CONTRACT)) t.match(r.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), `mentions ${cmd}`);
});

t.test('bin/logban.js runs by itself, as the installed `logban` and the systemd unit run it', async (t) => {
  // its #! line passes Node options (env -S): it must work where `env` is coreutils' 8.30 or later
  t.match(fs.readFileSync(cliPath, 'utf8').split('\n', 1)[0], /^#!\/usr\/bin\/env -S node --max-semi-space-size=\d+ --v8-pool-size=\d+$/);
  const r = await runProcess('env', ['-u', 'NODE_OPTIONS', cliPath, '--version'], { timeoutMs: 30_000 });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), '0.1.0');
});

for (const [cmd, want] of Object.entries(CONTRACT)) {
  t.test(`logban ${cmd} --help names every contracted option`, async (t) => {
    const r = await logban([cmd, '--help']);
    t.equal(r.code, 0, 'exit 0');
    t.equal(r.stderr, '', 'nothing on stderr');
    t.match(r.stdout, new RegExp(`^Usage: logban ${cmd} `, 'm'));
    for (const opt of want.options) t.match(r.stdout, new RegExp(`^\\s+${opt}\\b`, 'm'), `option ${opt}`);
    const usage = r.stdout.split('\n')[0];
    for (const a of want.args ?? []) t.match(usage, new RegExp(`[<\\[]${a}[>\\]]`), `argument ${a} in the usage line`);
  });
}

t.test('run and replay --help show the four backends', async (t) => {
  for (const cmd of ['run', 'replay']) {
    const r = await logban([cmd, '--help']);
    for (const b of ['auto', 'nftables', 'xdp', 'dry-run']) t.match(r.stdout, `"${b}"`, `${cmd}: backend ${b}`);
  }
});

t.test('an unknown backend is refused before anything starts', async (t) => {
  const r = await logban(['run', '--backend', 'iptables', '--config-dir', '/nonexistent']);
  t.not(r.code, 0);
  t.match(r.stderr, /--backend <name>.*iptables.*invalid/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('client commands without a daemon: exactly one line on stderr, exit != 0', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-contract-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'absent.sock');
  const commands: string[][] = [
    ['status'], ['status', 'sshd'], ['status', '--json'], ['list'], ['list', '--json'],
    ['ban', 'sshd', '198.18.0.9'], ['unban', '198.18.0.9'], ['reload'],
  ];
  for (const c of commands) {
    const r = await logban([...c, '--socket', socket]);
    t.not(r.code, 0, `${c.join(' ')}: exit code`);
    t.equal(r.stdout, '', `${c.join(' ')}: nothing on stdout`);
    t.equal(r.stderr, `logban: no daemon running on ${socket} (start it with 'logban run')\n`, `${c.join(' ')}: one line naming the socket`);
  }
});

t.test('a stale socket left by a killed daemon: still one line saying no daemon is running', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-contract-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'logban.sock');
  // a process that listens and dies by SIGKILL leaves its socket file behind, as a crash does
  const script = `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script], { stdio: 'ignore', env: { PATH: process.env.PATH } });
  t.ok(fs.statSync(socket).isSocket(), 'the stale socket exists');
  const r = await logban(['status', '--socket', socket]);
  t.not(r.code, 0);
  t.equal(r.stdout, '');
  t.equal(r.stderr, `logban: no daemon running on ${socket} (start it with 'logban run')\n`);
});

const ROOT_SOCKET = '/run/logban/logban.sock';
const isRoot = process.getuid?.() === 0;
const rootDaemonMayRun = isRoot && fs.existsSync(ROOT_SOCKET);

t.test('status without --socket looks where `logban run` would listen, and says no daemon is running', {
  skip: rootDaemonMayRun ? `${ROOT_SOCKET} exists: a daemon may really be running here` : false,
}, async (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-contract-home-'));
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete env.XDG_RUNTIME_DIR;
  delete env.XDG_STATE_HOME;
  const expected = isRoot ? ROOT_SOCKET : path.join(home, '.local', 'state', 'logban', 'logban.sock');
  const r = await logban(['status'], env);
  t.not(r.code, 0);
  t.equal(r.stdout, '');
  t.equal(r.stderr.split('\n').length, 2, 'exactly one line');
  t.match(r.stderr, /^logban: no daemon running on /);
  t.ok(r.stderr.includes(expected), `names ${expected}`);
});
