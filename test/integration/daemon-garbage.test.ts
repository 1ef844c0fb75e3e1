// Hostile input never stops the daemon: random binary, NUL bytes, a 5 MB line (arriving without
// its newline first), invalid UTF-8. Afterwards three ordinary failures still ban, and the bad
// lines are counted in logban_bad_lines_total. Real daemon, real kernel, fresh namespaces.
import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { canUseNetns } from '../helpers/netns.js';
import {
  metricValue, scrapeMetrics, sshdFailure, startDaemon, waitFor, waitForBanned,
} from '../helpers/daemon.js';
import { kernelScene } from '../helpers/kernel-scene.js';

if (!canUseNetns()) {
  t.plan(0, 'needs root and ip netns');
  process.exit(0);
}

t.test('garbage in the log leaves the daemon running and banning', async (t) => {
  const { net, log, daemon } = await kernelScene(t, 'junk', {
    jails: (log) => ({ sshd: { logpath: log, port: '22', maxretry: '3', findtime: '600', bantime: '600' } }),
  });
  const metrics = '127.0.0.1:9464'; // inside the namespace: its own loopback
  await net.listen(22);
  const d = await startDaemon({ ...daemon, metrics });
  t.teardown(() => d.stop());
  const append = (b: Buffer | string) => fs.appendFileSync(log, b);

  // random binary, seeded so a failure can be replayed; ends with a newline so the good lines
  // below start a line of their own
  const seed = crypto.randomBytes(4).readUInt32LE(0);
  t.comment(`binary seed ${seed}`);
  let s = seed || 1;
  const rand = Buffer.alloc(256 * 1024);
  for (let i = 0; i < rand.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5; // xorshift32
    rand[i] = s & 0xff;
  }
  append(Buffer.concat([rand, Buffer.from('\n')]));
  // NUL bytes: a block of them, and a failure line with NULs inside
  append(Buffer.concat([Buffer.alloc(8192), Buffer.from('\n')]));
  append(sshdFailure('198.18.3.7').replace('root', 'ro\0ot\0'));
  // a 5 MB line arriving without its newline; the newline comes later
  const huge = Buffer.alloc(5 * 1024 * 1024, 'A');
  huge.write(sshdFailure('198.18.3.8').trimEnd()); // a failure at its start must not count
  append(huge);
  // pacing only (nothing is asserted on it): let the daemon meet the unterminated line
  await new Promise((r) => setTimeout(r, 500));
  append('\n');
  // invalid UTF-8: stray continuation, overlong encoding, truncated sequence, 0xfe/0xff
  append(Buffer.from([0x80, 0x81, 0x0a, 0xc0, 0xaf, 0x0a, 0xe2, 0x82, 0x0a, 0xfe, 0xff, 0xfe, 0xff, 0x0a]));
  append(Buffer.concat([Buffer.from(sshdFailure('198.18.3.9').replace('root', '\xff\xfe'), 'latin1')]));

  t.ok(d.alive(), 'still running after the garbage');
  // now three ordinary failures
  append(sshdFailure(net.attackerAddr) + sshdFailure(net.attackerAddr) + sshdFailure(net.attackerAddr));
  await d.waitForLog(/\[sshd\] Ban 198\.18\.0\.2\b/, 20_000);
  t.pass('three good lines after the garbage ban');
  const elems = await waitForBanned(net.server, 'sshd', [net.attackerAddr]);
  t.pass('the ban is in the kernel set');
  t.notOk(elems.some((e) => e.addr === '198.18.3.8'), 'a failure inside the 5 MB line did not count');
  t.notOk(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 22, 1500), 'and the attacker is dropped');

  const st = (await d.status('sshd')).jails[0];
  t.ok(st.lines >= 8, `status counts the lines read (${st.lines})`);
  t.ok(st.matches >= 3, `status counts the failures (${st.matches})`);
  const text = await waitFor('bad lines in the metrics', async () => {
    const m = await scrapeMetrics(net.server, metrics);
    return metricValue(m, 'logban_bad_lines_total', { reason: 'too-long' }) >= 1 ? m : undefined;
  }, 10_000, 200);
  const bad = metricValue(text, 'logban_bad_lines_total');
  const tooLong = metricValue(text, 'logban_bad_lines_total', { reason: 'too-long' });
  t.comment(`logban_bad_lines_total: ${bad} (too-long ${tooLong}), lines ${st.lines}, matches ${st.matches}`);
  t.ok(tooLong >= 1, `the 5 MB line is counted as too long (${tooLong})`);
  t.ok(bad > tooLong, `binary lines are counted too (${bad - tooLong})`);
  t.ok(d.alive(), 'the daemon is still running');
  await d.stop();
});
