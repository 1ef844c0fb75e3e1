/**
 * The world most kernel integration tests start from: fresh network namespaces, a temporary
 * directory holding an empty log file and a configuration directory whose jails read it, and the
 * startDaemon() options for a daemon in the server namespace keeping its state and socket in
 * that directory. Everything is removed at teardown.
 *
 *   const { net, log, daemon } = await kernelScene(t, 'rot', { jails: (log) => ({ sshd: { logpath: log } }) });
 *   const d = await startDaemon(daemon);
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNetns, type NetnsKit } from './netns.js';
import { writeConfigDir, type ConfigDirSpec } from './daemon.js';

/** What these helpers need from a tap test. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface KernelSceneSpec {
  /** the jails of the configuration directory, given the log's path */
  jails: (log: string) => ConfigDirSpec['jails'];
  /** [logban] settings for logban.local */
  settings?: ConfigDirSpec['settings'];
  /** file name of the log; default auth.log */
  logName?: string;
}

export interface KernelScene {
  net: NetnsKit;
  /** the temporary directory */
  dir: string;
  log: string;
  configDir: string;
  /** startDaemon() options: the server namespace, configDir, dir/state, dir/logban.sock */
  daemon: { netns: string; configDir: string; stateDir: string; socket: string };
}

/** `area` names the namespaces (lb-AREA-...) and the directory (logban-AREA-...). */
export async function kernelScene(t: Teardown, area: string, spec: KernelSceneSpec): Promise<KernelScene> {
  const net = await createNetns(area);
  t.teardown(() => net.destroy());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `logban-${area}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, spec.logName ?? 'auth.log');
  fs.writeFileSync(log, '');
  const configDir = writeConfigDir(path.join(dir, 'config'), { jails: spec.jails(log), settings: spec.settings });
  const daemon = { netns: net.server, configDir, stateDir: path.join(dir, 'state'), socket: path.join(dir, 'logban.sock') };
  return { net, dir, log, configDir, daemon };
}
