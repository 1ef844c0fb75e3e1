import t from 'tap';
import { DateDetector, parseLogTimezone, DatePatternError, warmDefaultTemplates, withoutNamedGroups } from '../../src/match/dates.js';

const NOW = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000; // 2024-06-15T12:00:00Z
const utc = (...a: [number, number, number, number, number, number]): number => Date.UTC(a[0], a[1] - 1, a[2], a[3], a[4], a[5]) / 1000;

function detect(line: string, opts: { patterns?: string[]; tz?: string; now?: number } = {}) {
  const d = new DateDetector(opts.patterns, parseLogTimezone(opts.tz ?? 'UTC'));
  const hit = d.detect(line, opts.now ?? NOW);
  return hit && { ...hit, text: line.slice(hit.start, hit.end), rest: line.slice(0, hit.start) + line.slice(hit.end) };
}

t.test('default templates: Apache access log, date in the middle, zone honoured', async (t) => {
  const h = detect('192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1');
  t.equal(h?.text, '10/Oct/2000:13:55:36 -0700');
  t.equal(h?.time, utc(2000, 10, 10, 20, 55, 36));
  t.equal(h?.rest, '192.0.2.1 - - [] "GET / HTTP/1.0" 200 1', 'the date is cut, the brackets stay (as fail2ban)');
});

t.test('syslog date without a year: this year, or last year when it would be in the future', async (t) => {
  const h = detect('Jun 15 11:59:59 host sshd[1]: x');
  t.equal(h?.time, utc(2024, 6, 15, 11, 59, 59));
  t.equal(h?.rest, ' host sshd[1]: x');
  t.equal(detect('Dec 31 23:59:59 host x', { now: utc(2024, 1, 1, 0, 0, 10) })?.time, utc(2023, 12, 31, 23, 59, 59));
  t.equal(detect('Jun 16 11:00:00 host x')?.time, utc(2024, 6, 16, 11, 0, 0), 'within a day ahead: same year');
  t.equal(detect('Jul 20 11:00:00 host x')?.time, utc(2023, 7, 20, 11, 0, 0), 'far ahead: last year');
  t.equal(detect('Jan  5 01:02:03 host x')?.time, utc(2024, 1, 5, 1, 2, 3), 'space-padded day');
});

t.test('ISO 8601 with and without zone, fractions, T or space', async (t) => {
  t.equal(detect('2024-03-01T10:00:00Z x')?.time, utc(2024, 3, 1, 10, 0, 0));
  t.equal(detect('2024-03-01T10:00:00.123456+02:00 x')?.time, utc(2024, 3, 1, 8, 0, 0));
  t.equal(detect('2024-03-01 10:00:00 x', { tz: '+0100' })?.time, utc(2024, 3, 1, 9, 0, 0), 'logtimezone applies without a zone');
  t.equal(detect('2024-03-01 10:00:00 CET x')?.time, utc(2024, 3, 1, 10, 0, 0), '%z does not take zone names: CET stays text');
  t.equal(detect('2024/03/01 10:00:00 x')?.time, utc(2024, 3, 1, 10, 0, 0));
  const h = detect('[2024-03-01 10:00:00,250] WARN x');
  t.equal(h?.text, '2024-03-01 10:00:00,250');
});

t.test('epoch formats', async (t) => {
  t.equal(detect('1700000000.123 x y')?.time, 1700000000.123);
  t.equal(detect('[1700000000] x')?.time, 1700000000);
  t.equal(detect('type=USER_AUTH msg=audit(1700000000.250:42): x')?.time, 1700000000.25);
  t.equal(detect('1700000000123 x', { patterns: ['LEPOCH'] })?.time, 1700000000.123);
  t.equal(detect('1700000000123456 x', { patterns: ['LEPOCH'] })?.time, 1700000000.123456);
  t.equal(detect('x ts=1700000000 y', { patterns: ['ts={EPOCH}'] })?.time, 1700000000);
  t.equal(detect('x ts=1700000000 y', { patterns: ['ts={EPOCH}'] })?.rest, 'x  y');
  t.equal(detect('@4000000037c219bf2ef02e94 x')?.time, 0x37c219bf, 'TAI64N');
});

