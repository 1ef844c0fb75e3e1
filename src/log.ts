// Daemon log lines in fail2ban's shape ("2024-05-01 12:00:00,123 logban.actions [42]: NOTICE
// [sshd] Ban 1.2.3.4") so operators' greps and log watchers keep working after the switch.
export type Level = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR';

const ORDER: Record<Level, number> = { DEBUG: 10, INFO: 20, NOTICE: 25, WARNING: 30, ERROR: 40 };

export interface Logger {
  log(level: Level, component: string, message: string): void;
  debug(component: string, message: string): void;
  info(component: string, message: string): void;
  notice(component: string, message: string): void;
  warn(component: string, message: string): void;
  error(component: string, message: string): void;
}

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

export function createLogger(out: NodeJS.WritableStream = process.stderr, minLevel: Level = 'INFO'): Logger {
  const min = ORDER[minLevel];
  const log = (level: Level, component: string, message: string): void => {
    if (ORDER[level] < min) return;
    out.write(`${stamp(new Date())} logban.${component.padEnd(8)} [${process.pid}]: ${level.padEnd(7)} ${message}\n`);
  };
  return {
    log,
    debug: (c, m) => log('DEBUG', c, m),
    info: (c, m) => log('INFO', c, m),
    notice: (c, m) => log('NOTICE', c, m),
    warn: (c, m) => log('WARNING', c, m),
    error: (c, m) => log('ERROR', c, m),
  };
}
