import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { compileFilter, filterFromPlan, planOf, type CompiledFilter, type CompiledRegex } from '../../src/match/compile.js';
import { CompiledGroup } from '../../src/match/chunk.js';
import { loadFilter } from '../../src/config/load.js';
import { FilterInvalid, FilterRefused } from '../../src/match/errors.js';
import { FilterRun } from '../../src/match/matcher.js';
import { UserError } from '../../src/errors.js';
import { bundledConfig, fixtures } from '../helpers/paths.js';
import { filterDef, FILE } from './filter-def.js';

/** Host (or undefined) a single-line filter finds in a line that carries no date. */
function hostIn(f: CompiledFilter, line: string): string | undefined {
  return new FilterRun(f).processLine(line, 0).failure?.host;
}

function captures(f: CompiledFilter, line: string): Record<string, string> | undefined {
  return new FilterRun(f).processLine(line, 0).failure?.captures;
}

t.test('<HOST> finds IPv4, IPv6, bracketed IPv6 and reports the IPv4 of a mapped address', async (t) => {
  const f = compileFilter(filterDef('^client <HOST> denied$'));
  t.equal(hostIn(f, 'client 192.0.2.7 denied'), '192.0.2.7');
  t.equal(hostIn(f, 'client 2001:db8::1 denied'), '2001:db8::1');
  t.equal(hostIn(f, 'client [2001:db8:0:1::42] denied'), '2001:db8:0:1::42');
  t.equal(hostIn(f, 'client ::ffff:198.51.100.9 denied'), '198.51.100.9');
  t.equal(hostIn(f, 'client fe80:: denied'), 'fe80::');
  t.equal(hostIn(f, 'client mail.example.org denied'), 'mail.example.org', 'usedns=warn captures names');
  t.equal(hostIn(f, 'client 192.0.2.7 accepted'), undefined);
});

t.test('usedns=no: <HOST> matches addresses only', async (t) => {
  const f = compileFilter(filterDef('^client <HOST> denied$', { usedns: 'no' }));
  t.equal(hostIn(f, 'client 192.0.2.7 denied'), '192.0.2.7');
  t.equal(hostIn(f, 'client mail.example.org denied'), undefined);
  const raw = compileFilter(filterDef('^client <HOST> denied$', { usedns: 'raw' }));
  t.equal(hostIn(raw, 'client mail.example.org denied'), 'mail.example.org');
});

t.test('<ADDR>, <IP4>, <IP6>, <DNS>, <CIDR>, <SUBNET>', async (t) => {
  t.equal(hostIn(compileFilter(filterDef('^from <ADDR>$')), 'from 203.0.113.5'), '203.0.113.5');
  t.equal(hostIn(compileFilter(filterDef('^from <ADDR>$')), 'from host.example'), undefined);
  t.equal(hostIn(compileFilter(filterDef('^from <IP4>$')), 'from 2001:db8::5'), undefined);
  t.equal(hostIn(compileFilter(filterDef('^from <IP6>$')), 'from 2001:db8::5'), '2001:db8::5');
  t.equal(hostIn(compileFilter(filterDef('^from <DNS>$')), 'from bad.example.net'), 'bad.example.net');
  t.equal(hostIn(compileFilter(filterDef('^net <ADDR>/<CIDR>$')), 'net 198.51.100.0/24'), '198.51.100.0/24');
  t.equal(hostIn(compileFilter(filterDef('^net <SUBNET> banned$')), 'net 2001:db8::/32 banned'), '2001:db8::/32');
  t.equal(hostIn(compileFilter(filterDef('^net <SUBNET> banned$')), 'net 192.0.2.1 banned'), '192.0.2.1');
});

t.test('an address injected in a user name does not match an anchored filter', async (t) => {
  const f = compileFilter(filterDef('^Failed password for <F-USER>\\S+</F-USER> from <HOST> port \\d+$'));
  t.equal(hostIn(f, 'Failed password for root from 192.0.2.1 port 22'), '192.0.2.1');
  // the attacker chose the user name "x from 1.2.3.4 port 1 y"
  t.equal(hostIn(f, 'Failed password for x from 1.2.3.4 port 1 y from 192.0.2.1 port 22'), undefined);
  t.equal(hostIn(f, 'Failed password for from 1.2.3.4 port 1'), undefined);
});

