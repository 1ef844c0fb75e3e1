// Reloads while a log is being written: every line is read exactly once across the reloads
// (the new readers start where the old ones stopped, neither skipping nor re-reading).
import t from 'tap';
import fs from 'node:fs';
import { canUseNetns } from '../helpers/netns.js';
import { startDaemon } from '../helpers/daemon.js';
import { kernelScene } from '../helpers/kernel-scene.js';
import { callDaemon } from '../../src/control/client.js';

if (!canUseNetns()) {
  t.plan(0, 'needs root and ip netns');
  process.exit(0);
}

t.test('lines written during reloads are counted exactly once', async (t) => {
  const { log, daemon } = await kernelScene(t, 'rldl', {
    jails: (log) => ({ sshd: { logpath: log, port: '22', maxretry: '3', bantime: '600' } }),
    logName: 'app.log',
  });
  const d = await startDaemon(daemon);
  t.teardown(() => d.stop());
  const lines = async () => (await d.status('sshd')).jails[0].lines;

  let written = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      let block = '';
      for (let i = 0; i < 200; i++) block += `Nov 26 12:00:00 srv app[1]: seq=${written++} nothing to see\n`;
      fs.appendFileSync(log, block);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  for (let i = 0; i < 5; i++) {
    const r = await callDaemon(d.socket, { cmd: 'reload', args: {} });
    t.same(r.jails, ['sshd'], `reload ${i + 1} done`);
  }
  writing = false;
  await writer;

  // wait until the count reaches what was written or stops moving for 3 s
  let seen = await lines();
  let since = performance.now();
  while (seen < written && performance.now() - since < 3000) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await lines();
    if (now !== seen) since = performance.now();
    seen = now;
  }
  t.comment(`written ${written}, counted ${seen}`);
  t.equal(seen, written, 'every line counted once across 5 reloads');
  t.ok(d.alive(), 'daemon still running');
});
