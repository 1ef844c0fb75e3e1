// The bench's own filters for Apache access logs. Kept simple and written so that the same
// text works in fail2ban-regex (Python re) and in logban (RE2), which lets the two be compared.
import type { BenchFilter } from '../config-dir.js';

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
