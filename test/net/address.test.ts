import t from 'tap';
import { addressToBigInt, bigIntToAddress, formatAddress, intToIpv4, ipv4ToInt, parseAddress } from '../../src/net/address.js';

t.test('IPv4 literals are accepted as they are', async (t) => {
  t.same(parseAddress('1.2.3.4'), { addr: '1.2.3.4', family: 4 });
  t.same(parseAddress('0.0.0.0'), { addr: '0.0.0.0', family: 4 });
  t.same(parseAddress('255.255.255.255'), { addr: '255.255.255.255', family: 4 });
});

t.test('things nft would resolve as host names, or misread, are refused', async (t) => {
  for (const bad of ['999.1.1.1', '256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', 'example.com',
    'localhost', '', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n', '1..3.4', '1.2.3.-4', '0x7f.0.0.1', '1.2.3.4/33',
    '1.2.3.4/', '1.2.3.4/08', '1.2.3.4/a', 'fe80::1%eth0', '::ffff:999.1.1.1', '1:2:3:4:5:6:7:8:9', 'gggg::1',
    '::1/129', '1.2.3.4;drop', '{ 1.2.3.4 }', 'a'.repeat(100)]) {
    t.equal(parseAddress(bad), null, JSON.stringify(bad));
  }
});

t.test('IPv6 is canonicalised (RFC 5952)', async (t) => {
  t.same(parseAddress('2001:DB8:0:0:0:0:0:1'), { addr: '2001:db8::1', family: 6 });
  t.same(parseAddress('2001:db8:0000:0001:0:0:0:0'), { addr: '2001:db8:0:1::', family: 6 });
  t.same(parseAddress('::1'), { addr: '::1', family: 6 });
  t.same(parseAddress('::'), { addr: '::', family: 6 });
  // the longest zero run is compressed, the first one on a tie, never a single zero word
  t.same(parseAddress('1:0:0:2:0:0:0:3')?.addr, '1:0:0:2::3');
  t.same(parseAddress('1:0:0:2:3:0:0:4')?.addr, '1::2:3:0:0:4');
  t.same(parseAddress('1:2:3:4:5:6:0:8')?.addr, '1:2:3:4:5:6:0:8');
  t.same(parseAddress('64:ff9b::192.0.2.33')?.addr, '64:ff9b::c000:221');
});

t.test('IPv4-mapped IPv6 becomes IPv4', async (t) => {
  t.same(parseAddress('::ffff:1.2.3.4'), { addr: '1.2.3.4', family: 4 });
  t.same(parseAddress('::FFFF:0102:0304'), { addr: '1.2.3.4', family: 4 });
  t.same(parseAddress('::ffff:10.1.2.0/120'), { addr: '10.1.2.0', family: 4, prefix: 24 });
  t.same(parseAddress('::ffff:10.1.2.3/128'), { addr: '10.1.2.3', family: 4 });
});

t.test('networks are masked to their prefix; a full-length prefix is an address', async (t) => {
  t.same(parseAddress('10.1.2.3/8'), { addr: '10.0.0.0', family: 4, prefix: 8 });
  t.same(parseAddress('10.1.2.3/32'), { addr: '10.1.2.3', family: 4 });
  t.same(parseAddress('0.0.0.0/0'), { addr: '0.0.0.0', family: 4, prefix: 0 });
  t.same(parseAddress('192.168.1.255/31'), { addr: '192.168.1.254', family: 4, prefix: 31 });
  t.same(parseAddress('2001:db8:ffff::1/33'), { addr: '2001:db8:8000::', family: 6, prefix: 33 });
  t.same(parseAddress('2001:db8::1/128'), { addr: '2001:db8::1', family: 6 });
  t.equal(formatAddress({ addr: '10.0.0.0', prefix: 8 }), '10.0.0.0/8');
});

t.test('IPv4 <-> integer', async (t) => {
  t.equal(ipv4ToInt('1.2.3.4'), 0x01020304);
  t.equal(ipv4ToInt('255.255.255.255'), 0xffffffff);
  t.equal(ipv4ToInt('0.0.0.0'), 0);
  t.equal(ipv4ToInt('999.1.1.1'), -1);
  t.equal(ipv4ToInt('::1'), -1);
  t.equal(intToIpv4(0xc0000201), '192.0.2.1');
  for (let i = 0; i < 1000; i++) {
    const n = Math.floor(Math.random() * 2 ** 32);
    t.equal(ipv4ToInt(intToIpv4(n)), n);
  }
});

t.test('bigint round trip for both families', async (t) => {
  t.equal(bigIntToAddress(addressToBigInt('2001:db8::1', 6), 6), '2001:db8::1');
  t.equal(addressToBigInt('::1', 6), 1n);
  t.equal(bigIntToAddress(addressToBigInt('10.0.0.1', 4), 4), '10.0.0.1');
  t.throws(() => addressToBigInt('nope', 6));
});

t.test('matches node:net on what is an address', async (t) => {
  const { isIP } = await import('node:net');
  for (const s of ['1.2.3.4', '::', '::1', 'fe80::1', '2001:db8::', '::ffff:1.2.3.4', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8']) {
    t.ok(isIP(s) && parseAddress(s) !== null, s);
    t.equal(isIP(parseAddress(s)!.addr), parseAddress(s)!.family, `${s} canonical form is still valid`);
  }
});