t.test('custom strptime patterns: %b %a %Y %H %M %S %f %z %Z %p %ExY, local and zoned', async (t) => {
  t.equal(detect('Sat Jun 15 2024 10:11:12.5 x', { patterns: ['%a %b %d %Y %H:%M:%S.%f'] })?.time, utc(2024, 6, 15, 10, 11, 12));
  t.equal(detect('15.06.2024 10:11:12 +0530 x', { patterns: ['%d.%m.%Y %H:%M:%S %z'] })?.time, utc(2024, 6, 15, 4, 41, 12));
  t.equal(detect('15.06.2024 10:11:12 PDT x', { patterns: ['%d.%m.%Y %H:%M:%S %Z'] })?.time, utc(2024, 6, 15, 17, 11, 12));
  t.equal(detect('Jun 15, 2024 1:02:03 PM x')?.time, utc(2024, 6, 15, 13, 2, 3), 'Tomcat, 12-hour clock');
  t.equal(detect('at 2024-06-01 00:00:01', { patterns: ['%ExY-%m-%d %H:%M:%S'] })?.time, utc(2024, 6, 1, 0, 0, 1));
  t.equal(detect('at 1999-06-01 00:00:01', { patterns: ['%ExY-%m-%d %H:%M:%S'] }), null, '%ExY takes this century only');
  const local = detect('2024-01-31 23:00:00 x', { patterns: ['%Y-%m-%d %H:%M:%S'], tz: '' });
  t.equal(local?.time, new Date(2024, 0, 31, 23, 0, 0).getTime() / 1000, 'no zone at all: local time');
  t.equal(detect('2024-01-15 12:00:00 x', { patterns: ['%Y-%m-%d %H:%M:%S'], tz: 'Europe/Paris' })?.time, utc(2024, 1, 15, 11, 0, 0));
  t.equal(detect('2024-07-15 12:00:00 x', { patterns: ['%Y-%m-%d %H:%M:%S'], tz: 'Europe/Paris' })?.time, utc(2024, 7, 15, 10, 0, 0), 'DST by IANA zone');
});

t.test('time only: today, or yesterday when later than now', async (t) => {
  t.equal(detect('11:00:00 x')?.time, utc(2024, 6, 15, 11, 0, 0));
  t.equal(detect('13:00:00 x')?.time, utc(2024, 6, 14, 13, 0, 0));
});

t.test('{^LN-BEG}, {UNB}, {NONE} and anchoring', async (t) => {
  t.equal(detect('x 2024-03-01 10:00:00', { patterns: ['{^LN-BEG}%Y-%m-%d %H:%M:%S'] }), null);
  t.equal(detect('[2024-03-01 10:00:00] x', { patterns: ['{^LN-BEG}%Y-%m-%d %H:%M:%S'] })?.time, utc(2024, 3, 1, 10, 0, 0));
  t.equal(detect('x 2024-03-01 10:00:00', { patterns: ['^%Y-%m-%d %H:%M:%S'] }), null);
  t.equal(detect('id12024-03-01 10:00:00', { patterns: ['%Y-%m-%d %H:%M:%S'] }), null, 'not inside a word');
  t.equal(detect('id12024-03-01 10:00:00', { patterns: ['{UNB}%Y-%m-%d %H:%M:%S'] })?.time, utc(2024, 3, 1, 10, 0, 0));
  const none = new DateDetector(['{NONE}'], null);
  t.equal(none.detect('2024-03-01 10:00:00 x', NOW), null, '{NONE}: lines carry no date');
  t.ok(none.noDates);
  t.equal(detect('Jun 15 10:00:00 x', { patterns: ['{^LN-BEG}'] })?.time, utc(2024, 6, 15, 10, 0, 0), '{^LN-BEG} alone: anchored defaults');
});

