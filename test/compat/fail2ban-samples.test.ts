// Compatibility with fail2ban (issue 3, parts 3 and 5): fail2ban's own annotated sample logs run
// through logban's filter library and matcher must agree with fail2ban's annotations; fail2ban's
// filters, imported as they are, either load and agree or are refused with a clear message; and
// our filters never take an address an attacker wrote into a user name or URL.
import './tz.js';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { bundledConfig } from '../helpers/paths.js';
import { FAIL2BAN_DIR, matchLines, pct, runAllSamples, runSample, sampleNames, type Difference } from './samples.js';
import { FilterRefused } from '../../src/match/errors.js';

const haveFail2ban = fs.existsSync(path.join(FAIL2BAN_DIR, 'tests', 'files', 'logs'));
const skip = haveFail2ban ? false : `fail2ban is not installed (${FAIL2BAN_DIR})`;
const ETC = '/etc/fail2ban';

/** Targets of issue 3 for logban's own filter library. */
const TARGET_MATCH_HOST = 99;
const TARGET_TIME = 98;

function show(d: Difference): string {
  return `${d.filter} ${d.file}:${d.lineno} ${d.kind}: expected ${d.expected}, got ${d.got}\n    ${d.line}`;
}

t.test("logban's filter library agrees with fail2ban's sample annotations", { skip }, async (t) => {
  const names = sampleNames();
  t.ok(names.length >= 90, `fail2ban ships ${names.length} sample logs`);
  for (const n of names) t.ok(fs.existsSync(path.join(bundledConfig, 'filter.d', `${n}.conf`)), `config/filter.d/${n}.conf exists`);

  const r = runAllSamples(bundledConfig, names);
  const notLoaded = r.filters.filter((f) => !f.loaded);
  t.same(notLoaded.map((f) => `${f.name}: ${f.loadError}`), [], 'every filter loads');
  const mh = (100 * r.agreeing) / r.annotated;
  const tm = (100 * r.timeAgreeing) / r.timed;
  t.comment(`filters: ${r.filters.length - notLoaded.length}/${r.filters.length} load`);
  t.comment(`match+host: ${r.agreeing}/${r.annotated} lines agree (${pct(r.agreeing, r.annotated)})`);
  t.comment(`time: ${r.timeAgreeing}/${r.timed} lines agree (${pct(r.timeAgreeing, r.timed)})`);
  t.comment(`user: ${r.userAgreeing}/${r.users} annotated user names captured alike (${pct(r.userAgreeing, r.users)})`);
  for (const d of r.differences.slice(0, 20)) t.comment(show(d));
  t.ok(mh >= TARGET_MATCH_HOST, `match+host agreement ${mh.toFixed(2)}% >= ${TARGET_MATCH_HOST}%`);
  t.ok(tm >= TARGET_TIME, `time agreement ${tm.toFixed(2)}% >= ${TARGET_TIME}%`);
  // user names feed logban's per-user figures and messages: held to the match+host bar
  t.ok((100 * r.userAgreeing) / r.users >= TARGET_MATCH_HOST, `user agreement ${pct(r.userAgreeing, r.users)} >= ${TARGET_MATCH_HOST}%`);
  t.ok(r.annotated > 1500, `${r.annotated} annotated line/option pairs checked`);

  // the daemon's path (literal prefilter over Buffer chunks) must decide exactly the same
  const c = runAllSamples(bundledConfig, names, 'chunk');
  t.comment(`chunk path: match+host ${pct(c.agreeing, c.annotated)}, time ${pct(c.timeAgreeing, c.timed)}`);
  t.same(c.differences.map(show), r.differences.map(show), 'the chunk path agrees with the line path');
});

