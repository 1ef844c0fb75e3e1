// The control socket end to end: a real ControlServer on a Unix socket in a temp dir, driven by
// the real client and by raw connections that misbehave.

import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ControlServer, resolveGroup } from '../../src/control/server.js';
import { callDaemon } from '../../src/control/client.js';
import { MAX_REQUEST_BYTES } from '../../src/control/protocol.js';
import { UserError } from '../../src/errors.js';
import { FakeHandler, MemoryLog, sampleJails } from './fake-handler.js';

/** The part of tap's Test these helpers use. */
interface HasTeardown {
  teardown(fn: () => unknown): void;
}

function tempDir(t: HasTeardown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-control-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startServer(
  t: HasTeardown,
  socketPath: string,
  extra: { mode?: number; group?: string } = {},
): Promise<{ server: ControlServer; handler: FakeHandler; log: MemoryLog }> {
  const handler = new FakeHandler(sampleJails());
  const log = new MemoryLog();
  const server = new ControlServer({ path: socketPath, handler, log, ...extra });
  await server.start();
  t.teardown(() => server.stop());
  return { server, handler, log };
}

/** Sends raw bytes on one connection and collects `count` response lines (or what came before close). */
function rawExchange(socketPath: string, payload: string | Buffer, count: number): Promise<{ lines: string[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socketPath);
    let buf = '';
    const lines: string[] = [];
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`timed out; got ${JSON.stringify(lines)}`));
    }, 5000);
    conn.on('connect', () => conn.write(payload));
    conn.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (lines.length >= count) {
        clearTimeout(timer);
        conn.destroy();
        resolve({ lines, closed: false });
      }
    });
    conn.on('error', () => undefined); // EPIPE after the server closes on an oversized request
    conn.on('close', () => {
      clearTimeout(timer);
      resolve({ lines, closed: true });
    });
  });
}

/** Leaves a socket file behind the way a crashed daemon does: bound, then the process is killed. */
function makeStaleSocket(socketPath: string): void {
  const script = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script], { stdio: 'ignore', timeout: 10_000 });
}

t.test('round trip of every command through the real client', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  const { handler } = await startServer(t, sock);

  const ping = await callDaemon(sock, { cmd: 'ping', args: {} }, 2000);
  t.equal(ping.pid, process.pid);

  const status = await callDaemon(sock, { cmd: 'status', args: {} }, 2000);
  t.same(status.jails.map((j) => j.name), ['sshd', 'wordpress']);
  t.equal(status.backend, 'dry-run');

  const one = await callDaemon(sock, { cmd: 'status', args: { jail: 'wordpress' } }, 2000);
  t.same(one.jails.map((j) => j.name), ['wordpress']);

  const ban = await callDaemon(sock, { cmd: 'ban', args: { jail: 'sshd', addr: '198.51.100.7', seconds: 120 } }, 2000);
  t.equal(ban.created, true);
  t.equal(ban.addr, '198.51.100.7');
  t.ok(ban.expires !== null && Math.abs(ban.expires - (Date.now() / 1000 + 120)) < 5);
  const again = await callDaemon(sock, { cmd: 'ban', args: { jail: 'sshd', addr: '198.51.100.7' } }, 2000);
  t.equal(again.created, false, 'second ban of the same address refreshes');
  await callDaemon(sock, { cmd: 'ban', args: { jail: 'wordpress', addr: '2001:db8::1', seconds: -1 } }, 2000);

  const list = await callDaemon(sock, { cmd: 'list', args: {} }, 2000);
  t.same(
    list.map((b) => [b.jail, b.addr, b.expires === null]),
    [
      ['sshd', '198.51.100.7', false],
      ['wordpress', '2001:db8::1', true],
    ],
  );

  const unban = await callDaemon(sock, { cmd: 'unban', args: { addr: '198.51.100.7' } }, 2000);
  t.same(unban, { addr: '198.51.100.7', removed: 1 });
  const reload = await callDaemon(sock, { cmd: 'reload', args: {} }, 2000);
  t.same(reload.jails, ['sshd', 'wordpress']);

  t.same(
    handler.calls.map((c) => c.method),
    ['status', 'status', 'ban', 'ban', 'ban', 'list', 'unban', 'reload'],
  );
});

