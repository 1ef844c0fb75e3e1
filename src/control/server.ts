// The daemon's control socket: a Unix socket speaking the line-delimited JSON protocol of
// protocol.ts. It owns the socket file (creation with the right mode, stale-file cleanup,
// removal at stop) and turns each request into one call on a ControlHandler, which the daemon
// implements. A misbehaving client gets an error response or a closed connection, never a
// daemon crash.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { UserError } from '../errors.js';
import { LineSplitter, LineTooLongError } from './line-splitter.js';
import {
  MAX_REQUEST_BYTES,
  encodeLine,
  isRequestError,
  parseRequest,
  type BanListEntry,
  type BanResult,
  type ControlRequest,
  type ControlResponse,
  type ReloadResult,
  type StatusResult,
} from './protocol.js';

/** What the daemon exposes to the control socket. Throw UserError for mistakes the caller made
 * (unknown jail, address in ignoreip, ...): its message is sent back as the error text. */
export interface ControlHandler {
  /** every jail, or only `jail` (throw UserError when there is no such jail) */
  status(jail?: string): StatusResult | Promise<StatusResult>;
  /** active bans, of every jail or only `jail` */
  list(jail?: string): BanListEntry[] | Promise<BanListEntry[]>;
  /** seconds undefined = the jail's bantime; -1 = permanent */
  ban(jail: string, addr: string, seconds?: number): Promise<BanResult>;
  /** returns how many jails the address was removed from (0 = it was not banned) */
  unban(addr: string, jail?: string): Promise<number>;
  reload(): Promise<ReloadResult>;
}

/** The few log calls the server makes; the daemon's logger fits this shape. */
export interface ControlLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ControlServerOptions {
  /** socket file, e.g. /run/logban/logban.sock */
  path: string;
  /** file mode of the socket; default 0o600, or 0o660 when `group` is set */
  mode?: number;
  /** group name or numeric gid given access to the socket */
  group?: string;
  handler: ControlHandler;
  log: ControlLog;
  /** close connections idle this long (default 60 s) */
  idleTimeoutMs?: number;
  /** simultaneous client connections (default 32) */
  maxConnections?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 32;
/** How long start() waits for an existing socket to answer before calling it live. */
const LIVE_PROBE_TIMEOUT_MS = 1_000;

type ProbeOutcome = 'live' | 'stale' | 'absent';

/** Connects to `socketPath` to learn whether a process still listens there. */
function probeSocket(socketPath: string): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const conn = net.connect(socketPath);
    const timer = setTimeout(() => {
      // Accepted by nobody in time, yet not refused: something holds it; do not steal it.
      conn.destroy();
      resolve('live');
    }, LIVE_PROBE_TIMEOUT_MS);
    conn.once('connect', () => {
      clearTimeout(timer);
      conn.destroy();
      resolve('live');
    });
    conn.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED') resolve('stale');
      else if (err.code === 'ENOENT') resolve('absent');
      else resolve('live'); // EAGAIN (backlog full), EACCES...: not ours to remove
    });
  });
}

/** Resolves a group name (through /etc/group, then NSS via getent) or a numeric gid. */
export function resolveGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    for (const line of fs.readFileSync('/etc/group', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields[0] === group && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
    }
  } catch {
    // no /etc/group: fall through to getent
  }
  try {
    const out = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const gid = out.split(':')[2];
    if (gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  } catch {
    // getent exits 2 for an unknown group
  }
  throw new UserError(`control socket group '${group}' does not exist`);
}

export class ControlServer {
  private readonly socketPath: string;
  private readonly mode: number;
  private readonly gid: number | undefined;
  private server: net.Server | null = null;
  private readonly connections = new Set<net.Socket>();
  /** inode of the socket file we created, so stop() never removes someone else's */
  private inode: number | null = null;

  constructor(private readonly opts: ControlServerOptions) {
    this.socketPath = path.resolve(opts.path);
    this.mode = opts.mode ?? (opts.group !== undefined ? 0o660 : 0o600);
    if (!Number.isInteger(this.mode) || this.mode < 0 || this.mode > 0o777) {
      throw new UserError(`control socket mode ${String(opts.mode)} is not a valid file mode`);
    }
    this.gid = opts.group !== undefined ? resolveGroup(opts.group) : undefined;
  }

  get path(): string {
    return this.socketPath;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const dir = path.dirname(this.socketPath);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new UserError(`cannot create the control socket's directory ${dir}: ${(err as Error).message}`);
    }
    await this.removeStaleSocket();

