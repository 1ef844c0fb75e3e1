// Writes a throw-away fail2ban-format configuration directory for one scenario: the bench's
// own jails and filters, pointing at the generated logs.
import fs from 'node:fs';
import path from 'node:path';

export interface BenchFilter {
  name: string;
  failregex: string[];
}

export interface BenchJail {
  name: string;
  /** filter name in filter.d (may carry options: `sshd[mode=normal]`) */
  filter: string;
  logpath: string;
  maxretry: number;
  bantime: number;
  findtime?: number;
  port?: string;
}

export interface ConfigDirSpec {
  jails: readonly BenchJail[];
  filters?: readonly BenchFilter[];
  /** copy this filter.d (the bundled filter library) in first */
  copyFiltersFrom?: string;
  /** [logban] settings for logban.local */
  settings?: Record<string, string>;
}

export function filterFileText(f: BenchFilter): string {
  const [first, ...rest] = f.failregex;
  return `# written by logban's benchmark harness\n[Definition]\n` +
    `failregex = ${first ?? ''}\n${rest.map((r) => `            ${r}\n`).join('')}ignoreregex =\n`;
}

export function writeConfigDir(dir: string, spec: ConfigDirSpec): string {
  const filterDir = path.join(dir, 'filter.d');
  fs.mkdirSync(filterDir, { recursive: true });
  if (spec.copyFiltersFrom) fs.cpSync(spec.copyFiltersFrom, filterDir, { recursive: true });
  for (const f of spec.filters ?? []) fs.writeFileSync(path.join(filterDir, `${f.name}.conf`), filterFileText(f));
  const jails = spec.jails.map((j) => [
    `[${j.name}]`,
    'enabled  = true',
    `filter   = ${j.filter}`,
    `logpath  = ${j.logpath}`,
    `maxretry = ${j.maxretry}`,
    `findtime = ${j.findtime ?? 600}`,
    `bantime  = ${j.bantime}`,
    ...(j.port ? [`port     = ${j.port}`] : []),
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'jail.conf'),
    `# written by logban's benchmark harness\n[DEFAULT]\nignoreself = false\n\n${jails.join('\n')}`);
  if (spec.settings) {
    const lines = Object.entries(spec.settings).map(([k, v]) => `${k} = ${v}`);
    fs.writeFileSync(path.join(dir, 'logban.local'), `[logban]\n${lines.join('\n')}\n`);
  }
  return dir;
}