t.test('fail2ban filters imported as they are: load and agree, or are refused clearly', { skip: skip || (!fs.existsSync(path.join(ETC, 'filter.d')) && `${ETC}/filter.d is absent`) }, async (t) => {
  const names = sampleNames().filter((n) => fs.existsSync(path.join(ETC, 'filter.d', `${n}.conf`)));
  let loaded = 0;
  let refused = 0;
  for (const name of names) {
    const diffs: Difference[] = [];
    const fig = runSample(ETC, name, diffs);
    if (fig.loaded) {
      loaded++;
      t.same(diffs.map(show), [], `${name}: loads and agrees with its samples`);
      const chunkDiffs: Difference[] = [];
      runSample(ETC, name, chunkDiffs, 'chunk');
      t.same(chunkDiffs.map(show), [], `${name}: agrees through the chunk path too`);
      continue;
    }
    refused++;
    const msg = fig.loadError ?? '';
    // the refusal names the file and line, the construct, and logban's own filter to use instead
    t.match(msg, /\/etc\/fail2ban\/filter\.d\/[\w.-]+\.conf:\d+: /, `${name}: refusal names file and line`);
    t.match(msg, /cannot run "[^"]+" \(/, `${name}: refusal names the construct`);
    t.match(msg, new RegExp(`use logban's built-in filter ${name} \\(`), `${name}: refusal names the replacement`);
  }
  t.comment(`/etc/fail2ban/filter.d: ${loaded} of ${names.length} filters with samples load and agree, ${refused} refused`);
  t.equal(loaded + refused, names.length);
  // the refusal is a user error (printed without a stack by the CLI)
  let err: unknown;
  try {
    matchLines(ETC, 'sshd', ['x']);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof FilterRefused, 'sshd of fail2ban is refused with FilterRefused (a UserError)');
});

// Log injection: an attacker controls user names, URLs, protocol strings. None of these lines may
// produce the address the attacker wrote (198.51.100.66); the real client is 192.0.2.7.
const INJECTED = '198.51.100.66';
const REAL = '192.0.2.7';
const injections: Array<[string, string[]]> = [
  ['sshd', [
    `Nov 11 08:04:51 host sshd[2737]: Failed password for invalid user x from ${INJECTED} from ${REAL} port 58946 ssh2`,
    `Nov 11 08:04:52 host sshd[2738]: Failed password for invalid user x from ${INJECTED} port 22 ssh2 from ${REAL} port 58946 ssh2`,
    `Nov 11 08:04:53 host sshd[2739]: Failed password for invalid user t from ${REAL} port 58946 ssh2: from ${INJECTED} port 22 ssh2`,
    `Nov 11 08:04:54 host sshd[2740]: Invalid user a from ${INJECTED} from ${REAL} port 1234`,
    `Nov 11 08:04:55 host sshd[2741]: Connection closed by authenticating user a ${INJECTED} ${REAL} port 46039 [preauth]`,
  ]],
  ['sshd[mode=aggressive]', [
    `Nov 11 08:05:01 host sshd[2750]: Failed password for invalid user x from ${INJECTED} port 1 ssh2 from ${REAL} port 58946 ssh2`,
    `Nov 11 08:05:02 host sshd[2751]: Bad protocol version identification 'x' from ${INJECTED}' from ${REAL} port 31778`,
  ]],
  ['pam-generic', [
    `Jul 19 18:11:50 srv daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=${INJECTED} rhost=${REAL}`,
    `Jul 19 18:11:52 srv daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=${REAL} user=test rhost=${INJECTED}`,
  ]],
  ['dovecot', [
    `Jun 13 16:30:54 host dovecot: imap-login: Disconnected (auth failed, 2 attempts): user=<x, rip=${INJECTED}>, method=PLAIN, rip=${REAL}, lip=192.0.2.1, TLS`,
  ]],
  ['nginx-http-auth', [
    `2014/04/03 22:20:40 [error] 30708#0: *3 user "t": password mismatch, client: ${INJECTED}, server: t, request: "GET / HTTP/1.1", host: "l"": was not found in "/etc/nginx/.htpasswd", client: ${REAL}, server: s, request: "GET / HTTP/1.1", host: "h"`,
  ]],
  ['apache-auth', [
    `[Sun Jul 28 21:27:56.549667 2013] [auth_basic:error] [pid 3325] [client ${REAL}:5000] AH01618: user x [client ${INJECTED}] not found: /`,
  ]],
  ['asterisk', [
    `[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent="InvalidAccountID",EventTV="2015-05-25T07:21:48.275+0300",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="7",SessionID="",LocalAddress="IPV4/UDP/127.0.0.1/5060",RemoteAddress="IPV4/UDP/${INJECTED}/1111"",LocalAddress="IPV4/UDP/1.2.3.4/5060",RemoteAddress="IPV4/UDP/${REAL}/5061"`,
  ]],
  ['roundcube-auth', [
    `Jul 11 03:06:37 host roundcube: IMAP Error: Login failed for admin from ${INJECTED}. from ${REAL}. AUTHENTICATE PLAIN: A0002 NO Login failed. user=admin from ${INJECTED}. in /usr/share/roundcube/program/include/rcube_imap.php on line 205 (POST /wmail/?_task=login&_action=login)`,
    // user name "x from INJECTED. X user=y": both copies of it try to fake the reply and echo
    `Jul 11 03:06:38 host roundcube: IMAP Error: Login failed for x from ${INJECTED}. X user=y from ${REAL}. AUTHENTICATE PLAIN: A0002 NO Login failed. user=x from ${INJECTED}. X user=y in /usr/share/roundcube/program/include/rcube_imap.php on line 205 (POST /wmail/?_task=login&_action=login)`,
    `Jul 11 03:06:39 host roundcube: IMAP Error: Login failed for x from ${INJECTED}. y user=z from ${REAL}. AUTHENTICATE PLAIN: A0002 NO Login failed. in /a.php on line 1 (POST /)`,
    `[10-May-2015 13:02:52 -0400]: Failed login for x from ${INJECTED} in session abc from ${REAL} in session 4z506z6rvddstv6k7jz08hxo27 (error: 0)`,
  ]],
  ['sendmail-auth', [
    `Feb 24 14:00:00 server sendmail[26592]: u0CB32qX026592: AUTH failure (DIGEST-MD5): authentication failure (-13) SASL(-13): authentication failure: client response doesn't match what we generated, user=x, relay=[${INJECTED}], relay=example.com [${REAL}]`,
  ]],
  ['mysqld-auth', [
    `2019-01-03T08:50:04.634875Z 113 [Note] [MY-010926] [Server] Access denied for user 'x'@'${INJECTED}'@'${REAL}' (using password: NO)`,
    `2019-01-03T08:50:05.634875Z 113 [Note] [MY-010926] [Server] Access denied for user 'root'@'${REAL}' (using password: NO)`,
  ]],
  ['dropbear', [
    `Jul 27 01:04:12 host dropbear[1335]: Bad password attempt for 'x' from ${INJECTED}:1' from ${REAL}:60588`,
  ]],
  ['asterisk', [
    `[2016-05-23 10:18:16] NOTICE[19388] res_pjsip/pjsip_distributor.c: Request from 'x' failed for '${INJECTED}' (callid: 1) - No matching endpoint found' failed for '${REAL}:48336' (callid: 276666022) - No matching endpoint found`,
  ]],
  ['courier-auth', [
    `Apr 27 09:00:00 servername imapd: LOGIN FAILED, user=x, ip=[${INJECTED}], ip=[${REAL}]`,
  ]],
];

