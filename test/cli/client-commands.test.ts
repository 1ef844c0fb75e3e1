// The daemon client commands (status, list, ban, unban, reload) against a real control socket
// served by ControlServer with an in-memory handler: what the user reads, in human and JSON form.

import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ControlServer } from '../../src/control/server.js';
import { UserError } from '../../src/errors.js';
import { statusCommand } from '../../src/cli/status.js';
import { listCommand } from '../../src/cli/list.js';
import { banCommand } from '../../src/cli/ban.js';
import { unbanCommand } from '../../src/cli/unban.js';
import { reloadCommand } from '../../src/cli/reload.js';
import { FakeHandler, MemoryLog, sampleJails } from '../control/fake-handler.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

interface HasTeardown {
  teardown(fn: () => unknown): void;
}

/** A daemon stand-in whose clock is fixed, so remaining times print the same every run. */
const NOW = 1_795_000_000; // 2026-11-18 11:06:40 UTC

async function daemon(t: HasTeardown, clock?: () => number): Promise<{ socket: string; handler: FakeHandler }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logban-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'logban.sock');
  const handler = new FakeHandler(sampleJails(), clock);
  const server = new ControlServer({ path: socket, handler, log: new MemoryLog() });
  await server.start();
  t.teardown(() => server.stop());
  return { socket, handler };
}

t.test('with no daemon every command fails with one line naming the socket', async (t) => {
  const socket = path.join(os.tmpdir(), `logban-absent-${process.pid}.sock`);
  const expected = new UserError(`logban: no daemon running on ${socket} (start it with 'logban run')`);
  const out = new Capture();
  await t.rejects(statusCommand({ socket, json: false }, out), expected);
  await t.rejects(statusCommand({ socket, json: true, jail: 'sshd' }, out), expected);
  await t.rejects(listCommand({ socket, json: false }, out), expected);
  await t.rejects(banCommand({ socket, jail: 'sshd', addr: '198.51.100.7' }, out), expected);
  await t.rejects(unbanCommand({ socket, addr: '198.51.100.7' }, out), expected);
  await t.rejects(reloadCommand({ socket }, out), expected);
  t.equal(out.text, '', 'nothing printed on stdout');
  t.notMatch(expected.message, /\n/);
});

t.test('status: daemon overview, one jail, and --json', async (t) => {
  const { socket, handler } = await daemon(t, () => NOW);
  await handler.ban('sshd', '198.51.100.7', 600);
  await handler.ban('sshd', '2001:db8::5', -1);

  const overview = new Capture();
  t.equal(await statusCommand({ socket, json: false }, overview), 0);
  t.equal(
    overview.text,
    ['Status', '|- Backend:\tdry-run', '|- Uptime:\t1h 2m 5s', '|- Number of jail:\t2', '`- Jail list:\tsshd, wordpress', ''].join('\n'),
  );

  const one = new Capture();
  t.equal(await statusCommand({ socket, json: false, jail: 'sshd' }, one), 0);
  t.equal(
    one.text,
    [
      'Status for the jail: sshd',
      '|- Filter:\tsshd',
      '|  |- Lines read:\t1234',
      '|  |- Currently failed:\t3',
      '|  |- Total failed:\t17',
      '|  `- File list:\t/var/log/auth.log',
      '`- Actions:\tdry-run',
      '   |- Currently banned:\t2',
      '   |- Total banned:\t2',
      '   `- Banned IP list:\t198.51.100.7 2001:db8::5',
      '',
    ].join('\n'),
  );

  const json = new Capture();
  t.equal(await statusCommand({ socket, json: true }, json), 0);
  t.same(JSON.parse(json.text), handler.status());

  await t.rejects(statusCommand({ socket, json: false, jail: 'nginx' }, new Capture()), new UserError("logban: no jail named 'nginx'"));
});

