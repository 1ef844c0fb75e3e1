// Client side of the control socket, used by the CLI commands: one connection, one request,
// one answer. Every failure becomes a one-line UserError naming the socket.

import net from 'node:net';
import { UserError } from '../errors.js';
import { LineSplitter } from './line-splitter.js';
import { encodeLine, parseResponse, type ArgsOf, type ControlCommand, type ControlRequest, type ResultOf } from './protocol.js';

export const DEFAULT_SOCKET_PATH = '/run/logban/logban.sock';
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Answers can be large (`list` with a million bans); this only stops a runaway peer. */
const MAX_RESPONSE_BYTES = 1024 * 1024 * 1024;

let nextId = 1;

/** What callDaemon() sends: the command and its arguments; the id is added here. */
export interface DaemonRequest<C extends ControlCommand> {
  cmd: C;
  args: ArgsOf<C>;
}

function connectionError(socketPath: string, err: NodeJS.ErrnoException): UserError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new UserError(`logban: no daemon running on ${socketPath} (start it with 'logban run')`);
    case 'EACCES':
    case 'EPERM':
      return new UserError(`logban: permission denied on ${socketPath} (run as root, or as a member of the socket's group)`);
    case 'ENOTDIR':
      return new UserError(`logban: ${socketPath} is not a socket path`);
    default:
      return new UserError(`logban: cannot talk to the daemon on ${socketPath}: ${err.message}`);
  }
}

/**
 * Sends one request to the daemon and returns its result. Throws UserError when no daemon
 * answers, on timeout, or with the daemon's own message when it refuses the request.
 */
export function callDaemon<C extends ControlCommand>(
  socketPath: string,
  request: DaemonRequest<C>,
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): Promise<ResultOf<C>> {
  const id = nextId++;
  const message = { id, cmd: request.cmd, args: request.args } as ControlRequest;
  return new Promise((resolve, reject) => {
    const conn = net.connect(socketPath);
    const splitter = new LineSplitter(MAX_RESPONSE_BYTES);
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      fn();
    };
    const timer = setTimeout(() => {
      const seconds = Math.round(timeoutMs / 100) / 10;
      finish(() => reject(new UserError(`logban: the daemon on ${socketPath} did not answer '${request.cmd}' within ${seconds} s`)));
    }, timeoutMs);

    conn.once('connect', () => conn.write(encodeLine(message)));
    conn.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch {
        finish(() => reject(new UserError(`logban: the daemon on ${socketPath} sent an answer larger than ${MAX_RESPONSE_BYTES} bytes`)));
        return;
      }
      for (const line of lines) {
        const response = parseResponse(line);
        if (response === null) {
          finish(() => reject(new UserError(`logban: the daemon on ${socketPath} sent an invalid answer`)));
          return;
        }
        if (response.id !== id && response.id !== null) continue; // not ours (cannot happen with one request)
        if (response.ok) {
          const result = response.result as ResultOf<C>;
          finish(() => resolve(result));
        } else {
          finish(() => reject(new UserError(`logban: ${response.error}`)));
        }
        return;
      }
    });
    conn.on('error', (err: NodeJS.ErrnoException) => finish(() => reject(connectionError(socketPath, err))));
    conn.on('close', () =>
      finish(() => reject(new UserError(`logban: the daemon on ${socketPath} closed the connection without answering '${request.cmd}'`))),
    );
  });
}
