// Failures straddling a log rotation still ban: rename+create (the old file gets one more line
// after the rename, as a server writes until it reopens its log) and copytruncate. Checked on
// the daemon's log, its line counters and the kernel set, in a fresh pair of namespaces.
import t from 'tap';
import fs from 'node:fs';
import { canUseNetns } from '../helpers/netns.js';
import { sshdFailure, startDaemon, waitFor, waitForBanned, type RunningDaemon } from '../helpers/daemon.js';
import { kernelScene, type Teardown } from '../helpers/kernel-scene.js';

if (!canUseNetns()) {
  t.plan(0, 'needs root and ip netns');
  process.exit(0);
}

const esc = (s: string) => s.replace(/\./g, '\\.');
const banned = (jail: string, addr: string) => new RegExp(`\\[${jail}\\] Ban ${esc(addr)}\\b`);

async function linesRead(d: RunningDaemon, jail: string): Promise<number> {
  return (await d.status(jail)).jails[0].lines;
}

async function setup(t: Teardown, jail: string, extra: Record<string, string> = {}) {
  const { net, log, daemon } = await kernelScene(t, 'rot', {
    jails: (log) => ({ [jail]: { filter: 'sshd', logpath: log, port: '22', maxretry: '3', findtime: '600', bantime: '600', ...extra } }),
  });
  const d = await startDaemon(daemon);
  t.teardown(() => d.stop());
  return { net, log, d };
}

t.test('rename rotation: failures before and after the rename add up to a ban', async (t) => {
  const { net, log, d } = await setup(t, 'sshd');
  let written = 0;
  const append = (file: string, text: string) => {
    fs.appendFileSync(file, text);
    written += text.split('\n').length - 1;
  };

  // round 1: the daemon has read the first two lines when the rotation happens
  const x = '198.18.1.1';
  append(log, sshdFailure(x) + sshdFailure(x));
  await waitFor('two lines read', async () => (await linesRead(d, 'sshd')) === 2);
  fs.renameSync(log, `${log}.1`);
  append(`${log}.1`, sshdFailure(x)); // the server still writes to its open descriptor
  fs.writeFileSync(log, '');
  await d.waitForLog(banned('sshd', x), 15_000);
  t.pass('third failure, written to the renamed file, completed the ban');

  // round 2: the rotation happens before the daemon had a chance to read the first two lines
  const y = '198.18.1.2';
  append(log, sshdFailure(y) + sshdFailure(y));
  fs.renameSync(log, `${log}.1`); // replaces round 1's rotated file, as logrotate's rotate 1 does
  append(`${log}.1`, sshdFailure(y));
  fs.writeFileSync(log, '');
  await d.waitForLog(banned('sshd', y), 15_000);
  t.pass('unread lines of the rotated-away file are read before switching to the new one');

  // the new file is followed
  const z = '198.18.1.3';
  append(log, sshdFailure(z) + sshdFailure(z) + sshdFailure(z));
  await d.waitForLog(banned('sshd', z), 15_000);
  t.equal(await linesRead(d, 'sshd'), written, `every line read exactly once (${written})`);
  const elems = await waitForBanned(net.server, 'sshd', [x, y, z]);
  t.same(elems.map((e) => e.addr).sort(), [x, y, z], 'all three in the kernel set');
  t.ok(d.alive(), 'daemon still running');
});

t.test('copytruncate rotation: failures before and after the truncation add up to a ban', async (t) => {
  const { net, log, d } = await setup(t, 'sshd-ct');
  const x = '198.18.2.1';
  fs.appendFileSync(log, sshdFailure(x) + sshdFailure(x));
  // with copytruncate, lines the reader has not reached when the file is truncated are gone
  // (logrotate documents this); the straddling case is: read, copy, truncate, write again
  await waitFor('two lines read', async () => (await linesRead(d, 'sshd-ct')) === 2);
  fs.copyFileSync(log, `${log}.1`);
  fs.truncateSync(log, 0);
  fs.appendFileSync(log, sshdFailure(x));
  await d.waitForLog(banned('sshd-ct', x), 15_000);
  t.pass('the line written after the truncation was read and completed the ban');

  // a second rotation: the reader's position is now past the first truncation
  const y = '198.18.2.2';
  fs.appendFileSync(log, sshdFailure(y) + sshdFailure(y));
  await waitFor('five lines read', async () => (await linesRead(d, 'sshd-ct')) === 5);
  fs.copyFileSync(log, `${log}.1`);
  fs.truncateSync(log, 0);
  fs.appendFileSync(log, sshdFailure(y));
  await d.waitForLog(banned('sshd-ct', y), 15_000);
  t.equal(await linesRead(d, 'sshd-ct'), 6, 'every line read exactly once (6)');
  const elems = await waitForBanned(net.server, 'sshd-ct', [x, y]);
  t.same(elems.map((e) => e.addr).sort(), [x, y], 'both in the jail\'s kernel set');
  t.ok(d.alive(), 'daemon still running');
});