    const server = net.createServer({ allowHalfOpen: true }, (conn) => this.serve(conn));
    server.maxConnections = this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new UserError(`cannot listen on control socket ${this.socketPath}: ${err.message}`));
      };
      server.once('error', onError);
      // bind() creates the file with 0777 & ~umask: set the umask so the socket never exists,
      // even for an instant, with more access than `mode`. The group bits are opened only
      // after chown below. listen() on a path binds synchronously, so the process-wide umask
      // is restored before any other code runs.
      const previous = process.umask(0o777 & ~(this.mode & 0o700));
      try {
        server.listen(this.socketPath, () => {
          server.off('error', onError);
          resolve();
        });
      } finally {
        process.umask(previous);
      }
    });
    this.server = server;
    server.on('error', (err) => this.opts.log.error(`control socket ${this.socketPath}: ${err.message}`));

    try {
      if (this.gid !== undefined) fs.chownSync(this.socketPath, -1, this.gid);
      fs.chmodSync(this.socketPath, this.mode);
      this.inode = fs.statSync(this.socketPath).ino;
    } catch (err) {
      await this.stop();
      throw new UserError(`cannot set owner/mode of control socket ${this.socketPath}: ${(err as Error).message}`);
    }
    this.opts.log.info(`control socket listening on ${this.socketPath} (mode ${this.mode.toString(8).padStart(4, '0')})`);
  }

  /** Closes the socket, drops client connections and removes the socket file. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const conn of this.connections) conn.destroy();
    this.connections.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Node unlinks the path on close; make sure, but only if the file is still the one we made.
    try {
      if (this.inode !== null && fs.lstatSync(this.socketPath).ino === this.inode) fs.unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
    this.inode = null;
  }

  private async removeStaleSocket(): Promise<void> {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(this.socketPath);
    } catch {
      return; // nothing there
    }
    if (!stat.isSocket()) {
      throw new UserError(`control socket path ${this.socketPath} exists and is not a socket; remove it or choose another --socket`);
    }
    const outcome = await probeSocket(this.socketPath);
    if (outcome === 'live') throw new UserError(`another logban is running on ${this.socketPath}`);
    if (outcome === 'stale') {
      // Left behind by a daemon that crashed: nobody listens, so it is safe to replace.
      fs.rmSync(this.socketPath, { force: true });
      this.opts.log.warn(`removed stale control socket ${this.socketPath}`);
    }
  }

  private serve(conn: net.Socket): void {
    this.connections.add(conn);
    conn.setTimeout(this.opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => conn.destroy());
    const splitter = new LineSplitter(MAX_REQUEST_BYTES);
    // Requests on one connection are answered in order, one at a time.
    let queue: Promise<void> = Promise.resolve();
    let ended = false;

    conn.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        if (!(err instanceof LineTooLongError)) throw err;
        conn.pause();
        this.reply(conn, { id: null, ok: false, error: `request too large (limit ${MAX_REQUEST_BYTES} bytes)` });
        conn.end(() => conn.destroy());
        return;
      }
      for (const line of lines) {
        if (line.trim() === '') continue;
        queue = queue
          .then(() => this.answer(conn, line))
          .catch((err: unknown) => {
            // answer() handles handler errors itself; reaching here is a bug, not a reason to die.
            this.opts.log.error(`control connection failed: ${err instanceof Error ? err.message : String(err)}`);
            conn.destroy();
          });
      }
    });
    conn.on('end', () => {
      ended = true;
      // The client half-closed: answer what it sent, then close our side.
      void queue.then(() => {
        if (ended && !conn.destroyed) conn.end();
      });
    });
    conn.on('error', () => conn.destroy()); // client went away mid-answer: nothing to do
    conn.on('close', () => this.connections.delete(conn));
  }

  private async answer(conn: net.Socket, line: string): Promise<void> {
    const request = parseRequest(line);
    if (isRequestError(request)) {
      this.reply(conn, { id: request.id, ok: false, error: request.error });
      return;
    }
    let response: ControlResponse;
    try {
      response = await this.dispatch(request);
    } catch (err) {
      if (err instanceof UserError) {
        response = { id: request.id, ok: false, error: err.message };
      } else {
        const e = err instanceof Error ? err : new Error(String(err));
        this.opts.log.error(`control command '${request.cmd}' failed: ${e.stack ?? e.message}`);
        response = { id: request.id, ok: false, error: `internal error in '${request.cmd}': ${e.message}` };
      }
    }
    this.reply(conn, response);
  }

  private async dispatch(request: ControlRequest): Promise<ControlResponse> {
    const handler = this.opts.handler;
    const id = request.id;
    switch (request.cmd) {
      case 'status':
        return { id, ok: true, result: await handler.status(request.args.jail) };
      case 'list':
        return { id, ok: true, result: await handler.list(request.args.jail) };
      case 'ban':
        return { id, ok: true, result: await handler.ban(request.args.jail, request.args.addr, request.args.seconds) };
      case 'unban': {
        const removed = await handler.unban(request.args.addr, request.args.jail);
        return { id, ok: true, result: { addr: request.args.addr, removed } };
      }
      case 'reload':
        return { id, ok: true, result: await handler.reload() };
      case 'ping':
        return { id, ok: true, result: { pid: process.pid } };
    }
  }

  private reply(conn: net.Socket, response: ControlResponse): void {
    if (conn.destroyed || !conn.writable) return;
    let line: string;
    try {
      line = encodeLine(response);
    } catch (err) {
      // A result JSON cannot encode (BigInt, cycle) is the daemon's bug; the client still gets an answer.
      this.opts.log.error(`control socket: cannot encode a response: ${(err as Error).message}`);
      line = encodeLine({ id: response.id, ok: false, error: 'internal error: the answer could not be encoded' });
    }
    conn.write(line);
  }
}
