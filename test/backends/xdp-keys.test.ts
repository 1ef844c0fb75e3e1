// Map keys for the XDP program: the byte layout the C structs expect.
import t from 'tap';
import { KEY_SIZE, writeExactKey, writeIPv4, writeIPv6, writeNetKey } from '../../src/backends/xdp-keys.js';

const hex = (b: Buffer) => b.toString('hex');

t.test('IPv4 addresses in network order; malformed ones refused', async (t) => {
  const b = Buffer.alloc(4);
  t.ok(writeIPv4('198.18.0.7', b, 0));
  t.equal(hex(b), 'c6120007');
  for (const bad of ['999.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', '', '1.2.3.4 ', 'a.b.c.d', '1.2.3.1000']) {
    t.notOk(writeIPv4(bad, Buffer.alloc(4), 0), `refuses ${JSON.stringify(bad)}`);
  }
});

t.test('IPv6 addresses, compressed, full and with an IPv4 tail', async (t) => {
  const cases: Array<[string, string]> = [
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['fe80::', 'fe800000000000000000000000000000'],
    ['2001:db8:0:1:2:3:4:5', '20010db8000000010002000300040005'],
    ['::ffff:198.18.0.1', '00000000000000000000ffffc6120001'],
    ['2001:DB8::A:b', '20010db80000000000000000000a000b'],
  ];
  for (const [text, want] of cases) {
    const b = Buffer.alloc(16);
    t.ok(writeIPv6(text, b, 0), text);
    t.equal(hex(b), want, text);
  }
  for (const bad of [':', ':::', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'g::1', '1:', '::1.2.3']) {
    t.notOk(writeIPv6(bad, Buffer.alloc(16), 0), `refuses ${JSON.stringify(bad)}`);
  }
});

t.test('exact keys pick the family', async (t) => {
  const b4 = Buffer.alloc(KEY_SIZE.exact4);
  const b6 = Buffer.alloc(KEY_SIZE.exact6);
  t.ok(writeExactKey(4, '198.18.1.2', b4, 0));
  t.ok(writeExactKey(6, '2001:db8::2', b6, 0));
  t.notOk(writeExactKey(4, '2001:db8::2', b4, 0), 'an IPv6 text is not an IPv4 key');
});

t.test('LPM keys carry the prefix length and clear host bits', async (t) => {
  const b = Buffer.alloc(KEY_SIZE.net4);
  t.ok(writeNetKey(4, '198.18.77.7', 30, b, 0));
  t.equal(b.readUInt32LE(0), 30);
  t.equal(hex(b.subarray(4)), 'c6124d04', 'host bits of .7 cleared in the /30');
  const b6 = Buffer.alloc(KEY_SIZE.net6);
  t.ok(writeNetKey(6, '2001:db8:ffff::1', 36, b6, 0));
  t.equal(b6.readUInt32LE(0), 36);
  t.equal(hex(b6.subarray(4)), '20010db8f0000000000000000000000'.padEnd(32, '0'));
  t.notOk(writeNetKey(4, '198.18.0.0', 33, b, 0), 'prefix longer than the family refused');
  t.notOk(writeNetKey(6, '2001:db8::', -1, b6, 0), 'negative prefix refused');
});