t.test('injected addresses in user names and URLs are never taken', { skip: false }, async (t) => {
  for (const [spec, lines] of injections) {
    const results = matchLines(bundledConfig, spec, lines);
    for (const r of results) {
      t.not(r.host, INJECTED, `${spec}: not ${INJECTED} from: ${r.line.slice(0, 100)}`);
      if (r.host !== undefined && !r.nofail) t.equal(r.host, REAL, `${spec}: the real client is taken`);
    }
    // at least one line of each group is a real failure of the real client
    t.ok(results.some((r) => r.host === REAL && !r.nofail), `${spec}: the real client still counts`);
  }
});

// Modes and header styles the samples do not all exercise must still compile under RE2.
const VARIANTS = [
  ...['normal', 'ddos', 'extra', 'aggressive'].map((m) => `sshd[mode=${m}]`),
  ...['any', 'invalid', 'ignore', 'nofail'].map((p) => `sshd[publickey=${p}]`),
  ...['file', 'short', 'journal', 'rfc5424'].map((l) => `sshd[logtype=${l}]`),
  ...['normal', 'more', 'auth', 'rbl', 'ddos', 'extra', 'aggressive', 'errors'].map((m) => `postfix[mode=${m}]`),
  'dovecot[mode=aggressive]', 'exim[mode=aggressive]',
  ...['normal', 'ddos', 'extra'].map((m) => `freeswitch[mode=${m}]`),
  'guacamole[logging=webapp]', 'guacamole[logging=catalina]',
  'apache-auth[mode=aggressive]', 'apache-auth[logging=syslog]', 'apache-noscript[logging=syslog]',
  ...['normal', 'auth', 'fallback', 'aggressive'].map((m) => `nginx-http-auth[mode=${m}]`),
  'sendmail-reject[mode=extra]', 'sendmail-reject[mode=aggressive]',
  ...['normal', 'ddos', 'aggressive'].map((m) => `traefik-auth[mode=${m}]`),
  'murmur[logtype=journal]', 'znc-adminlog[logtype=journal]', 'znc-adminlog[logtype=short]',
  'asterisk[logtype=journal]', 'mysqld-auth[logtype=short]', 'mysqld-auth[logtype=journal]',
];

