// `logban test FILTER LOGFILE`: logban's fail2ban-regex. Runs one filter over a log file (or a
// single line given as text) in this process and reports what matched, line by line (--json)
// or as a summary.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { UserError } from '../errors.js';
import { loadFilter } from '../config/load.js';
import { compileFilter } from '../match/compile.js';
import { FilterRun } from '../match/matcher.js';

export interface TestCommandArgs {
  filter: string;
  log: string;
  configDir: string;
  json: boolean;
  now?: string;
  printMissed: boolean;
  printIgnored: boolean;
}

/** `--now`: epoch seconds or an ISO 8601 date. */
export function parseNow(text: string | undefined): number {
  if (text === undefined || text === '') return Date.now() / 1000;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UserError(`--now: ${JSON.stringify(text)} is neither epoch seconds nor an ISO date (2024-01-31T12:00:00Z)`);
  return ms / 1000;
}

function readLog(log: string): { source: string; buf: Buffer } {
  if (existsSync(log) && statSync(log).isFile()) return { source: log, buf: readFileSync(log) };
  if (existsSync(log)) throw new UserError(`${log}: not a regular file`);
  // not a file: the argument is a log line
  return { source: '<line given as argument>', buf: Buffer.from(log.endsWith('\n') ? log : log + '\n', 'utf8') };
}

function write(out: NodeJS.WritableStream, s: string): void {
  out.write(s);
}

/** Runs the test; resolves to the exit code. Configuration errors throw UserError. */
export async function runTestCommand(args: TestCommandArgs, out: NodeJS.WritableStream): Promise<number> {
  const now = parseNow(args.now);
  const def = loadFilter(args.configDir, args.filter);
  const filter = compileFilter(def);
  const run = new FilterRun(filter);
  const dates = filter.newDateDetector();
  const { source, buf } = readLog(args.log);

  const hitsPerRegex = new Array<number>(filter.failregex.length).fill(0);
  const hitsPerIgnore = new Array<number>(filter.ignoreregex.length).fill(0);
  const templates = new Map<string, number>();
  const missed: string[] = [];
  const ignoredLines: string[] = [];
  let lines = 0; // physical line number, for --json lineno
  let tested = 0;
  let matched = 0;
  let ignored = 0;
  let bad = 0;

  let pos = 0;
  while (pos < buf.length) {
    let eol = buf.indexOf(10, pos);
    if (eol < 0) eol = buf.length;
    let end = eol;
    if (end > pos && buf[end - 1] === 13) end--;
    const start = pos;
    pos = eol + 1;
    lines++;
    const bytes = buf.subarray(start, end);
    // fail2ban-regex neither tests nor counts empty lines and '#' comments; nor do we, so the
    // two summaries compare
    if (bytes.length === 0 || bytes[0] === 0x23) continue;
    tested++;
    if (bytes.includes(0) || !isUtf8(bytes)) {
      bad++;
      continue;
    }
    const line = bytes.toString('utf8');
    const hit = dates.detect(line, now);
    if (hit && hit.end > hit.start) templates.set(hit.template, (templates.get(hit.template) ?? 0) + 1);
    const rest = hit && hit.end > hit.start ? line.slice(0, hit.start) + line.slice(hit.end) : line;
    const time = dates.timeOf(hit, now);
    const v = run.processLine(rest, time ?? now);
    if (v.ignored !== undefined) {
      ignored++;
      hitsPerIgnore[v.ignored]++;
      if (args.printIgnored) ignoredLines.push(line);
      continue;
    }
    const f = v.failure;
    if (f?.nofail || v.nofail) {
      // <F-NOFAIL>: seen but not a failure; fail2ban-regex counts these lines as ignored
      ignored++;
      if (args.printIgnored) ignoredLines.push(line);
      continue;
    }
    if (v.matched !== undefined) hitsPerRegex[v.matched]++;
    // like fail2ban-regex: a line is "matched" when it yields a failure (a line a multi-line
    // filter only remembers, waiting for its session's verdict, is not)
    if (f) matched++;
    else if (args.printMissed) missed.push(line);
    if (args.json && f && !f.nofail) {
      write(out, JSON.stringify({ lineno: lines, host: f.host, time, ...f.captures }) + '\n');
    }
  }
  if (args.json) return 0;

  const missedCount = tested - matched - ignored - bad;
  const list = (title: string, regs: { source: string }[], hits: number[]): string => {
    let s = `${title}: ${hits.reduce((a, b) => a + b, 0)} total\n`;
    if (regs.length) s += '|-  #) [# of hits] regular expression\n';
    regs.forEach((r, i) => (s += `|  ${String(i + 1).padStart(2)}) [${hits[i]}] ${r.source}\n`));
    return s + '`-\n';
  };
  let s = 'Running tests\n=============\n\n';
  s += `Use   failregex filter : ${args.filter} (${def.file})\n`;
  s += `Use         log file : ${source}\n`;
  if (args.now) s += `Use              now : ${new Date(now * 1000).toISOString()}\n`;
  s += '\nResults\n=======\n\n';
  if (filter.prefregex) s += `Prefregex: ${filter.prefregex.source}\n\n`;
  s += list('Failregex', filter.failregex, hitsPerRegex) + '\n';
  s += list('Ignoreregex', filter.ignoreregex, hitsPerIgnore) + '\n';
  s += 'Date template hits:\n|- [# of hits] date format\n';
  for (const [name, n] of [...templates].sort((a, b) => b[1] - a[1])) s += `|  [${n}] ${name}\n`;
  s += '`-\n\n';
  s += `Lines: ${tested} lines, ${ignored} ignored, ${matched} matched, ${missedCount} missed`;
  s += bad ? `, ${bad} skipped (NUL bytes or invalid UTF-8)\n` : '\n';
  if (args.printIgnored) s += `\n|- Ignored line(s):\n${ignoredLines.map((l) => `|  ${l}\n`).join('')}\`-\n`;
  if (args.printMissed) s += `\n|- Missed line(s):\n${missed.map((l) => `|  ${l}\n`).join('')}\`-\n`;
  write(out, s);
  return 0;
}