t.test('list: table, empty list, and --json', async (t) => {
  const { socket, handler } = await daemon(t, () => NOW);
  const empty = new Capture();
  await listCommand({ socket, json: false }, empty);
  t.equal(empty.text, 'No active bans.\n');

  await handler.ban('sshd', '198.51.100.7', 3725);
  await handler.ban('wordpress', '2001:db8::5', -1);
  const table = new Capture();
  t.equal(await listCommand({ socket, json: false }, table), 0);
  t.equal(
    table.text,
    [
      'JAIL       ADDRESS       EXPIRES                  REMAINING',
      'sshd       198.51.100.7  2026-11-18 12:08:45 UTC  1h 2m 5s',
      'wordpress  2001:db8::5   permanent                -',
      '',
    ].join('\n'),
  );

  const json = new Capture();
  await listCommand({ socket, json: true }, json);
  t.same(JSON.parse(json.text), [
    { jail: 'sshd', addr: '198.51.100.7', expires: NOW + 3725, remainingSeconds: 3725 },
    { jail: 'wordpress', addr: '2001:db8::5', expires: null, remainingSeconds: null },
  ]);
});

t.test('ban: validates ADDR and --time before sending, prints the outcome', async (t) => {
  const { socket, handler } = await daemon(t);
  const out = new Capture();
  await t.rejects(
    banCommand({ socket, jail: 'sshd', addr: '999.1.1.1' }, out),
    new UserError("logban: '999.1.1.1' is not an IPv4/IPv6 address or network"),
  );
  await t.rejects(banCommand({ socket, jail: 'sshd', addr: 'evil.example.com' }, out), { message: /is not an IPv4\/IPv6 address/ });
  for (const time of ['abc', '0', '1.5', '-5', '']) {
    await t.rejects(banCommand({ socket, jail: 'sshd', addr: '198.51.100.7', time }, out), {
      message: `logban: --time must be a whole number of seconds from 1 to 3153600000, or -1 for permanent; got '${time}'`,
    });
  }
  t.equal(handler.calls.length, 0, 'nothing invalid was sent to the daemon');

  t.equal(await banCommand({ socket, jail: 'sshd', addr: '198.51.100.7', time: '120' }, out), 0);
  t.match(out.text, /^Banned 198\.51\.100\.7 in jail sshd until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((2m|1m 59s)\)\n$/);
  out.text = '';
  await banCommand({ socket, jail: 'sshd', addr: '198.51.100.7', time: '-1' }, out);
  t.equal(out.text, '198.51.100.7 was already banned in jail sshd; now banned permanently\n');
  out.text = '';
  // Typed in a non-canonical form, stored and shown canonically.
  await banCommand({ socket, jail: 'wordpress', addr: '2001:DB8:0::7', json: true }, out);
  t.same((JSON.parse(out.text) as { addr: string; created: boolean }).addr, '2001:db8::7');
  t.same(handler.calls.at(-1), { method: 'ban', args: ['wordpress', '2001:db8::7', undefined] });

  await t.rejects(banCommand({ socket, jail: 'nginx', addr: '198.51.100.8' }, out), new UserError("logban: no jail named 'nginx'"));
});

t.test('unban: all jails, one jail, not banned', async (t) => {
  const { socket, handler } = await daemon(t);
  await handler.ban('sshd', '198.51.100.7');
  await handler.ban('wordpress', '198.51.100.7');
  await handler.ban('wordpress', '198.51.100.8');
  const out = new Capture();
  t.equal(await unbanCommand({ socket, addr: '198.51.100.7' }, out), 0);
  t.equal(out.text, 'Unbanned 198.51.100.7 from 2 jails\n');
  out.text = '';
  await unbanCommand({ socket, addr: '198.51.100.8', jail: 'wordpress' }, out);
  t.equal(out.text, 'Unbanned 198.51.100.8 in jail wordpress\n');
  out.text = '';
  t.equal(await unbanCommand({ socket, addr: '198.51.100.8' }, out), 0);
  t.equal(out.text, '198.51.100.8 was not banned\n');
  await t.rejects(unbanCommand({ socket, addr: '1.2.3' }, out), new UserError("logban: '1.2.3' is not an IPv4/IPv6 address or network"));
  t.equal(handler.bans.size, 0);
});

t.test('reload: summary and --json', async (t) => {
  const { socket } = await daemon(t);
  const out = new Capture();
  t.equal(await reloadCommand({ socket }, out), 0);
  t.equal(out.text, 'Reloaded: 2 jails enabled (sshd, wordpress)\n');
  const json = new Capture();
  await reloadCommand({ socket, json: true }, json);
  t.same(JSON.parse(json.text), { jails: ['sshd', 'wordpress'], added: [], removed: [] });
});
