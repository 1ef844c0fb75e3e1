// Property test of the line path: whatever bytes an attacker writes into a log (binary, NUL,
// invalid UTF-8, megabyte lines, injected "from ADDR" text), processing never throws, every event
// carries a valid address that a genuine line put there, and the genuine lines around the garbage
// still match. Seeded, so a failure replays.
import t from 'tap';
import { compileFilter } from '../../src/match/compile.js';
import { CompiledGroup } from '../../src/match/chunk.js';
import { loadFilter } from '../../src/config/load.js';
import { parseAddress } from '../../src/net/address.js';
import { bundledConfig } from '../helpers/paths.js';
import { filterDef } from './filter-def.js';

const ARRIVAL = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000;
const MAX_LINE = 4096;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

const xmlrpc = (ip: string) => `${ip} - - [15/Jun/2024:11:00:01 +0000] "POST /xmlrpc.php HTTP/1.0" 200 1 "-" "ua"`;
const sshd = (ip: string) => `Jun 15 11:00:01 srv sshd[42]: Failed password for root from ${ip} port 4242 ssh2`;

/** A line of garbage: random bytes, NUL, invalid UTF-8, over-long, or text that imitates a
 * failure with an injected address in a place the filters must not take it from. */
function garbage(rnd: () => number): Buffer {
  switch (Math.floor(rnd() * 6)) {
    case 0: {
      const b = Buffer.alloc(1 + Math.floor(rnd() * 300));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
      for (let i = 0; i < b.length; i++) if (b[i] === 10) b[i] = 0;
      return b;
    }
    case 1:
      return Buffer.from(`\0${xmlrpc('198.18.250.1')}`);
    case 2:
      return Buffer.concat([Buffer.from(sshd('198.18.250.2').slice(0, 30)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(' from 198.18.250.3 port 1 ssh2')]);
    case 3:
      return Buffer.from(`${'A'.repeat(MAX_LINE + Math.floor(rnd() * 20000))} "POST /xmlrpc.php HTTP/1.0`);
    case 4:
      // injection: the address sits inside the user name / URL, never at the anchored place
      return Buffer.from(`Jun 15 11:00:01 srv sshd[42]: Failed password for invalid user x from 198.18.250.4 port 22 ssh2 from`);
    default:
      return Buffer.from(`GET /?q=198.18.250.5 - - "POST /xmlrpc.php HTTP/1.0"`);
  }
}

t.test('random garbage around genuine failures: never fatal, never a wrong address', async (t) => {
  const group = new CompiledGroup([
    // usedns = no: addresses only (with warn/yes a host name like "GET" is captured and left
    // to the ban table, which drops what is not an address)
    compileFilter(filterDef('^<HOST>.*"POST /xmlrpc.php HTTP/1.0', { usedns: 'no' })),
    compileFilter(loadFilter(bundledConfig, 'sshd')),
  ]);
  const rnd = prng(20261126);
  let state: ReturnType<CompiledGroup['process']>['state'];
  let genuineSeen = 0;
  let genuineWritten = 0;
  for (let round = 0; round < 200; round++) {
    const parts: Buffer[] = [];
    const expected: string[] = [];
    const n = 1 + Math.floor(rnd() * 40);
    for (let i = 0; i < n; i++) {
      if (rnd() < 0.4) {
        const ip = `198.18.${Math.floor(rnd() * 200)}.${1 + Math.floor(rnd() * 250)}`;
        parts.push(Buffer.from(rnd() < 0.5 ? xmlrpc(ip) : sshd(ip)));
        expected.push(ip);
      } else {
        parts.push(garbage(rnd));
      }
      parts.push(Buffer.from('\n'));
    }
    const chunk = Buffer.concat(parts);
    let r;
    try {
      r = group.process(chunk, ARRIVAL, state, { maxLineLength: MAX_LINE });
    } catch (err) {
      t.fail(`round ${round} threw: ${(err as Error).message}`);
      return;
    }
    state = r.state;
    t.equal(r.lines, n, `round ${round}: every line counted`);
    const hosts = r.events.filter((e) => !e.nofail).map((e) => e.host);
    for (const h of hosts) {
      if (parseAddress(h) === null || h.startsWith('198.18.250.')) {
        t.fail(`round ${round}: event with a host that no genuine line carried: ${JSON.stringify(h)}`);
        return;
      }
    }
    t.same(hosts, expected, `round ${round}: exactly the genuine failures, in order`);
    genuineSeen += hosts.length;
    genuineWritten += expected.length;
  }
  t.equal(genuineSeen, genuineWritten, `${genuineWritten} genuine failures among the garbage all matched`);
});