t.test('addresses reach the handler in canonical form; invalid ones never do', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  const { handler } = await startServer(t, sock);
  const res = await callDaemon(sock, { cmd: 'ban', args: { jail: 'sshd', addr: '2001:DB8:0:0::1' } }, 2000);
  t.equal(res.addr, '2001:db8::1');
  for (const addr of ['999.1.1.1', 'example.com', '1.2.3.4; flush ruleset', '10.0.0.0/33']) {
    await t.rejects(callDaemon(sock, { cmd: 'ban', args: { jail: 'sshd', addr } }, 2000), {
      message: new RegExp(`^logban: ban: '.*' is not an IPv4/IPv6 address or network$`),
    });
  }
  t.equal(handler.calls.filter((c) => c.method === 'ban').length, 1, 'only the valid ban reached the handler');
});

t.test('socket file is created with mode 0600 in a new 0755 directory, and removed at stop', async (t) => {
  const sock = path.join(tempDir(t), 'run', 'logban', 'logban.sock');
  const { server } = await startServer(t, sock);
  const st = fs.statSync(sock);
  t.ok(st.isSocket());
  t.equal(st.mode & 0o777, 0o600);
  t.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o755);
  await server.stop();
  t.notOk(fs.existsSync(sock), 'socket file removed');
});

t.test('the process umask is restored after listening', async (t) => {
  const before = process.umask(0o022);
  t.teardown(() => process.umask(before));
  await startServer(t, path.join(tempDir(t), 'logban.sock'));
  t.equal(process.umask(0o022), 0o022);
});

t.test('with a group the socket is 0660 and owned by that group', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  // `daemon` (gid 1) exists on Debian and most Linux systems; resolve it as the server does.
  const gid = resolveGroup('daemon');
  await startServer(t, sock, { group: 'daemon' });
  const st = fs.statSync(sock);
  t.equal(st.mode & 0o777, 0o660);
  t.equal(st.gid, gid);
  t.throws(() => resolveGroup('no-such-group-logban'), { message: "control socket group 'no-such-group-logban' does not exist" });
  t.equal(resolveGroup('4242'), 4242, 'numeric gid accepted as is');
});

t.test('a stale socket from a crashed daemon is replaced', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  makeStaleSocket(sock);
  t.ok(fs.lstatSync(sock).isSocket(), 'crashed process left its socket file');
  const { log } = await startServer(t, sock);
  t.ok(log.messages.some((m) => m.level === 'warn' && m.message === `removed stale control socket ${sock}`));
  const ping = await callDaemon(sock, { cmd: 'ping', args: {} }, 2000);
  t.equal(ping.pid, process.pid);
  t.equal(fs.statSync(sock).mode & 0o777, 0o600);
});

t.test('a socket a live daemon answers on is refused, and the live one keeps working', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  await startServer(t, sock);
  const second = new ControlServer({ path: sock, handler: new FakeHandler(sampleJails()), log: new MemoryLog() });
  await t.rejects(second.start(), new UserError(`another logban is running on ${sock}`));
  const ping = await callDaemon(sock, { cmd: 'ping', args: {} }, 2000);
  t.equal(ping.pid, process.pid);
});

t.test('a path holding something other than a socket is refused and left alone', async (t) => {
  const file = path.join(tempDir(t), 'logban.sock');
  fs.writeFileSync(file, 'important');
  const server = new ControlServer({ path: file, handler: new FakeHandler(sampleJails()), log: new MemoryLog() });
  await t.rejects(server.start(), { message: /exists and is not a socket/ });
  t.equal(fs.readFileSync(file, 'utf8'), 'important');
});

t.test('bad requests get error responses and the connection keeps serving', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  const { handler } = await startServer(t, sock);
  const payload =
    [
      '{not json',
      '[1,2]',
      '{"cmd":"status"}',
      '{"id":2,"cmd":"shutdown","args":{}}',
      '{"id":3,"cmd":"ban","args":{"jail":"sshd"}}',
      '{"id":4,"cmd":"ban","args":{"jail":"sshd","addr":"1.2.3.4","seconds":1.5}}',
      '{"id":5,"cmd":"status","args":"sshd"}',
      '\u0000\u00ff binary',
      '{"id":6,"cmd":"ping","args":{}}',
    ].join('\n') + '\n';
  const { lines } = await rawExchange(sock, payload, 9);
  const responses = lines.map((l) => JSON.parse(l) as { id: number | null; ok: boolean; error?: string });
  t.same(
    responses.map((r) => [r.id, r.ok]),
    [
      [null, false],
      [null, false],
      [null, false],
      [2, false],
      [3, false],
      [4, false],
      [5, false],
      [null, false],
      [6, true],
    ],
  );
  t.equal(responses[0]?.error, 'request is not valid JSON');
  t.match(responses[3]?.error, /^unknown command "shutdown"/);
  t.equal(responses[4]?.error, "ban: missing 'addr'");
  t.match(responses[5]?.error, /whole number of seconds/);
  t.equal(handler.calls.length, 0, 'no bad request reached the handler');
});

