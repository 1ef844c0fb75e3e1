import t from 'tap';
import { compileFilter } from '../../src/match/compile.js';
import { CompiledGroup, type ChunkResult, type MatchState } from '../../src/match/chunk.js';
import { filterDef, src } from './filter-def.js';

const ARRIVAL = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000;
const opts = { maxLineLength: 200 };
const XMLRPC = '^<HOST>.*"POST /xmlrpc.php HTTP/1.0';
const apache = (ip: string, req: string, sec = 1) => `${ip} - - [15/Jun/2024:11:00:0${sec} +0000] "${req}" 200 1 "-" "ua"`;

function group(...defs: Parameters<typeof compileFilter>[0][]): CompiledGroup {
  return new CompiledGroup(defs.map((d) => compileFilter(d)));
}

t.test('apache flood: only matching lines become events, with their own time', async (t) => {
  const g = group(filterDef(XMLRPC));
  const text = [
    apache('192.0.2.1', 'POST /xmlrpc.php HTTP/1.0', 1),
    apache('192.0.2.2', 'GET / HTTP/1.1', 2),
    apache('2001:db8::7', 'POST /xmlrpc.php HTTP/1.0', 3),
  ].join('\n') + '\n';
  const r = g.process(Buffer.from(text), ARRIVAL, undefined, opts);
  t.equal(r.lines, 3);
  t.same(r.events, [
    { jail: 0, host: '192.0.2.1', time: Date.UTC(2024, 5, 15, 11, 0, 1) / 1000 },
    { jail: 0, host: '2001:db8::7', time: Date.UTC(2024, 5, 15, 11, 0, 3) / 1000 },
  ]);
  t.same(r.matchesPerJail, [2]);
  t.equal(r.state, undefined, 'a single-line filter carries no state');
});

t.test('several jails on one source each get their events; ignoreregex counts', async (t) => {
  const g = group(
    filterDef(XMLRPC, { ignoreregex: [{ value: '^192\\.0\\.2\\.9 ', file: 'x', line: 1 }] }),
    filterDef('^<HOST> .*"GET /wp-login\\.php'),
  );
  const text = [
    apache('192.0.2.1', 'POST /xmlrpc.php HTTP/1.0'),
    apache('192.0.2.9', 'POST /xmlrpc.php HTTP/1.0'),
    apache('198.51.100.4', 'GET /wp-login.php HTTP/1.1'),
  ].join('\n') + '\n';
  const r = g.process(Buffer.from(text), ARRIVAL, undefined, opts);
  t.same(r.events.map((e) => [e.jail, e.host]), [[0, '192.0.2.1'], [1, '198.51.100.4']]);
  t.same(r.matchesPerJail, [1, 1]);
  t.same(r.ignoredPerJail, [1, 0]);
});

t.test('hostile bytes are skipped and counted, never fatal', async (t) => {
  const g = group(filterDef(XMLRPC));
  const good = apache('192.0.2.1', 'POST /xmlrpc.php HTTP/1.0');
  const parts = [
    Buffer.from(good + '\n'),
    Buffer.from(apache('192.0.2.2', 'POST /xmlrpc.php HTTP/1.0').replace('- -', '-\0-') + '\n'), // NUL, candidate
    Buffer.concat([Buffer.from('192.0.2.3 \xff\xfe "POST /xmlrpc.php HTTP/1.0', 'latin1'), Buffer.from('\n')]), // invalid UTF-8
    Buffer.from('garbage \0 not a candidate\n'),
    Buffer.from('192.0.2.4 ' + 'A'.repeat(300) + ' "POST /xmlrpc.php HTTP/1.0\n'), // over maxLineLength
    Buffer.from('x'.repeat(500) + '\n'), // long, not a candidate
    Buffer.from(apache('192.0.2.5', 'POST /xmlrpc.php HTTP/1.0') + '\r\n'), // CRLF
    Buffer.from('\n\n'),
    Buffer.from(apache('192.0.2.6', 'POST /xmlrpc.php HTTP/1.0')), // last line without newline
  ];
  const r = g.process(Buffer.concat(parts), ARRIVAL, undefined, opts);
  t.same(r.events.map((e) => e.host), ['192.0.2.1', '192.0.2.5', '192.0.2.6']);
  t.equal(r.badLines, 3);
  t.equal(r.cutLines, 2);
  t.equal(r.lines, 10);
  const empty = g.process(Buffer.alloc(0), ARRIVAL, undefined, opts);
  t.same([empty.lines, empty.events.length], [0, 0]);
});

