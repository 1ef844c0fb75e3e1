import t from 'tap';
import { MatcherPool } from '../../src/match/pool.js';
import { FilterRefused } from '../../src/match/errors.js';
import { filterDef } from './filter-def.js';

const ARRIVAL = 1_718_452_800;
const line = (ip: string, req: string) => `${ip} - - [15/Jun/2024:11:00:00 +0000] "${req}" 200 1 "-" "ua"\n`;

t.test('pool round trip: chunks are matched in workers, state comes back', async (t) => {
  const pool = new MatcherPool({ threads: 2, maxLineLength: 4096 });
  t.teardown(() => pool.close());
  pool.setGroups([
    { id: 1, filters: [filterDef('^<HOST>.*"POST /xmlrpc.php HTTP/1.0')] },
    { id: 2, filters: [filterDef('^login from <HOST><SKIPLINES>failed$', { maxlines: 3 })] },
  ]);
  t.equal(pool.isStateful(1), false);
  t.equal(pool.isStateful(2), true);

  // a fresh, whole ArrayBuffer is transferred; a pool slice is copied first
  const whole = Buffer.from(new ArrayBuffer(256));
  const text = line('192.0.2.1', 'POST /xmlrpc.php HTTP/1.0') + line('192.0.2.2', 'GET / HTTP/1.1');
  const n = whole.write(text);
  const slice = Buffer.from(line('198.51.100.3', 'POST /xmlrpc.php HTTP/1.0')); // small: from the shared pool
  const [a, b] = await Promise.all([pool.match(1, whole.subarray(0, n), ARRIVAL), pool.match(1, slice, ARRIVAL)]);
  t.same(a.events.map((e) => e.host), ['192.0.2.1']);
  t.equal(a.lines, 2);
  t.same(b.events.map((e) => e.host), ['198.51.100.3']);
  t.equal(slice.toString().startsWith('198.51.100.3'), true, 'a slice of the shared pool stays usable');

  const r1 = await pool.match(2, Buffer.from('login from 192.0.2.9\nnoise\n'), ARRIVAL);
  t.same(r1.events, []);
  const r2 = await pool.match(2, Buffer.from('failed\n'), ARRIVAL, r1.state);
  t.same(r2.events.map((e) => e.host), ['192.0.2.9']);

  // new configuration version: workers recompile
  pool.setGroups([{ id: 1, filters: [filterDef('^<HOST> .*"GET / ')] }]);
  const c = await pool.match(1, Buffer.from(text), ARRIVAL);
  t.same(c.events.map((e) => e.host), ['192.0.2.2']);
  t.throws(() => pool.match(2, Buffer.from('x\n'), ARRIVAL), /unknown group 2/);
});

t.test('a filter RE2 cannot run is refused by setGroups, before any worker sees it', async (t) => {
  const pool = new MatcherPool({ threads: 1 });
  t.teardown(() => pool.close());
  const err = t.throws(() => pool.setGroups([{ id: 1, filters: [filterDef('^(?!10\\.)<HOST> x')] }]));
  t.ok(err instanceof FilterRefused);
});

t.test('a connection-tied filter (sshd): chunks matched in parallel, connections completed in order', async (t) => {
  const { loadFilter } = await import('../../src/config/load.js');
  const { bundledConfig } = await import('../helpers/paths.js');
  const { CompiledGroup } = await import('../../src/match/chunk.js');
  const { compileFilter } = await import('../../src/match/compile.js');
  const { SourcePipeline } = await import('../../src/pipeline/source-pipeline.js');
  const sshd = loadFilter(bundledConfig, 'sshd', { publickey: 'nofail' });
  const pool = new MatcherPool({ threads: 2, maxLineLength: 4096 });
  t.teardown(() => pool.close());
  pool.setGroups([{ id: 7, filters: [sshd] }]);
  t.equal(pool.isStateful(7), false, 'no longer one chunk at a time');
  // one connection per address: a publickey probe (no failure alone), then its failure
  const lines: string[] = [];
  for (let c = 0; c < 400; c++) {
    const ip = `198.18.${c >> 8}.${c & 255}`;
    lines.push(`Nov 18 10:00:00 web1 sshd[${2000 + c}]: Failed publickey for root from ${ip} port ${40000 + c} ssh2: RSA SHA256:x`);
  }
  for (let c = 0; c < 400; c++) {
    const ip = `198.18.${c >> 8}.${c & 255}`;
    lines.push(`Nov 18 10:00:01 web1 sshd[${2000 + c}]: Failed password for root from ${ip} port ${40000 + c} ssh2`);
  }
  const chunks: Buffer[] = [];
  for (let i = 0; i < lines.length; i += 37) chunks.push(Buffer.from(lines.slice(i, i + 37).join('\n') + '\n'));
  const expected = new CompiledGroup([compileFilter(sshd)]);
  let state;
  const want: string[] = [];
  for (const c of chunks) {
    const r = expected.process(c, ARRIVAL, state, { maxLineLength: 4096 });
    state = r.state;
    for (const e of r.events) want.push(`${e.host}${e.nofail ? ' nofail' : ''}`);
  }
  const got: string[] = [];
  const pipe = new SourcePipeline(pool, 7, ['sshd'], {
    apply: (_jails, out) => { for (const e of out.events) got.push(`${e.host}${e.nofail ? ' nofail' : ''}`); },
  }, 4, pool.merger(7));
  for (const c of chunks) await pipe.push({ source: 'auth.log', buf: Buffer.from(c), endOffset: 0, arrival: ARRIVAL });
  await pipe.drain();
  t.ok(want.length >= 400, `${want.length} events`);
  t.same(got, want, 'same events as matching the chunks one after the other');
});