t.test('a line without a date takes the previous line date while recent', async (t) => {
  const d = new DateDetector(undefined, parseLogTimezone('UTC'));
  t.equal(d.timeOf(d.detect('2024-06-15 11:59:30 a', NOW), NOW), utc(2024, 6, 15, 11, 59, 30));
  t.equal(d.timeOf(d.detect('continuation', NOW), NOW), utc(2024, 6, 15, 11, 59, 30));
  t.equal(d.timeOf(d.detect('continuation', NOW + 120), NOW + 120), null);
});

t.test('bad patterns and zones are rejected', async (t) => {
  t.throws(() => new DateDetector(['%Q'], null), DatePatternError);
  t.throws(() => parseLogTimezone('Nowhere/Land'), DatePatternError);
  t.same(parseLogTimezone('UTC+0230'), { fixed: 150 });
  t.same(parseLogTimezone('-05:00'), { fixed: -300 });
});

t.test('warming the default templates changes no result, and a warmed first line is fast', async (t) => {
  const lines = [
    '198.18.0.7 - - [15/Jun/2024:11:00:00 +0000] "GET / HTTP/1.1" 200 5',
    'Jun 15 10:00:00 host sshd[1]: Failed password for root from 198.18.0.9 port 22 ssh2',
    '2024-06-15T09:30:00.5+02:00 message 2024-01-01 00:00:00',
    '@4000000066aa00002f5e6b3c msg',
    '1718445600 epoch line',
    'no date at all',
  ];
  const before = lines.map((l) => new DateDetector(undefined, null).detect(l, NOW));
  warmDefaultTemplates();
  warmDefaultTemplates();
  const after = lines.map((l) => new DateDetector(undefined, null).detect(l, NOW));
  t.same(after, before);
  t.ok(before.slice(0, 5).every((h) => h !== null && h.time !== null), 'each line but the last has a date');
});

t.test('lean template regexes: named groups made plain, backreferences renumbered, nothing else touched', async (t) => {
  t.equal(withoutNamedGroups(String.raw`^((?<b>jan|feb) (?<d>\d+))$`), String.raw`^((?:jan|feb) (?:\d+))$`);
  const apache = String.raw`((?<d>\d\d)(?<_sep>[-/])(?<b>\w+)\k<_sep>(?<Y>\d{4}))`;
  const lean = withoutNamedGroups(apache);
  t.equal(lean, String.raw`((?:\d\d)([-/])(?:\w+)(?:\2)(?:\d{4}))`, 'the referred group keeps a number');
  t.ok(new RegExp(lean).test('10/Oct/2000') && !new RegExp(lean).test('10/Oct-2000'), 'and the backreference still holds');
  t.equal(withoutNamedGroups(String.raw`(?<=x)(?<!y)[(?<a>)]\(?<b>)(a)`), String.raw`(?<=x)(?<!y)[(?<a>)]\(?<b>)(a)`, 'lookbehinds, classes, escapes');
});

t.test('one detector over many lines (lean regexes, the parse cache) gives what a fresh one gives each line', async (t) => {
  const lines = [
    '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1',
    '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 1',
    '192.0.2.1 - - [10/Oct/2000:13:55:37 -0700] "GET / HTTP/1.0" 200 1',
    '192.0.2.1 - - [11-Oct-2000:13:55:37 -0700] "GET / HTTP/1.0" 200 1',
    '192.0.2.1 - - [11/Oct-2000:13:55:37 -0700] "GET / HTTP/1.0" 200 1',
    'Jun 15 11:59:59 host sshd[1]: x', 'Jun 15 11:59:59 host sshd[2]: y', 'Jun 14 11:59:59 host sshd[2]: y',
    'Sun Jun 15 11:59:59 2024 host x', 'Jun 15 11:59:59.123 host x', '2024-06-15 11:59:58 host x',
    '2024-06-15T11:59:58.5+02:00 host x', '1718452798 host x', 'no date', 'Jun 15 11:59:59 host z',
  ];
  const one = new DateDetector(undefined, parseLogTimezone('UTC'));
  const got = lines.map((l) => one.detect(l, NOW));
  const fresh = lines.map((l) => new DateDetector(undefined, parseLogTimezone('UTC')).detect(l, NOW));
  t.same(got, fresh);
  t.ok(got.filter((h) => h?.time).length >= 13, 'the lines do carry dates');
});
