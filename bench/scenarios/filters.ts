// The bench's own filters for Apache access logs. Kept simple and written so that the same
// text works in fail2ban-regex (Python re) and in logban (RE2), which lets the two be compared.
import type { BenchFilter } from '../config-dir.js';
import type { ApacheAttack } from '../generate/apache.js';

/** The seed's filter, exactly as the issue gives it. */
export const XMLRPC: BenchFilter = { name: 'bench-xmlrpc', failregex: ['^<HOST>.*"POST /xmlrpc.php HTTP/1.0'] };

export const NOSCRIPT: BenchFilter = {
  name: 'bench-noscript',
  failregex: ['^<HOST> -.*"GET /\\S*\\.(?:exe|sh|pl|cgi)(?:\\?\\S*)? HTTP/1\\.[01]"'],
};

export const WPLOGIN: BenchFilter = {
  name: 'bench-wplogin',
  failregex: ['^<HOST> -.*"POST /wp-login\\.php HTTP/1\\.[01]" 200 '],
};

export const BADBOTS: BenchFilter = {
  name: 'bench-badbots',
  failregex: ['^<HOST> -.*"(?:GET|POST|HEAD) [^"]*" \\d+ \\S+ "[^"]*" "(?:EmailCollector|EmailSiphon|WebBandit|Zeus)[^"]*"$'],
};

export const SCAN404: BenchFilter = {
  name: 'bench-404',
  failregex: ['^<HOST> -.*"GET /(?:\\.env|\\.git/config|phpmyadmin/|wp-config\\.php\\.bak)[^"]*" 404 '],
};

/** Scenario c's five jails on one access log, each with the attack kind the generator writes. */
export const QUIET_JAILS: ReadonlyArray<{ jail: string; kind: ApacheAttack; filter: BenchFilter }> = [
  { jail: 'apache-xmlrpc', kind: 'xmlrpc', filter: XMLRPC },
  { jail: 'apache-noscript', kind: 'noscript', filter: NOSCRIPT },
  { jail: 'wordpress-login', kind: 'wplogin', filter: WPLOGIN },
  { jail: 'apache-badbots', kind: 'badbot', filter: BADBOTS },
  { jail: 'apache-404-scan', kind: 'scan404', filter: SCAN404 },
];
