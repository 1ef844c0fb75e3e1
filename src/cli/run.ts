// `logban run`: the daemon in the foreground. SIGHUP reloads, SIGTERM/SIGINT stop cleanly.
import { Daemon } from '../daemon.js';
import { createLogger, type Level } from '../log.js';
import { defaultSettings } from '../config/settings.js';
import type { LogbanSettings } from '../types.js';
import { UserError } from '../errors.js';
import { defaultSocket, defaultStateDir } from './paths.js';
import { readSettings } from '../config/load.js';

export interface RunOptions {
  configDir: string;
  backend?: LogbanSettings['backend'];
  stateDir?: string;
  socket?: string;
  metrics?: string;
  xdpInterface: string[];
  logLevel: string;
}

const LEVELS: Level[] = ['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR'];

export function parseLevel(text: string): Level {
  const l = text.toUpperCase() as Level;
  if (!LEVELS.includes(l)) throw new UserError(`--log-level: "${text}" is not one of ${LEVELS.join(', ')}`);
  return l;
}

/** CLI flags over logban.conf; paths left at their system defaults move to the user's own
 * directories when not running as root, so a first try works without root. */
export function runOverrides(o: Omit<RunOptions, 'logLevel'>): Partial<LogbanSettings> {
  const fromFile = readSettings(o.configDir);
  const defaults = defaultSettings();
  return {
    backend: o.backend,
    stateDir: o.stateDir ?? (fromFile.stateDir === defaults.stateDir ? defaultStateDir() : undefined),
    socket: o.socket ?? (fromFile.socket === defaults.socket ? defaultSocket() : undefined),
    metrics: o.metrics,
    xdpInterfaces: o.xdpInterface.length ? o.xdpInterface : undefined,
  };
}

export async function runCommand(o: RunOptions): Promise<number> {
  const log = createLogger(process.stderr, parseLevel(o.logLevel));
  const daemon = await Daemon.create({ configDir: o.configDir, overrides: runOverrides(o), mode: 'run', log });
  let stopping: Promise<void> | null = null;
  const stop = (signal: string) => {
    if (stopping) return;
    log.notice('daemon', `${signal}: stopping`);
    stopping = daemon.stop().then(
      () => { log.notice('daemon', 'stopped'); process.exit(0); },
      (err: Error) => { log.error('daemon', `stop failed: ${err.message}`); process.exit(1); },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.notice('daemon', 'SIGHUP: reloading configuration');
    daemon.reload().catch((err: Error) => log.error('config', `reload failed, keeping the running configuration: ${err.message}`));
  });
  try {
    await daemon.run();
  } catch (err) {
    await daemon.stop().catch(() => undefined);
    throw err;
  }
  log.notice('daemon', `logban ${process.pid} running`);
  // the sockets and timers keep the process alive until a signal
  return new Promise<number>(() => undefined);
}