t.test('a valid chunk (the native line walk where built): long lines, CRLF, empty lines, no final newline', async (t) => {
  const g = group(filterDef(XMLRPC));
  const text = [
    apache('192.0.2.1', 'POST /xmlrpc.php HTTP/1.0'),
    '192.0.2.4 ' + 'A'.repeat(300) + ' "POST /xmlrpc.php HTTP/1.0', // over maxLineLength, a candidate
    'x'.repeat(500), // long, not a candidate
    'y'.repeat(200), // exactly maxLineLength: kept
    apache('192.0.2.5', 'POST /xmlrpc.php HTTP/1.0') + '\r',
    '',
    '',
    apache('192.0.2.7', 'GET /index.html HTTP/1.0'),
    apache('192.0.2.6', 'POST /xmlrpc.php HTTP/1.0'),
  ].join('\n');
  const r = g.process(Buffer.from(text), ARRIVAL, undefined, { maxLineLength: 200 });
  t.same(r.events.map((e) => e.host), ['192.0.2.1', '192.0.2.5', '192.0.2.6']);
  t.same([r.lines, r.cutLines, r.badLines], [9, 2, 0]);
  t.same(r.matchesPerJail, [3]);
});

t.test('lines without a date get the arrival time; case-insensitive filters work on bytes', async (t) => {
  const g = group(filterDef('(?i)^LOGIN FAILED from <HOST>$'));
  const r = g.process(Buffer.from('login failed from 192.0.2.1\nLogin Failed From 192.0.2.2\nlogin ok from 192.0.2.3\n'), ARRIVAL, undefined, opts);
  t.same(r.events, [{ jail: 0, host: '192.0.2.1', time: ARRIVAL }, { jail: 0, host: '192.0.2.2', time: ARRIVAL }]);
});

t.test('multi-line filter: buffer carried across chunks through the returned state', async (t) => {
  const g = group(filterDef('^login from <HOST><SKIPLINES>failed for <F-USER>\\w+</F-USER>$', { maxlines: 3 }));
  t.ok(g.stateful);
  const r1 = g.process(Buffer.from('login from 192.0.2.1\nnoise\n'), ARRIVAL, undefined, opts);
  t.same(r1.events, []);
  t.ok(r1.state, 'the waiting lines come back as state');
  const state = structuredClone(r1.state) as MatchState; // crosses a thread boundary in the pool
  const r2: ChunkResult = g.process(Buffer.from('failed for bob\nfailed for eve\n'), ARRIVAL, state, opts);
  t.same(r2.events.map((e) => [e.host, e.captures?.user]), [['192.0.2.1', 'bob']]);
  const r3 = g.process(Buffer.from('failed for bob\n'), ARRIVAL, undefined, opts);
  t.same(r3.events, [], 'without the state the first line is missing');
  // maxlines bounds the buffer: too many lines between the two parts, no match
  const far = g.process(Buffer.from('login from 192.0.2.1\na\nb\nc\nfailed for bob\n'), ARRIVAL, undefined, opts);
  t.same(far.events, []);
});

t.test('<F-MLFID>: a connection id ties lines together, across chunks', async (t) => {
  const g = group(filterDef([
    '^conn <F-MLFID>\\d+</F-MLFID>: user <F-USER>\\w+</F-USER>$',
    '^conn <F-MLFID>\\d+</F-MLFID>: auth failed from <HOST>$',
    '^conn <F-MLFID>\\d+</F-MLFID>: <F-NOFAIL>authenticated</F-NOFAIL> from <HOST>$',
  ]));
  t.ok(g.stateful);
  const r1 = g.process(Buffer.from('conn 7: user bob\n'), ARRIVAL, undefined, opts);
  t.same(r1.events, []);
  const r2 = g.process(Buffer.from('conn 7: auth failed from 192.0.2.7\nconn 8: authenticated from 192.0.2.8\n'), ARRIVAL, r1.state, opts);
  t.same(r2.events, [{ jail: 0, host: '192.0.2.7', time: ARRIVAL, captures: { user: 'bob' } }], 'a success alone is no failure');
  // as in fail2ban, a line of the connection that was waiting for an address makes a later
  // success count as a failure
  const r3 = g.process(Buffer.from('conn 9: user eve\nconn 9: authenticated from 192.0.2.9\n'), ARRIVAL, undefined, opts);
  t.same(r3.events.map((e) => e.host), ['192.0.2.9']);
});

