// The long-lived nft session and the one-shot runner, on the real kernel in a namespace.
import t from 'tap';
import { NftError, NftSession, runNft } from '../../src/backends/nft-runner.js';
import { canUseNetns, createNetns, type NetnsKit } from '../helpers/netns.js';

if (canUseNetns()) await kernelTests(await createNetns('runner'));
else t.plan(0, 'needs root and ip netns');

async function kernelTests(net: NetnsKit): Promise<void> {
  t.teardown(() => net.destroy());
  const inv = { netns: net.server };
  const doc = (cmds: unknown[]): string => JSON.stringify({ nftables: cmds });
  const tbl = { family: 'inet', name: 'rt1' };

  t.test('one-shot: input through a file, nft errors carry stderr', async (t) => {
    await runNft(inv, ['-j', '-f', '-'], doc([{ add: { table: tbl } }]));
    t.match(await net.nft(net.server, ['-j', 'list', 'tables']), /"name": "rt1"/);
    const err = await runNft(inv, ['-j', '-f', '-'], doc([{ add: { set: { family: 'inet', table: 'nosuch', name: 's', type: 'ipv4_addr' } } }])).catch((e: unknown) => e);
    t.ok(err instanceof NftError);
    t.match((err as NftError).stderr, /No such file or directory/);
    t.equal((err as NftError).exitCode, 1);
    const missing = await runNft({ nftPath: '/nonexistent/nft' }, ['--version']).catch((e: unknown) => e);
    t.match(missing, { name: 'NftError', message: /cannot run \/nonexistent\/nft|exit/ });
  });

  t.test('session: success, failure, and the next request still works', async (t) => {
    const s = new NftSession(inv, { recycleAfter: 3 });
    t.teardown(() => s.close());
    await s.run(doc([{ add: { table: tbl } }, { add: { set: { family: 'inet', table: 'rt1', name: 's', type: 'ipv4_addr' } } }]));
    const first = s.pid;
    await t.rejects(s.run(doc([{ delete: { element: { family: 'inet', table: 'rt1', name: 's', elem: ['198.18.1.1'] } } }])),
      { name: 'NftError', message: /No such file or directory/ });
    await t.rejects(s.run('this is not nft'), { name: 'NftError', message: /syntax error/ });
    await s.run(doc([{ add: { element: { family: 'inet', table: 'rt1', name: 's', elem: ['198.18.1.2'] } } }]));
    t.match(await net.nft(net.server, ['-j', 'list', 'set', 'inet', 'rt1', 's']), /198\.18\.1\.2/);
    await t.rejects(s.run('two\nlines'), /one line/);

    t.not(s.pid, first, 'the 4th request ran in a fresh process (recycleAfter: 3)');

    // the process dies: the next request starts another one
    process.kill(s.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    await s.run(doc([{ add: { element: { family: 'inet', table: 'rt1', name: 's', elem: ['198.18.1.4'] } } }]));
    t.match(await net.nft(net.server, ['-j', 'list', 'set', 'inet', 'rt1', 's']), /198\.18\.1\.4/);
  });

  t.test('session: concurrent callers are served one at a time, in order', async (t) => {
    const s = new NftSession(inv);
    t.teardown(() => s.close());
    const results = await Promise.allSettled([
      s.run(doc([{ add: { element: { family: 'inet', table: 'rt1', name: 's', elem: ['198.18.2.1'] } } }])),
      s.run(doc([{ add: { element: { family: 'inet', table: 'rt1', name: 'nosuch', elem: ['198.18.2.2'] } } }])),
      s.run(doc([{ add: { element: { family: 'inet', table: 'rt1', name: 's', elem: ['198.18.2.3'] } } }])),
    ]);
    t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  });
}
