// Apache "combined" access logs: ordinary traffic with a share of attack lines of known kinds.
// The generator counts what it wrote per kind and per address, so the harness can check the
// engine's match and ban counts against ground truth.
import { createRng, type Rng } from '../prng.js';
import { LineWriter } from './line-writer.js';
import { apacheDate } from './dates.js';

export { apacheDate };

export type ApacheAttack = 'xmlrpc' | 'noscript' | 'wplogin' | 'badbot' | 'scan404';

export interface AttackMix {
  kind: ApacheAttack;
  /** probability that a line is this attack */
  share: number;
  /** the addresses this attack comes from, picked uniformly */
  addresses: readonly string[];
  /** 'cycle' takes the addresses in turn (every address once before any twice) */
  order?: 'random' | 'cycle';
}

export interface ApacheLogOptions {
  file: string;
  lines: number;
  seed: number;
  /** epoch seconds of the last line; lines are spread evenly over `spanSeconds` before it */
  endTime: number;
  spanSeconds: number;
  attacks: readonly AttackMix[];
  /** addresses of ordinary visitors */
  clients: readonly string[];
}

export interface AttackCount {
  lines: number;
  /** number of distinct addresses with at least `n` lines of this kind, for n = index */
  addressesWithAtLeast: (n: number) => number;
}

export interface GeneratedLog {
  file: string;
  lines: number;
  bytes: number;
  attacks: Record<string, AttackCount>;
}


const PAGES = ['/', '/index.html', '/blog/', '/blog/2026/11/hello-world/', '/about/', '/contact/',
  '/wp-content/themes/twentytwenty/style.css', '/wp-includes/js/jquery/jquery.min.js',
  '/wp-content/uploads/2026/10/header.jpg', '/feed/', '/category/news/', '/favicon.ico',
  '/robots.txt', '/sitemap.xml', '/search/?q=ssd+benchmark', '/shop/product/42/'];
const REFERERS = ['-', 'https://www.example.org/', 'https://www.example.org/blog/',
  'https://search.example.com/?q=nft+sets'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/8.5.0',
];
const BAD_BOTS = ['EmailCollector/1.0', 'EmailSiphon', 'WebBandit/3.50', 'Zeus 2.6'];
const SCRIPTS = ['/cgi-bin/test.sh', '/scripts/root.exe?/c+dir', '/cgi-bin/php.cgi', '/admin/setup.pl'];
const SCAN_PATHS = ['/.env', '/.git/config', '/phpmyadmin/index.php', '/wp-config.php.bak'];

function ordinary(rng: Rng, addr: string, date: string): string {
  const page = rng.pick(PAGES);
  const status = page === '/favicon.ico' && rng.next() < 0.3 ? 404 : rng.next() < 0.05 ? 304 : 200;
  return `${addr} - - [${date}] "GET ${page} HTTP/1.1" ${status} ${200 + rng.int(40000)} ` +
    `"${rng.pick(REFERERS)}" "${rng.pick(AGENTS)}"`;
}

function attack(kind: ApacheAttack, rng: Rng, addr: string, date: string): string {
  switch (kind) {
    case 'xmlrpc':
      return `${addr} - - [${date}] "POST /xmlrpc.php HTTP/1.0" 200 ${370 + rng.int(300)} "-" ` +
        `"Mozilla/4.0 (compatible: MSIE 7.0; Windows NT 6.0)"`;
    case 'noscript':
      return `${addr} - - [${date}] "GET ${rng.pick(SCRIPTS)} HTTP/1.1" 404 ${200 + rng.int(100)} "-" ` +
        `"${rng.pick(AGENTS)}"`;
    case 'wplogin':
      return `${addr} - - [${date}] "POST /wp-login.php HTTP/1.1" 200 ${3000 + rng.int(900)} ` +
        `"https://www.example.org/wp-login.php" "${rng.pick(AGENTS)}"`;
    case 'badbot':
      return `${addr} - - [${date}] "GET ${rng.pick(PAGES)} HTTP/1.1" 200 ${200 + rng.int(40000)} "-" ` +
        `"${rng.pick(BAD_BOTS)}"`;
    case 'scan404':
      return `${addr} - - [${date}] "GET ${rng.pick(SCAN_PATHS)} HTTP/1.1" 404 ${150 + rng.int(100)} "-" ` +
        `"${rng.pick(AGENTS)}"`;
  }
}

/** Counts lines per address index and answers "how many addresses reached n lines". */
class PerAddressCounter {
  readonly counts: Uint32Array;
  lines = 0;
  constructor(size: number) {
    this.counts = new Uint32Array(size);
  }
  add(i: number): void {
    this.counts[i]!++;
    this.lines++;
  }
  atLeast(n: number): number {
    let c = 0;
    for (const v of this.counts) if (v >= n) c++;
    return c;
  }
}

export function generateApacheLog(opts: ApacheLogOptions): GeneratedLog {
  const rng = createRng(opts.seed);
  const out = new LineWriter(opts.file);
  const counters = opts.attacks.map((a) => new PerAddressCounter(a.addresses.length));
  const startTime = opts.endTime - opts.spanSeconds;
  const dates: string[] = [];
  for (let s = 0; s <= opts.spanSeconds; s++) dates.push(apacheDate(startTime + s));
  // cumulative shares: one random draw picks ordinary traffic or one attack kind
  const cumulative: number[] = [];
  let acc = 0;
  for (const a of opts.attacks) cumulative.push((acc += a.share));
  for (let i = 0; i < opts.lines; i++) {
    const date = dates[Math.floor((i * opts.spanSeconds) / Math.max(1, opts.lines - 1))]!;
    const r = rng.next();
    let k = 0;
    while (k < cumulative.length && r >= cumulative[k]!) k++;
    if (k === cumulative.length) {
      out.push(ordinary(rng, rng.pick(opts.clients), date));
    } else {
      const mix = opts.attacks[k]!;
      const ai = mix.order === 'cycle'
        ? counters[k]!.lines % mix.addresses.length
        : rng.int(mix.addresses.length);
      counters[k]!.add(ai);
      out.push(attack(mix.kind, rng, mix.addresses[ai]!, date));
    }
  }
  out.close();
  const attacks: Record<string, AttackCount> = {};
  opts.attacks.forEach((a, k) => {
    const c = counters[k]!;
    attacks[a.kind] = { lines: c.lines, addressesWithAtLeast: (n) => c.atLeast(n) };
  });
  return { file: opts.file, lines: out.lines, bytes: out.bytes, attacks };
}