t.test('an oversized request is refused and the connection closed; the server still serves', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  await startServer(t, sock);
  const huge = Buffer.alloc(MAX_REQUEST_BYTES * 4, 0x41);
  const { lines, closed } = await rawExchange(sock, huge, 2);
  t.ok(closed, 'server closed the connection');
  t.same(JSON.parse(lines[0] ?? 'null'), { id: null, ok: false, error: `request too large (limit ${MAX_REQUEST_BYTES} bytes)` });
  const ping = await callDaemon(sock, { cmd: 'ping', args: {} }, 2000);
  t.equal(ping.pid, process.pid);
});

t.test('handler errors: UserError text goes back as is, other errors as internal and logged', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  const { handler, log } = await startServer(t, sock);
  await t.rejects(callDaemon(sock, { cmd: 'status', args: { jail: 'nginx' } }, 2000), new UserError("logban: no jail named 'nginx'"));
  handler.failWith = new Error('nft exited with status 1');
  await t.rejects(
    callDaemon(sock, { cmd: 'ban', args: { jail: 'sshd', addr: '198.51.100.9' } }, 2000),
    new UserError("logban: internal error in 'ban': nft exited with status 1"),
  );
  t.ok(log.messages.some((m) => m.level === 'error' && m.message.startsWith("control command 'ban' failed: Error: nft exited")));
  const ping = await callDaemon(sock, { cmd: 'ping', args: {} }, 2000);
  t.equal(ping.pid, process.pid, 'still serving');
});

t.test('half-closed client still gets its answers; several requests on one connection answer in order', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  await startServer(t, sock);
  const lines = await new Promise<string[]>((resolve, reject) => {
    const conn = net.connect(sock, () => {
      conn.end('{"id":1,"cmd":"ping","args":{}}\n{"id":2,"cmd":"status","args":{}}\n');
    });
    let buf = '';
    conn.on('data', (d: Buffer) => (buf += d.toString()));
    conn.on('end', () => resolve(buf.trim().split('\n')));
    conn.on('error', reject);
  });
  t.same(
    lines.map((l) => (JSON.parse(l) as { id: number }).id),
    [1, 2],
  );
});

t.test('client errors are one line and name the socket', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'absent.sock');
  await t.rejects(
    callDaemon(sock, { cmd: 'ping', args: {} }, 2000),
    new UserError(`logban: no daemon running on ${sock} (start it with 'logban run')`),
  );
  // A socket nobody listens on (crashed daemon) reads the same to the user.
  const stale = path.join(dir, 'stale.sock');
  makeStaleSocket(stale);
  await t.rejects(
    callDaemon(stale, { cmd: 'ping', args: {} }, 2000),
    new UserError(`logban: no daemon running on ${stale} (start it with 'logban run')`),
  );
  // A listener that never answers: the timeout message.
  const mute = path.join(dir, 'mute.sock');
  const silent = net.createServer((c) => c.resume()); // reads, never answers
  await new Promise<void>((resolve) => silent.listen(mute, resolve));
  await t.rejects(
    callDaemon(mute, { cmd: 'status', args: {} }, 300),
    new UserError(`logban: the daemon on ${mute} did not answer 'status' within 0.3 s`),
  );
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

t.test('a result that cannot be encoded becomes an error answer, not a crash', async (t) => {
  const sock = path.join(tempDir(t), 'logban.sock');
  class BrokenHandler extends FakeHandler {
    override status(jail?: string): ReturnType<FakeHandler['status']> {
      // BigInt is not JSON: stands for any daemon bug that puts an unencodable value in a result.
      return { ...super.status(jail), uptimeSeconds: 10n as unknown as number };
    }
  }
  const log = new MemoryLog();
  const server = new ControlServer({ path: sock, handler: new BrokenHandler(sampleJails()), log });
  await server.start();
  t.teardown(() => server.stop());
  await t.rejects(callDaemon(sock, { cmd: 'status', args: {} }, 2000), new UserError('logban: internal error: the answer could not be encoded'));
  t.ok(log.messages.some((m) => m.level === 'error' && m.message.startsWith('control socket: cannot encode a response')));
  const ping = await callDaemon(sock, { cmd: 'ping', args: {} }, 2000);
  t.equal(ping.pid, process.pid);
});
