import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { parseTimeValue, str2seconds } from '../../src/config/time.js';
import { userError } from './tree.js';

const YEAR = 365.25 * 86400;

t.test('fail2ban time values', async (t) => {
  const cases: Array<[string, number]> = [
    ['600', 600], ['10m', 600], ['1h30m', 5400], ['1h 30m', 5400], ['1d', 86400], ['1d12h', 129600],
    ['1w', 604800], ['1mo', YEAR / 12], ['6 months', YEAR / 2], ['1y', YEAR], ['1year-6mo', YEAR / 2],
    ['2.5h', 9000], ['-1', -1], ['10 minutes', 600], ['1hour+30min', 5400], ['0d 1h 30m', 5400],
    ['5 s', 5], ['3mm', 180], ['2dd', 172800], ['1 hour 2', 3602], ['(1+1)*60', 120], ['240000', 240000],
  ];
  for (const [text, secs] of cases) t.equal(str2seconds(text), secs, text);
});

t.test('bad values are UserErrors naming where they came from', async (t) => {
  for (const bad of ['abc', '10 parsecs', '1e3', '', '5/0', '1h)']) {
    userError(t, () => parseTimeValue(bad, 'jail.local:3: [sshd] bantime'), /^jail\.local:3: \[sshd\] bantime: /, /not a time value/);
  }
  t.equal(parseTimeValue('-5m', 'x'), -1, 'any negative time means permanent');
  userError(t, () => parseTimeValue('-1', 'jail.conf:9: [x] findtime', false), /must not be negative/);
});

// Cross-check with fail2ban's own parser when it is installed.
const python = '/usr/bin/python3';
const haveFail2ban = fs.existsSync('/usr/lib/python3/dist-packages/fail2ban/server/mytime.py');
t.test('agrees with fail2ban MyTime.str2seconds', { skip: haveFail2ban ? false : 'fail2ban not installed' }, async (t) => {
  const exprs = ['600', '10m', '1h30m', '2d 3h', '1w2d', '1mo', '3months', '1y', '2 years', '1.5d', '-1', '90s',
    '1 week', '12hours', '7 days', '1 min 30 sec', '4h-30m', '2*3m', '1ww', '1yy', '45 mins', '10 parsecs', 'abc'];
  const r = spawnSync(python, ['-c',
    [
      'import json, sys',
      'from fail2ban.server.mytime import MyTime',
      'def conv(e):',
      '    try:',
      '        return MyTime.str2seconds(e)',
      '    except Exception:',
      '        return None',
      'print(json.dumps([conv(e) for e in json.loads(sys.argv[1])]))',
    ].join('\n'),
    JSON.stringify(exprs)], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as Array<number | null>;
  t.ok(want.includes(null), 'the list holds values fail2ban rejects too');
  exprs.forEach((e, i) => {
    if (want[i] === null) t.throws(() => str2seconds(e), e + ' is rejected by both');
    else t.equal(str2seconds(e), want[i], e);
  });
});
