// Restart restores log positions: lines appended while the daemon is stopped are read after the
// restart (not skipped), lines read before are not read again — after a clean stop and after
// kill -9. Checked through `logban status` line counters and ban decisions, on the real kernel.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { canUseNetns } from '../helpers/netns.js';
import { sshdFailure, startDaemon, waitFor, waitForBanned, type RunningDaemon } from '../helpers/daemon.js';
import { kernelScene, type Teardown } from '../helpers/kernel-scene.js';
import { DB_FILE } from '../../src/store/state-store.js';

if (!canUseNetns()) {
  t.plan(0, 'needs root and ip netns');
  process.exit(0);
}

const A = '198.18.0.2';
const B = '198.18.7.9';

/** Namespaces, an empty auth.log and an sshd jail (3 failures in 600 s ban for 600 s) on it. */
const positionsScene = (t: Teardown) => kernelScene(t, 'pos', {
  jails: (log) => ({ sshd: { logpath: log, port: '22', maxretry: '3', findtime: '600', bantime: '600' } }),
});

async function linesRead(d: RunningDaemon): Promise<number> {
  return (await d.status('sshd')).jails[0].lines;
}

/** The offset the daemon saved for a file, read from its SQLite store (WAL: readers never block it). */
function savedOffset(stateDir: string, file: string): number | undefined {
  const db = new Database(path.join(stateDir, DB_FILE), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT offset FROM file_positions WHERE path = ?').get(file) as { offset: number } | undefined;
    return row?.offset;
  } finally {
    db.close();
  }
}

for (const how of ['SIGTERM', 'kill -9'] as const) {
  t.test(`after ${how}, lines written while stopped are read once and earlier lines are not read again`, async (t) => {
    const { net, log, daemon: opts } = await positionsScene(t);
    const { stateDir } = opts;

    const first = await startDaemon(opts);
    t.teardown(() => first.stop());
    fs.appendFileSync(log, sshdFailure(A) + sshdFailure(A));
    await waitFor('the first two lines read', async () => (await linesRead(first)) === 2, 15_000);
    t.equal((await first.status('sshd')).jails[0].matches, 2, 'two failures of A counted before the stop');
    if (how === 'SIGTERM') {
      const exit = await first.stop('SIGTERM');
      t.equal(exit.code, 0, 'clean stop');
    } else {
      // the crash loses only what was not yet saved; wait until the position is on disk (the daemon
      // saves it every second) so the test checks restore, not the timing of the last save
      const size = fs.statSync(log).size;
      await waitFor('the position saved', () => savedOffset(stateDir, log) === size, 10_000, 100);
      await first.kill9();
    }

    // while stopped: A's third failure (would ban A only if its first two were read again) and
    // three failures of B (ban B only if the new lines are read)
    fs.appendFileSync(log, sshdFailure(A) + sshdFailure(B) + sshdFailure(B) + sshdFailure(B));

    const second = await startDaemon(opts);
    t.teardown(() => second.stop());
    await second.waitForLog(/\[sshd\] Ban 198\.18\.7\.9\b/, 15_000);
    t.pass('the lines written while the daemon was stopped were read: B is banned');
    // B's ban comes from the last line, so every line has been read by now
    t.equal(await linesRead(second), 4, 'exactly the 4 new lines were read after the restart');
    const elems = await waitForBanned(net.server, 'sshd', [B]);
    t.same(elems.map((e) => e.addr).sort(), [B], 'only B is in the kernel set: A\'s old lines were not read again');
    t.notMatch(second.stderrText(), /Ban 198\.18\.0\.2\b/, 'A was never banned');

    // and the daemon keeps following the file from there
    fs.appendFileSync(log, sshdFailure(A) + sshdFailure(A));
    await second.waitForLog(/\[sshd\] Ban 198\.18\.0\.2\b/, 15_000);
    t.equal(await linesRead(second), 6, 'lines appended after the restart are read too');
    await second.stop();
  });
}

t.test('an automatic ban cut short by kill -9 right after its "Ban" line is back after the restart', async (t) => {
  const { net, log, daemon: opts } = await positionsScene(t);
  const { stateDir } = opts;
  const first = await startDaemon(opts);
  t.teardown(() => first.stop());
  // a daemon that has been running a moment has saved where it is in the file
  await waitFor('the position saved', () => savedOffset(stateDir, log) === 0, 10_000, 100);
  const c = '198.18.7.10';
  fs.appendFileSync(log, sshdFailure(c).repeat(3));
  await first.waitForLog(/\[sshd\] Ban 198\.18\.7\.10\b/, 15_000);
  // the crash may come before the store's write-behind and the batched nft transaction: then
  // the ban exists nowhere, and only reading the lines again from the saved position brings it back
  await first.kill9();
  const second = await startDaemon(opts);
  t.teardown(() => second.stop());
  await second.waitForLog(/\[sshd\] (Restore )?Ban 198\.18\.7\.10\b/, 15_000);
  t.pass('the ban is decided again (restored from the store or re-read from the log)');
  await waitForBanned(net.server, 'sshd', [c]);
  t.pass('and it is in the kernel set');
  t.same((await second.list('sshd')).map((b) => b.addr), [c], 'logban list shows it');
  await second.stop();
});
