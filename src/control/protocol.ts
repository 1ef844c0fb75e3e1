// The control socket's wire protocol: one JSON object per line in each direction.
//   request  {"id": 1, "cmd": "status", "args": {"jail": "sshd"}}
//   response {"id": 1, "ok": true, "result": {...}}  or  {"id": 1, "ok": false, "error": "..."}
// Requests are validated here, at the trust boundary, so the daemon's handler only ever sees
// well-typed arguments.

import { canonicalAddress } from './address.js';

/** Largest request line the server accepts; requests are tiny, anything bigger is abuse. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Longest ban the CLI and the server accept (100 years), in seconds; -1 means permanent. */
export const MAX_BAN_SECONDS = 100 * 365 * 24 * 3600;

/** One jail as `logban status` shows it. Counters count since the daemon started. */
export interface JailStatus {
  name: string;
  /** filter name (`sshd`) */
  filter: string;
  /** log files being followed (globs expanded), or `journal` sources */
  logFiles: string[];
  /** lines read from this jail's sources */
  lines: number;
  /** lines that matched a failregex ("Total failed" in fail2ban's terms) */
  matches: number;
  /** addresses with failures inside the current findtime window, not yet banned */
  currentlyFailed: number;
  /** addresses banned right now */
  currentlyBanned: number;
  /** bans issued since the daemon started */
  totalBanned: number;
}

export interface StatusResult {
  /** backend in use: `nftables`, `xdp`, `dry-run` */
  backend: string;
  /** seconds since the daemon started */
  uptimeSeconds: number;
  /** every jail, or only the one asked for */
  jails: JailStatus[];
}

/** One active ban as `logban list` shows it. */
export interface BanListEntry {
  jail: string;
  /** canonical address, optionally with /prefix */
  addr: string;
  /** epoch seconds when the ban ends; null = permanent */
  expires: number | null;
  /** seconds left; null = permanent */
  remainingSeconds: number | null;
}

export interface BanResult {
  jail: string;
  /** the address as the daemon stored it (canonical form) */
  addr: string;
  /** epoch seconds when the ban ends; null = permanent */
  expires: number | null;
  /** false when the address was already banned in that jail (its ban was refreshed) */
  created: boolean;
}

export interface UnbanResult {
  addr: string;
  /** how many jails the address was removed from */
  removed: number;
}

export interface ReloadResult {
  /** enabled jails after the reload */
  jails: string[];
  added: string[];
  removed: string[];
}

export interface PingResult {
  pid: number;
}

/** Arguments and result of each command. */
export interface ControlCommands {
  status: { args: { jail?: string }; result: StatusResult };
  list: { args: { jail?: string }; result: BanListEntry[] };
  ban: { args: { jail: string; addr: string; seconds?: number }; result: BanResult };
  unban: { args: { addr: string; jail?: string }; result: UnbanResult };
  reload: { args: Record<string, never>; result: ReloadResult };
  ping: { args: Record<string, never>; result: PingResult };
}

export type ControlCommand = keyof ControlCommands;
export const CONTROL_COMMANDS: readonly ControlCommand[] = ['status', 'list', 'ban', 'unban', 'reload', 'ping'];

export type ArgsOf<C extends ControlCommand> = ControlCommands[C]['args'];
export type ResultOf<C extends ControlCommand> = ControlCommands[C]['result'];

export interface RequestOf<C extends ControlCommand> {
  id: number;
  cmd: C;
  args: ArgsOf<C>;
}

/** Any valid request: a discriminated union on `cmd`. */
export type ControlRequest = { [C in ControlCommand]: RequestOf<C> }[ControlCommand];

export interface SuccessResponse<C extends ControlCommand = ControlCommand> {
  id: number;
  ok: true;
  result: ResultOf<C>;
}

export interface ErrorResponse {
  /** null when the request was too malformed to carry an id */
  id: number | null;
  ok: false;
  error: string;
}

export type ControlResponse = { [C in ControlCommand]: SuccessResponse<C> }[ControlCommand] | ErrorResponse;

/** What parseRequest() returns for a line it cannot accept. */
export interface RequestError {
  id: number | null;
  error: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(args: Record<string, unknown>, key: string): string | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new Error(`'${key}' must be a non-empty string`);
  return v;
}

function requiredString(args: Record<string, unknown>, key: string): string {
  const v = optionalString(args, key);
  if (v === undefined) throw new Error(`missing '${key}'`);
  return v;
}

function address(args: Record<string, unknown>): string {
  return canonicalAddress(requiredString(args, 'addr'));
}

/** Validates a ban duration: a whole number of seconds, positive, or -1 for permanent. */
export function checkBanSeconds(value: unknown): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `ban time must be a whole number of seconds, got ${JSON.stringify(value)}`;
  if (value === -1) return null;
  if (value < 1 || value > MAX_BAN_SECONDS) return `ban time must be between 1 and ${MAX_BAN_SECONDS} seconds, or -1 for permanent, got ${value}`;
  return null;
}

function parseArgs(cmd: ControlCommand, raw: unknown): ControlRequest['args'] {
  const args = raw === undefined ? {} : raw;
  if (!isObject(args)) throw new Error("'args' must be an object");
  switch (cmd) {
    case 'status':
    case 'list': {
      const jail = optionalString(args, 'jail');
      return jail === undefined ? {} : { jail };
    }
    case 'ban': {
      const jail = requiredString(args, 'jail');
      const addr = address(args);
      if (args['seconds'] === undefined) return { jail, addr };
      const problem = checkBanSeconds(args['seconds']);
      if (problem) throw new Error(problem);
      return { jail, addr, seconds: args['seconds'] as number };
    }
    case 'unban': {
      const addr = address(args);
      const jail = optionalString(args, 'jail');
      return jail === undefined ? { addr } : { addr, jail };
    }
    case 'reload':
    case 'ping':
      return {};
  }
}

/** Parses and validates one request line. Never throws: bad input yields a RequestError. */
export function parseRequest(line: string): ControlRequest | RequestError {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { id: null, error: 'request is not valid JSON' };
  }
  if (!isObject(raw)) return { id: null, error: 'request must be a JSON object' };
  const id = typeof raw['id'] === 'number' && Number.isSafeInteger(raw['id']) ? raw['id'] : null;
  if (id === null) return { id: null, error: "request needs an integer 'id'" };
  const cmd = raw['cmd'];
  if (typeof cmd !== 'string' || !(CONTROL_COMMANDS as readonly string[]).includes(cmd)) {
    return { id, error: `unknown command ${JSON.stringify(cmd)} (expected one of ${CONTROL_COMMANDS.join(', ')})` };
  }
  try {
    const args = parseArgs(cmd as ControlCommand, raw['args']);
    return { id, cmd, args } as ControlRequest;
  } catch (err) {
    return { id, error: `${cmd}: ${(err as Error).message}` };
  }
}

export function isRequestError(value: ControlRequest | RequestError): value is RequestError {
  return 'error' in value;
}

/** Checks the envelope of a response line; the result's shape is trusted (it is our daemon). */
export function parseResponse(line: string): ControlResponse | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObject(raw) || typeof raw['ok'] !== 'boolean') return null;
  if (raw['id'] !== null && typeof raw['id'] !== 'number') return null;
  if (raw['ok'] === false) return typeof raw['error'] === 'string' ? (raw as unknown as ErrorResponse) : null;
  return 'result' in raw ? (raw as unknown as ControlResponse) : null;
}

/** Encodes one message as a protocol line. */
export function encodeLine(message: ControlRequest | ControlResponse): string {
  return JSON.stringify(message) + '\n';
}
