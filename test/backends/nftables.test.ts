// The nftables backend against the real kernel, inside throw-away network namespaces.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { NftBackend } from '../../src/backends/nftables.js';
import type { BanChange, JailRule } from '../../src/types.js';
import { canUseNetns, createNetns, type NetnsKit } from '../helpers/netns.js';

if (canUseNetns()) await kernelTests(await createNetns('backends'));
else t.plan(0, 'needs root and ip netns');

async function kernelTests(net: NetnsKit): Promise<void> {
  t.teardown(() => net.destroy());
  await net.listen(80);
  await net.listen(22);

  const jails: JailRule[] = [
    { name: 'web', ports: [80, 443, [8000, 8080]], protocol: 'tcp' },
    { name: '3proxy', ports: null, protocol: 'udp' },
  ];
  const ban = (addr: string, timeout: number, jail = 'web', prefix?: number): BanChange =>
    ({ op: 'ban', jail, addr, family: addr.includes(':') ? 6 : 4, prefix, timeout });
  const unban = (addr: string, jail = 'web', prefix?: number): BanChange =>
    ({ op: 'unban', jail, addr, family: addr.includes(':') ? 6 : 4, prefix, timeout: 0 });

  interface SetElem { val: unknown; timeout?: number; expires?: number }
  /** Elements of a small set, as `{ addr-or-prefix: {timeout, expires} }`. */
  async function elements(set: string): Promise<Map<string, SetElem>> {
    const out = JSON.parse(await net.nft(net.server, ['-j', 'list', 'set', 'inet', 'logban', set])) as
      { nftables: Array<{ set?: { elem?: unknown[] } }> };
    const m = new Map<string, SetElem>();
    for (const e of out.nftables.find((o) => o.set)?.set?.elem ?? []) {
      const el: SetElem = typeof e === 'object' && e !== null && 'elem' in e ? (e as { elem: SetElem }).elem : { val: e };
      const v = el.val as string | { prefix: { addr: string; len: number } };
      m.set(typeof v === 'string' ? v : `${v.prefix.addr}/${v.prefix.len}`, el);
    }
    return m;
  }

  const logs: string[] = [];
  const newBackend = (o: Partial<ConstructorParameters<typeof NftBackend>[0]> = {}): NftBackend =>
    new NftBackend({ table: 'logban', chainPriority: -200, netns: net.server, log: (m) => logs.push(m), ...o });

  t.beforeEach(async () => {
    await net.nft(net.server, ['flush', 'ruleset']);
  });

  t.test('start creates table, sets, chain and rules; a second start keeps bans', async (t) => {
    const be = newBackend();
    await be.start(jails);
    const listing = JSON.parse(await net.nft(net.server, ['-j', '-t', 'list', 'table', 'inet', 'logban'])) as
      { nftables: Array<Record<string, Record<string, unknown>>> };
    const sets = listing.nftables.filter((o) => o.set).map((o) => `${o.set.name} ${(o.set.flags as string[]).join(',')}`);
    const stem = be.setsOf('3proxy')[0].name.replace(/-v4$/, '');
    t.match(stem, /^j_3proxy_[0-9a-f]{6}$/, 'a jail name that is no nft identifier is mapped');
    t.same(sets.sort(), [
      `${stem}-v4 timeout`, `${stem}-v4net interval,timeout`, `${stem}-v6 timeout`, `${stem}-v6net interval,timeout`,
      'web-v4 timeout', 'web-v4net interval,timeout', 'web-v6 timeout', 'web-v6net interval,timeout',
    ]);
    const chain = listing.nftables.find((o) => o.chain)?.chain;
    t.match(chain, { name: 'input', type: 'filter', hook: 'input', prio: -200, policy: 'accept' });
    const text = await net.nft(net.server, ['list', 'chain', 'inet', 'logban', 'input']);
    t.match(text, /ip saddr @web-v4 tcp dport \{ 80, 443, 8000-8080 \} drop/);
    t.match(text, /ip6 saddr @web-v6net tcp dport \{ 80, 443, 8000-8080 \} drop/);
    t.match(text, new RegExp(`ip saddr @${stem}-v4 meta l4proto udp drop`));

    await be.apply([ban('198.18.0.2', 300)]);
    await be.start(jails);
    t.ok((await elements('web-v4')).has('198.18.0.2'), 'ban survives a repeated start');
    t.equal((text.match(/drop/g) ?? []).length, 8);
    t.equal(((await net.nft(net.server, ['list', 'chain', 'inet', 'logban', 'input'])).match(/drop/g) ?? []).length, 8, 'chain rebuilt, not doubled');

    // reload with another priority and without a jail: chain re-created, stale sets removed
    const be2 = newBackend({ chainPriority: -150 });
    await be2.start([jails[0]]);
    const after = await net.nft(net.server, ['-t', 'list', 'table', 'inet', 'logban']);
    t.match(after, /priority mangle;|priority -150;/);
    t.notMatch(after, /j_3proxy/);
    t.ok((await elements('web-v4')).has('198.18.0.2'));
    await be.stop(true);
    await be2.stop(false);
    t.notMatch(await net.nft(net.server, ['list', 'ruleset']), /logban/, 'stop(false) removes the table');
  });

  t.test('ban: element with its timeout, refreshed by a re-ban; traffic from it is dropped on the jail ports only', async (t) => {
    const be = newBackend();
    t.teardown(() => be.stop(true));
    await be.start(jails);
    await be.apply([ban('198.18.0.2', 100)]);
    let el = (await elements('web-v4')).get('198.18.0.2');
    t.equal(el?.timeout, 100);
    t.ok(el?.expires !== undefined && el.expires >= 98 && el.expires <= 100, `expires ${el?.expires}`);

    t.equal(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 80, 800), false, 'banned source cannot reach port 80');
    t.equal(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, 80, 2000), true, 'its neighbour can');
    t.equal(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 22, 2000), true, 'port 22 is not in the jail');

    await sleep(2100);
    el = (await elements('web-v4')).get('198.18.0.2');
    t.ok(el?.expires !== undefined && el.expires <= 98, `clock runs (expires ${el?.expires})`);
    await be.apply([ban('198.18.0.2', 100)]);
    el = (await elements('web-v4')).get('198.18.0.2');
    t.ok(el?.expires !== undefined && el.expires >= 99, `re-ban restarts the clock (expires ${el?.expires})`);

    await be.apply([ban('2001:db8::7', -1)]);
    const v6 = (await elements('web-v6')).get('2001:db8::7');
    t.ok(v6 && v6.timeout === undefined, 'permanent ban: element without timeout');

    await be.apply([unban('198.18.0.2')]);
    t.equal(await net.tcpConnect(net.attacker, net.attackerAddr, net.serverAddr, 80, 2000), true, 'unbanned source connects again');
  });

  t.test('a set filled by an earlier process: a ban of an element already there restarts its clock', async (t) => {
    const first = newBackend();
    await first.start(jails);
    await first.apply([ban('198.18.0.9', 100), ban('198.18.0.10', 100)]);
    await first.stop(true);
    await sleep(2100);
    const second = newBackend();
    t.teardown(() => second.stop(true));
    await second.start(jails);
    await second.apply([ban('198.18.0.9', 100)]);
    const els = await elements('web-v4');
    const re = els.get('198.18.0.9');
    t.ok(re?.expires !== undefined && re.expires >= 99, `re-banned after the restart: clock restarted (expires ${re?.expires})`);
    const other = els.get('198.18.0.10');
    t.ok(other?.expires !== undefined && other.expires <= 98, `the other element kept its clock (expires ${other?.expires})`);
    // bulk path (nft text) as well: a set this object created is tracked, one it found is not
    const many = Array.from({ length: 3000 }, (_, i) => ban(`198.18.${20 + (i >> 8)}.${i & 255}`, 100));
    await second.apply([...many, ban('198.18.0.10', 100)]);
    const after = (await elements('web-v4')).get('198.18.0.10');
    t.ok(after?.expires !== undefined && after.expires >= 99, `bulk re-ban restarts the clock too (expires ${after?.expires})`);
  });

  t.test('a short ban leaves by itself; unban of an expired element does not break its batch', async (t) => {
    const be = newBackend();
    t.teardown(() => be.stop(true));
    await be.start(jails);
    await be.apply([ban('198.18.0.3', 2), ban('198.18.9.1', 1), ban('198.18.9.2', 300)]);
    t.equal(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, 80, 500), false, 'banned for 2 s');
    await sleep(2300);
    const els = await elements('web-v4');
    t.notOk(els.has('198.18.0.3'), 'gone after its timeout');
    t.notOk(els.has('198.18.9.1'));
    t.equal(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, 80, 2000), true, 'connects again');
    // 198.18.9.1 expired in the kernel and 198.18.9.3 was never there
    await be.apply([unban('198.18.9.1'), unban('198.18.9.2'), unban('198.18.9.3')]);
    t.notOk((await elements('web-v4')).has('198.18.9.2'), 'the live one was removed in the same batch');
    // the same through a fresh process per batch
    const bulk = newBackend({ sessionMaxBytes: 0 });
    await bulk.start(jails);
    await bulk.apply([ban('198.18.9.4', 300)]);
    await bulk.apply([unban('198.18.9.1'), unban('198.18.9.4')]);
    t.notOk((await elements('web-v4')).has('198.18.9.4'));
    await bulk.stop(true);
  });

  t.test('10,000 bans in one apply are one nft process and all land', async (t) => {
    const be = newBackend();
    t.teardown(() => be.stop(true));
    await be.start(jails);
    const changes: BanChange[] = [];
    for (let i = 0; i < 10_000; i++) changes.push(ban(`198.19.${i >> 8}.${i & 255}`, 600));
    const before = { ...be.stats };
    await be.apply(changes);
    t.equal(be.stats.processes - before.processes, 1, 'one process');
    t.equal(be.stats.transactions - before.transactions, 1, 'one transaction');
    const els = await elements('web-v4');
    t.equal(els.size, 10_001, 'all elements plus the sentinel');
    t.ok(els.has('198.19.39.15'));
  });


  t.test('in one batch the last change of an address wins, in small and in bulk batches', async (t) => {
    const be = newBackend();
    t.teardown(() => be.stop(true));
    await be.start(jails);
    const mixed = (base: string): BanChange[] => [
      ban(`${base}.1`, 600), ban(`${base}.1`, 900), // re-ban: the later timeout
      ban(`${base}.2`, 600), unban(`${base}.2`), // banned, then unbanned
      unban(`${base}.3`), ban(`${base}.3`, 700), // unbanned, then banned
    ];
    await be.apply(mixed('198.18.40'));
    // bulk: the same among 30,000 other bans (text path, parts run at once)
    const bulk: BanChange[] = [];
    for (let i = 0; i < 30_000; i++) bulk.push(ban(`198.19.${i >> 8}.${i & 255}`, 600));
    await be.apply([...mixed('198.18.41'), ...bulk, ban('198.18.41.2', 60), unban('198.18.41.2')]);
    const els = await elements('web-v4');
    for (const base of ['198.18.40', '198.18.41']) {
      t.equal(els.get(`${base}.1`)?.timeout, 900, `${base}.1: the later ban's timeout`);
      t.notOk(els.has(`${base}.2`), `${base}.2: unbanned last, not in the set`);
      t.equal(els.get(`${base}.3`)?.timeout, 700, `${base}.3: banned last, in the set`);
    }
    t.equal(els.size, 1 + 4 + 30_000, 'the sentinel, two of each mixed group, the bulk');
  });

  t.test('60,000 bans over two jails go to three nft processes at once; every element lands with its timeout', async (t) => {
    const be = newBackend({ bulkProcesses: 3 });
    t.teardown(() => be.stop(true));
    await be.start(jails);
    const changes: BanChange[] = [];
    for (let i = 0; i < 45_000; i++) changes.push(ban(`198.18.${(i >> 8) + 10}.${i & 255}`, 600));
    for (let i = 0; i < 15_000; i++) changes.push(ban(`198.19.${i >> 8}.${i & 255}`, 900, '3proxy'));
    const before = { ...be.stats };
    await be.apply(changes);
    t.equal(be.stats.processes - before.processes, 3, 'three processes (at least 20,000 elements each)');
    t.equal(be.stats.transactions - before.transactions, 3, 'three transactions');
    const web = await elements('web-v4');
    const proxy = await elements(be.setsOf('3proxy').find((s) => s.family === 4 && s.kind === 'address')!.name);
    t.equal(web.size, 45_001, 'web: every element plus the sentinel');
    t.equal(proxy.size, 15_001, '3proxy: every element plus the sentinel');
    t.equal(web.get('198.18.185.199')?.timeout, 600, 'last web element, its timeout');
    t.equal(proxy.get('198.19.0.0')?.timeout, 900, 'first 3proxy element, its own timeout');
    t.equal(proxy.get('198.19.58.151')?.timeout, 900, 'last 3proxy element');
  });
  t.test('invalid addresses never reach nft; the valid ones of the batch land', async (t) => {
    const be = newBackend();
    t.teardown(() => be.stop(true));
    await be.start(jails);
    const bad: BanChange[] = [
      { op: 'ban', jail: 'web', addr: '999.1.1.1', family: 4, timeout: 60 },
      { op: 'ban', jail: 'web', addr: 'example.com', family: 4, timeout: 60 },
      { op: 'ban', jail: 'web', addr: '1.2.3.4 } ; flush ruleset', family: 4, timeout: 60 },
      { op: 'ban', jail: 'web', addr: '2001:DB8::1', family: 6, timeout: 60 }, // not canonical
      { op: 'ban', jail: 'nosuchjail', addr: '198.18.7.7', family: 4, timeout: 60 },
    ];
    await t.rejects(be.apply([...bad, ban('198.18.7.1', 60)]), { name: 'UserError', message: /refused 5 change\(s\)/ });
    const els = await elements('web-v4');
    t.ok(els.has('198.18.7.1'));
    t.equal(els.size, 2);
    t.equal(be.stats.rejected, 5);
  });

  t.test('network bans: overlapping prefixes are accepted and each keeps its own expiry', async (t) => {
    const be = newBackend();
    t.teardown(() => be.stop(true));
    await be.start(jails);
    await be.apply([ban('198.18.0.0', 300, 'web', 24)]);
    t.equal(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, 80, 500), false, 'whole /24 banned');
    await be.apply([ban('198.18.0.0', 600, 'web', 16), ban('10.0.0.0', 100, 'web', 8), ban('10.1.0.0', 200, 'web', 16)]);
    let els = await elements('web-v4net');
    t.ok(els.has('198.18.0.0/16') && !els.has('198.18.0.0/24'), 'the wider, longer ban covers the narrower one');
    t.equal(els.get('10.1.0.0/16')?.timeout, 200);
    t.equal(els.get('10.128.0.0/9')?.timeout, 100, '10/8 is split around 10.1/16');
    await be.apply([unban('198.18.0.0', 'web', 16), unban('10.1.0.0', 'web', 16)]);
    els = await elements('web-v4net');
    t.ok(els.has('198.18.0.0/24'), 'the /24 is back once the /16 is lifted');
    t.ok(els.has('10.0.0.0/8'));
    await be.apply([unban('198.18.0.0', 'web', 24)]);
    t.equal(await net.tcpConnect(net.attacker, net.neighbourAddr, net.serverAddr, 80, 2000), true);

    // someone else put an element in our interval set: the next update overlaps it, fails, and
    // the backend rebuilds the set from what it knows
    await net.nft(net.server, ['add', 'element', 'inet', 'logban', 'web-v4net', '{ 172.16.1.0/24 }']);
    await be.apply([ban('172.16.0.0', 60, 'web', 12)]);
    els = await elements('web-v4net');
    t.same([...els.keys()].sort(), ['10.0.0.0/8', '172.16.0.0/12', '255.255.255.255']);
    t.ok(logs.some((l) => /network set update failed, rebuilding web-v4net/.test(l)));
  });

  t.test('healthy() notices an external flush and start() repairs', async (t) => {
    const be = newBackend();
    t.teardown(() => be.stop(true));
    await be.start(jails);
    await be.apply([ban('10.9.0.0', 300, 'web', 16), ban('198.18.8.1', 300)]);
    t.equal(await be.healthy(), true);
    t.equal(await be.healthy(), true, 'the check changes nothing');
    t.ok((await elements('web-v4')).has('198.18.8.1'));
    await net.nft(net.server, ['delete', 'element', 'inet', 'logban', 'web-v6', '{ ff00:: }']);
    t.equal(await be.healthy(), false, 'a set emptied behind our back');
    t.ok(logs.some((l) => /first difference at set web-v6/.test(l)));
    t.ok((await elements('web-v4')).has('198.18.8.1'), 'an unhealthy check changes nothing either');
    await net.nft(net.server, ['flush', 'ruleset']);
    t.equal(await be.healthy(), false);
    await be.start(jails);
    t.equal(await be.healthy(), true);
    t.ok((await elements('web-v4net')).has('10.9.0.0/16'), 'network bans are re-sent by start()');
    await net.nft(net.server, ['flush', 'chain', 'inet', 'logban', 'input']);
    t.equal(await be.healthy(), false, 'a chain without its rules is not healthy');
    // the session survives the external change: its next batch still works
    await be.start(jails);
    await be.apply([ban('198.18.8.8', 60)]);
    t.ok((await elements('web-v4')).has('198.18.8.8'));
  });

  t.test('nft errors are reported with nft\'s message', async (t) => {
    const be = newBackend();
    await be.start(jails);
    await net.nft(net.server, ['delete', 'table', 'inet', 'logban']);
    await t.rejects(be.apply([ban('198.18.9.9', 60)]), { name: 'NftError', message: /No such file or directory/ });
    await t.rejects(be.apply(Array.from({ length: 100 }, (_, i) => ban(`198.18.10.${i}`, 60))), { name: 'NftError', message: /No such file/ });
    const bulk = newBackend({ sessionMaxBytes: 0 });
    await bulk.start(jails);
    await net.nft(net.server, ['delete', 'table', 'inet', 'logban']);
    await t.rejects(bulk.apply([ban('198.18.9.9', 60)]), { name: 'NftError', message: /nft (?:-j )?-f - failed \(exit 1\): .*No such file or directory/ });
    await be.stop(true);
    await bulk.stop(true);
  });
}
