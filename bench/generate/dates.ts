// Date stamps as the generated logs write them.
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => (n < 10 ? '0' + n : String(n));

/** `26/Nov/2026:13:02:37 +0000` */
export function apacheDate(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** `Nov  6 13:02:37` (local time, as syslog writes it) */
export function syslogDate(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const day = d.getDate() < 10 ? ' ' + d.getDate() : String(d.getDate());
  return `${MONTHS[d.getMonth()]} ${day} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