// The prefilter checks every literal a match needs (not only the most selective-looking one) on
// the raw bytes; the regex sees the line with its date cut out. Neither may change a verdict.
t.test('every required literal gates a line, and none is looked for across a cut-out date', async (t) => {
  const noscript = filterDef('^<HOST> -.*"GET /\\S*\\.(?:exe|sh|pl|cgi)(?:\\?\\S*)? HTTP/1\\.[01]"');
  const g = group(noscript);
  const text = [
    apache('192.0.2.1', 'GET /cgi-bin/test.sh HTTP/1.1'),
    apache('192.0.2.2', 'GET /index.html HTTP/1.1'), // " HTTP/1." and "GET /" but no script
    apache('192.0.2.3', 'GET /shop/apple.php HTTP/1.1'), // "sh" and "pl" but not ".sh" or ".pl"
    apache('192.0.2.4', 'GET /scripts/root.exe?/c+dir HTTP/1.0'),
  ].join('\n') + '\n';
  const r = g.process(Buffer.from(text), ARRIVAL, undefined, opts);
  t.same(r.events.map((e) => e.host), ['192.0.2.1', '192.0.2.4']);

  // "- " + date + " WARN" reads "-  WARN" once the date is cut: that text is not in the raw line
  const tine = filterDef('^\\S+ -- none -- -  WARN \\(\\d+\\): Login with username \\S+ from <HOST> failed', {
    datepattern: [src('^[^-]+ -- [^-]+ -- - ({DATE})')],
  });
  const line = '78017 -- none -- - 2014-01-13T05:02:22+00:00 WARN (4): Login with username x from 192.0.2.9 failed (-1)!\n';
  const hit = group(tine).process(Buffer.from(line), ARRIVAL, undefined, opts);
  t.same(hit.events.map((e) => e.host), ['192.0.2.9'], 'the literal spanning the cut does not reject the line');
});

t.test('long runs of candidate lines are matched in several batches, in order', async (t) => {
  const g = group(filterDef(XMLRPC), filterDef('^<HOST> .*"GET /wp-login\\.php'));
  const lines: string[] = [];
  for (let i = 0; i < 5000; i++) {
    lines.push(apache(`192.0.2.${i % 250}`, i % 3 ? 'POST /xmlrpc.php HTTP/1.0' : 'GET /wp-login.php HTTP/1.1'));
  }
  const r = g.process(Buffer.from(lines.join('\n') + '\n'), ARRIVAL, undefined, { maxLineLength: 1000 });
  t.equal(r.events.length, 5000);
  t.same(r.matchesPerJail, [3333, 1667]);
  t.ok(r.events.every((e, i) => e.jail === (i % 3 ? 0 : 1) && e.host === `192.0.2.${i % 250}`), 'events keep line order');
});

t.test('events of several batched filters come out in line order, then jail order, captures with their event', async (t) => {
  // the second filter's events are recorded first (its literal is on every line), the first's
  // after: the chunk's events are put back in (line, jail) order
  const g = group(filterDef('^<HOST> login user=<F-USER>\\S+</F-USER> failed'), filterDef('^<HOST> login'));
  const lines: string[] = [];
  const want: Array<[number, string, string | undefined]> = [];
  for (let i = 0; i < 600; i++) {
    const host = `198.18.${i % 200}.${1 + (i % 7)}`;
    if (i % 4 === 0) {
      lines.push(`${host} login user=u${i} failed`);
      want.push([0, host, `u${i}`], [1, host, undefined]);
    } else {
      lines.push(`${host} login ok`);
      want.push([1, host, undefined]);
    }
  }
  const r = g.process(Buffer.from(lines.join('\n') + '\n'), ARRIVAL, undefined, { maxLineLength: 1000 });
  t.same(r.events.map((e) => [e.jail, e.host, e.captures?.user]), want);
});