t.test('<F-ID>, <F-USER>, custom <F-NAME> captures come out lower-cased; alt_ names merge', async (t) => {
  const f = compileFilter(filterDef('^session <F-ID/> user <F-USER>\\w+</F-USER> <F-AGENT>[^ ]+</F-AGENT> from <HOST>$'));
  t.same(captures(f, 'session abc123 user admin curl/8 from 192.0.2.3'), { fid: 'abc123', user: 'admin', agent: 'curl/8' });
  const id = compileFilter(filterDef('^token <F-ID>\\w+</F-ID> rejected$'));
  t.equal(hostIn(id, 'token deadbeef rejected'), 'deadbeef', 'failure id stands in for an address');
  const alt = compileFilter(filterDef('^(?:user <F-USER>\\w+</F-USER>|login <F-ALT_USER_1>\\w+</F-ALT_USER_1>) from <HOST>$'));
  t.same(captures(alt, 'login bob from 192.0.2.9'), { user: 'bob' });
  t.same(captures(compileFilter(filterDef('^x <F-PORT/> <HOST>$')), 'x 8080 192.0.2.1'), { fport: '8080' });
});

t.test('a close tag that was never opened stays literal text, as in fail2ban', async (t) => {
  const f = compileFilter(filterDef('^a</F-NOPE> <HOST>$'));
  t.equal(hostIn(f, 'a</F-NOPE> 192.0.2.1'), '192.0.2.1');
});

t.test('Python syntax is translated to RE2', async (t) => {
  const cases: Array<[string, string, string | undefined]> = [
    ['(?P<who>\\w+) from <HOST>', 'bob from 192.0.2.1', '192.0.2.1'],
    ['^(?i)FAILED from <HOST>', 'failed from 192.0.2.1', '192.0.2.1'],
    ['^failed (?i)FROM <HOST>', 'FAILED from 192.0.2.1', '192.0.2.1'], // Python: global wherever it stands
    ['^x((?i)ab)c <HOST>', 'xABc 192.0.2.1', '192.0.2.1'], // fail2ban makes it local
    ['^x((?i)ab)c <HOST>', 'xABC 192.0.2.1', undefined],
    ['^x(?#a comment) <HOST>\\Z', 'x 192.0.2.1', '192.0.2.1'],
    ['^x{,2}y <HOST>', 'xxy 192.0.2.1', '192.0.2.1'],
    ['^a{1 <HOST>', 'a{1 192.0.2.1', '192.0.2.1'],
    ['^[]x] <HOST>', '] 192.0.2.1', '192.0.2.1'],
    ['^\\x41\\u0042 <HOST>', 'AB 192.0.2.1', '192.0.2.1'],
    ['^(?s:a.b) <HOST>', 'a\nb 192.0.2.1', '192.0.2.1'],
    ['(?x) ^ x \\  <HOST> # comment', 'x 192.0.2.1', '192.0.2.1'],
  ];
  for (const [re, line, host] of cases) {
    const f = compileFilter(filterDef(re));
    t.equal(hostIn(f, line), host, `${re} on ${JSON.stringify(line)}`);
  }
});

t.test('constructs RE2 cannot run are refused, naming file, line and construct', async (t) => {
  const refused: Array<[string, string]> = [
    ['^(?=x)<HOST>', '(?='],
    ['^(?!x)<HOST>', '(?!'],
    ['^(?<=x)<HOST>', '(?<='],
    ['^(?<!x)<HOST>', '(?<!'],
    ['^(?P<q>["\'])<HOST>(?P=q)', '(?P=q)'],
    ['^(x)?(?(1)a|b)<HOST>', '(?(1)'],
    ['^(\\w)\\1 <HOST>', '\\1'],
    ['^(?>x)<HOST>', '(?>'],
    ['^x*+<HOST>', 'x*+'],
  ];
  for (const [re, construct] of refused) {
    const err = t.throws(() => compileFilter(filterDef(['^ok <HOST>$', re]))) as Error;
    t.ok(err instanceof FilterRefused && err instanceof UserError, `${re} refused as a user error`);
    t.match(err.message, `${FILE}:11`, 'names file and line');
    t.match(err.message, JSON.stringify(construct), 'names the construct');
  }
});

t.test('a refusal points to the built-in filter of the same name when there is one', async (t) => {
  const builtinDir = path.join(fixtures, 'match', 'builtin');
  const def = filterDef('^(?!127)<HOST> .*"POST /xmlrpc', { name: 'xmlrpc' });
  const err = t.throws(() => compileFilter(def, { builtinDir })) as Error;
  t.match(err.message, "use logban's built-in filter xmlrpc");
  const other = t.throws(() => compileFilter({ ...def, name: 'nosuch' }, { builtinDir })) as Error;
  t.notMatch(other.message, 'built-in');
});

