import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jailSets, loadRulesetTemplate, portMatch, setStem } from '../../src/backends/nft-ruleset.js';
import { UserError } from '../../src/errors.js';

t.test('jail names that are nft identifiers are kept; others are mapped uniquely', async (t) => {
  t.equal(setStem('sshd'), 'sshd');
  t.equal(setStem('nginx-http-auth'), 'nginx-http-auth');
  t.match(setStem('3proxy'), /^j_3proxy_[0-9a-f]{6}$/);
  t.match(setStem('my jail'), /^j_my_jail_[0-9a-f]{6}$/);
  t.not(setStem('my jail'), setStem('my_jail'));
  t.ok(setStem('x'.repeat(200)).length <= 48);
});

t.test('the bundled template gives four sets per jail', async (t) => {
  const tpl = loadRulesetTemplate();
  const sets = jailSets(tpl, [{ name: 'sshd', ports: [22], protocol: 'tcp' }]).get('sshd') ?? [];
  t.same(sets.map((s) => s.name), ['sshd-v4', 'sshd-v6', 'sshd-v4net', 'sshd-v6net']);
  t.same(sets.map((s) => s.flags.join(',')), ['timeout', 'timeout', 'interval,timeout', 'interval,timeout']);
});

t.test('port match: lists, ranges (merged), all ports', async (t) => {
  t.same(portMatch({ name: 'a', ports: [22], protocol: 'tcp' }),
    { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 22 } });
  t.same(portMatch({ name: 'a', ports: [443, 80, [1000, 2000], [1500, 2500], 2501], protocol: 'udp' }),
    { match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: { set: [80, 443, { range: [1000, 2501] }] } } });
  t.same(portMatch({ name: 'a', ports: null, protocol: 'sctp' }),
    { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'sctp' } });
  t.throws(() => portMatch({ name: 'web', ports: [70000], protocol: 'tcp' }), { name: 'UserError', message: /jail "web": port 70000/ });
});

t.test('a broken template is a UserError naming the file', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lb-tpl-'));
  const f = path.join(dir, 'nftables.json');
  writeFileSync(f, '{"table": {"family": "inet", "name": "{table}"}, "chain": {"name": "input", "hook": "input"}, "sets": [{"suffix": "-v4", "family": 4, "kind": "address", "sentinel": "example.com"}], "rule": []}');
  t.throws(() => loadRulesetTemplate(f), new UserError(`nftables template ${f}: set -v4: sentinel "example.com" is not a single IPv4 address`));
  writeFileSync(f, '{ not json');
  t.throws(() => loadRulesetTemplate(f), { name: 'UserError', message: new RegExp(`cannot read nftables template ${f}`) });
});