t.test('every filter of the library, and every mode, compiles', async (t) => {
  const dir = path.join(bundledConfig, 'filter.d');
  // files other filters include; they have no failregex of their own
  const includes = new Set(['common', 'apache-common', 'botsearch-common', 'exim-common', 'selinux-common']);
  const names = fs.readdirSync(dir).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -5)).filter((n) => !includes.has(n));
  const specs = [...names, ...VARIANTS];
  // filters built on common.conf accept every header style
  for (const n of names) {
    if (/^before\s*=.*\bcommon\.conf/m.test(fs.readFileSync(path.join(dir, `${n}.conf`), 'utf8'))) specs.push(`${n}[logtype=journal]`);
  }
  const failed: string[] = [];
  for (const spec of specs) {
    try {
      matchLines(bundledConfig, spec, []);
    } catch (e) {
      failed.push(`${spec}: ${(e as Error).message}`);
    }
  }
  t.same(failed, [], `${specs.length} filter/mode combinations compile`);
});

// mongodb-auth and slapd tie a failure line without an address to the line of the same
// connection that has it (<F-MLFID> instead of fail2ban's backreferences): connections must
// never be mixed up, or one client's failure would ban another.
t.test('connection-tied filters keep connections apart', async (t) => {
  const mongo = matchLines(bundledConfig, 'mongodb-auth', [
    '2016-11-20T00:04:00.110+0100 [conn1] Failed to authenticate root@admin with mechanism MONGODB-CR: AuthenticationFailed UserNotFound',
    '2016-11-20T00:04:00.111+0100 [conn2] end connection 192.0.2.2:53276 (0 connections now open)',
    '2016-11-20T00:04:00.112+0100 [conn1] end connection 192.0.2.1:53276 (0 connections now open)',
    '2016-11-20T00:04:00.113+0100 [conn1] end connection 192.0.2.1:53276 (0 connections now open)',
  ]);
  t.same(mongo.map((r) => (r.nofail ? undefined : r.host)), [undefined, undefined, '192.0.2.1', undefined],
    'only the failed connection is counted, once, at its end');

  const slapd = matchLines(bundledConfig, 'slapd', [
    'Jul  8 01:47:19 ldap slapd[1183]: conn=1 fd=21 ACCEPT from IP=192.0.2.1:45011 (IP=0.0.0.0:636)',
    'Jul  8 01:47:19 ldap slapd[1183]: conn=2 fd=22 ACCEPT from IP=192.0.2.2:45011 (IP=0.0.0.0:636)',
    'Jul  8 01:47:20 ldap slapd[1183]: conn=2 op=1 RESULT tag=97 err=49 text=',
    'Jul  8 01:47:20 ldap slapd[1183]: conn=1 op=1 RESULT tag=97 err=0 text=',
    'Jul  8 01:47:20 ldap slapd[1183]: conn=2 fd=22 closed',
    'Jul  8 01:47:21 ldap slapd[1183]: conn=2 op=2 RESULT tag=97 err=49 text=',
    'Jul  8 01:47:21 ldap slapd[1184]: conn=1 op=2 RESULT tag=97 err=49 text=',
  ]);
  t.same(slapd.map((r) => (r.nofail ? undefined : r.host)), [undefined, undefined, '192.0.2.2', undefined, undefined, undefined, undefined],
    'err=49 is charged to its own connection; closed or other-process connections are not reused');
});
