// fail2ban tag expansion (<HOST>, <ADDR>, <F-USER>...</F-USER>, <SKIPLINES>, ...), producing
// Python-syntax regex text that pyregex.ts then translates. Group names follow fail2ban's, so
// filters written for fail2ban find their captures under the same names.

export type UseDns = 'yes' | 'warn' | 'no' | 'raw';

// IPv4: four dotted groups of 1-3 digits (validation of the values is the ban table's job).
const IP4 = String.raw`(?:\d{1,3}\.){3}\d{1,3}`;
// IPv6 as fail2ban recognises it, written without lookbehind: every repeated part ends in ':',
// so a final lone ':' (an address ending in '::') is always preceded by one.
const IP6 = String.raw`(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)`;
// An IPv4-mapped IPv6 address reports the embedded IPv4 address.
const R_IP4 = String.raw`(?:::f{4,6}:)?(?P<ip4>${IP4})`;
const R_IP6 = String.raw`(?P<ip6>${IP6})`;
const R_DNS = String.raw`(?P<dns>[\w\-.^_]*\w)`;
const R_ADDR = String.raw`\[?(?:${R_IP4}|${R_IP6})\]?`;
const R_HOST = String.raw`(?:${R_ADDR}|${R_DNS})`;
const R_CIDR = String.raw`(?P<cidr>\d+)`;
const R_SUBNET = String.raw`\[?(?:${R_IP4}|${R_IP6})(?:/${R_CIDR})?\]?`;

const STATIC_TAGS: Record<string, string> = {
  IP4: R_IP4,
  'F-IP4/': R_IP4,
  IP6: R_IP6,
  'F-IP6/': R_IP6,
  ADDR: R_ADDR,
  'F-ADDR/': R_ADDR,
  CIDR: R_CIDR,
  'F-CIDR/': R_CIDR,
  SUBNET: R_SUBNET,
  'F-SUBNET/': R_SUBNET,
  DNS: R_DNS,
  'F-DNS/': R_DNS,
  'F-ID/': String.raw`(?P<fid>\S+)`,
  'F-PORT/': String.raw`(?P<fport>\w+)`,
};

/** Tag names whose group name differs from the lower-cased tag. */
const GROUP_ALIASES: Record<string, string> = { id: 'fid', port: 'fport' };

export function groupNameOfTag(tag: string): string {
  const t = tag.toLowerCase();
  return GROUP_ALIASES[t] ?? t;
}

const TAG = /<\/?[\w-]+\/?>/g;
const CUSTOM_TAG = /^(\/?)F-([A-Z0-9_-]+)$/;

export interface Expanded {
  regex: string;
  /** number of <SKIPLINES> tags (groups skiplines0..N-1) */
  skipLines: number;
}

/** Replaces fail2ban's tags in `regex` by Python regex text, as fail2ban does. */
export function expandTags(regex: string, useDns: UseDns): Expanded {
  const open = new Set<string>();
  let skipLines = 0;
  const out = regex.replace(TAG, (tag) => {
    const name = tag.slice(1, -1);
    if (name === 'HOST') return useDns === 'no' ? R_ADDR : R_HOST;
    if (name === 'SKIPLINES') return String.raw`\n(?P<skiplines${skipLines++}>(?:(?:.*\n)*?))`;
    const fixed = STATIC_TAGS[name];
    if (fixed !== undefined) return fixed;
    const m = CUSTOM_TAG.exec(name);
    if (!m) return tag; // not a tag: literal text
    const [, close, tn] = m;
    if (close) return open.has(tn) ? ')' : tag;
    open.add(tn);
    return `(?P<${groupNameOfTag(tn)}>`;
  });
  return { regex: out, skipLines };
}