t.test('broken filters are user errors with file and line', async (t) => {
  const invalid = (fn: () => unknown): Error => {
    const e = t.throws(fn) as Error;
    t.ok(e instanceof FilterInvalid && e instanceof UserError, e.message);
    return e;
  };
  t.match(invalid(() => compileFilter(filterDef('^no address here$'))).message, `${FILE}:10`);
  t.match(invalid(() => compileFilter(filterDef('^(<HOST>'))).message, 'missing )');
  const bad = t.throws(() => compileFilter(filterDef('^<HOST>', { datepattern: [{ value: '%Q', file: FILE, line: 4 }] }))) as Error;
  t.match(bad.message, `${FILE}:4`);
  t.match(invalid(() => compileFilter(filterDef('^<HOST>', { logtimezone: 'Mars/Base' }))).message, 'Mars/Base');
});

t.test('prefregex with <F-CONTENT>, ignoreregex, <F-NOFAIL>', async (t) => {
  const f = compileFilter(filterDef(['^Failed for <F-USER>\\S+</F-USER> from <HOST>$', '^<F-NOFAIL>Accepted</F-NOFAIL> for \\S+ from <HOST>$'], {
    prefregex: { value: '^sshd\\[\\d+\\]: <F-CONTENT>.+</F-CONTENT>$', file: FILE, line: 9 },
    ignoreregex: [{ value: 'for admin ', file: FILE, line: 20 }],
  }));
  const run = new FilterRun(f);
  t.same(run.processLine('sshd[12]: Failed for bob from 192.0.2.1', 0).failure, { regex: 0, host: '192.0.2.1', nofail: false, captures: { user: 'bob' } });
  t.same(run.processLine('sshd[12]: Failed for admin from 192.0.2.1', 0), { ignored: 0, matched: 0 });
  t.equal(run.processLine('cron[12]: Failed for bob from 192.0.2.1', 0).failure, undefined, 'prefregex must match');
  t.equal(run.processLine('sshd[12]: Accepted for bob from 192.0.2.1', 0).failure?.nofail, true);
});

t.test('a worker rebuilds each bundled filter from its plan: same regexes, literals, gate and verdicts', async (t) => {
  const sourcesOf = (r: CompiledRegex): unknown[] => [r.re.source, r.re.flags, r.batch?.source, r.batch?.flags, r.batchToEol?.source, r.batchToEol?.flags];
  const plainOf = (r: CompiledRegex): unknown => ({ ...r, re: undefined, batch: undefined, batchToEol: undefined });
  let rebuilt = 0;
  for (const file of fs.readdirSync(path.join(bundledConfig, 'filter.d')).filter((f) => f.endsWith('.conf')).sort()) {
    let f: CompiledFilter;
    try {
      f = compileFilter(loadFilter(bundledConfig, file.slice(0, -5)));
    } catch {
      continue; // included definitions (common.conf) are no filters of their own
    }
    // what a worker receives: the plan, structured-cloned
    const g = filterFromPlan(structuredClone(planOf(f)));
    const regs = (x: CompiledFilter): CompiledRegex[] => [...(x.prefregex ? [x.prefregex] : []), ...x.failregex, ...x.ignoreregex];
    t.same(regs(g).map(sourcesOf), regs(f).map(sourcesOf), `${file}: the RE2 objects`);
    t.same(regs(g).map(plainOf), regs(f).map(plainOf), `${file}: literals, groups, slots`);
    t.same([g.gate, g.multiline, g.maxlines, g.zone, g.name], [f.gate, f.multiline, f.maxlines, f.zone, f.name], `${file}: gate and shape`);
    rebuilt++;
  }
  t.ok(rebuilt > 50, `${rebuilt} bundled filters rebuilt from plans`);
  // and they match alike, batch paths included (sshd: prefregex, connection ids; a web filter)
  const defs = [loadFilter(bundledConfig, 'sshd'), loadFilter(bundledConfig, 'apache-xmlrpc')];
  const chunk = Buffer.from([
    'Jun 15 11:59:01 host sshd[42]: Failed password for invalid user bob from 198.18.0.5 port 22 ssh2',
    'Jun 15 11:59:02 host sshd[43]: Connection closed by authenticating user root 198.18.0.6 port 22 [preauth]',
    '198.18.0.7 - - [15/Jun/2024:11:59:03 +0000] "POST /xmlrpc.php HTTP/1.0" 200 5 "-" "x"',
    'unrelated line',
  ].join('\n') + '\n');
  const arrival = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000;
  const direct = new CompiledGroup(defs.map((d) => compileFilter(d))).process(chunk, arrival, undefined, { maxLineLength: 4096 });
  const viaPlan = new CompiledGroup(defs.map((d) => filterFromPlan(structuredClone(planOf(compileFilter(d)))))).process(chunk, arrival, undefined, { maxLineLength: 4096 });
  t.same(viaPlan, direct);
  t.same(direct.events.map((e) => e.host).sort(), ['198.18.0.5', '198.18.0.7'], 'the lines really matched');
});
