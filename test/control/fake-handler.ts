// An in-memory ControlHandler for socket-layer tests: it keeps jails and bans in maps and
// records every call, so tests can check what the server passed through (and what it did not).

import { UserError } from '../../src/errors.js';
import type { ControlHandler, ControlLog } from '../../src/control/server.js';
import type { BanListEntry, BanResult, JailStatus, ReloadResult, StatusResult } from '../../src/control/protocol.js';

export interface HandlerCall {
  method: 'status' | 'list' | 'ban' | 'unban' | 'reload';
  args: unknown[];
}

export class FakeHandler implements ControlHandler {
  readonly calls: HandlerCall[] = [];
  /** key `jail addr` -> expiry epoch seconds, or null when permanent */
  readonly bans = new Map<string, number | null>();
  /** when set, the next call throws it */
  failWith: Error | null = null;

  constructor(
    readonly jails: JailStatus[],
    readonly now: () => number = () => Date.now() / 1000,
  ) {}

  private jail(name: string): JailStatus {
    const j = this.jails.find((x) => x.name === name);
    if (!j) throw new UserError(`no jail named '${name}'`);
    return j;
  }

  private maybeFail(): void {
    const err = this.failWith;
    this.failWith = null;
    if (err) throw err;
  }

  status(jail?: string): StatusResult {
    this.calls.push({ method: 'status', args: [jail] });
    this.maybeFail();
    return { backend: 'dry-run', uptimeSeconds: 3725, jails: jail === undefined ? this.jails : [this.jail(jail)] };
  }

  list(jail?: string): BanListEntry[] {
    this.calls.push({ method: 'list', args: [jail] });
    this.maybeFail();
    const now = this.now();
    const out: BanListEntry[] = [];
    for (const [key, expires] of this.bans) {
      const [j, addr] = key.split(' ') as [string, string];
      if (jail !== undefined && j !== jail) continue;
      out.push({ jail: j, addr, expires, remainingSeconds: expires === null ? null : Math.round(expires - now) });
    }
    return out;
  }

  async ban(jail: string, addr: string, seconds?: number): Promise<BanResult> {
    this.calls.push({ method: 'ban', args: [jail, addr, seconds] });
    this.maybeFail();
    const j = this.jail(jail);
    const key = `${jail} ${addr}`;
    const created = !this.bans.has(key);
    const secs = seconds ?? 600;
    const expires = secs === -1 ? null : Math.round(this.now() + secs);
    this.bans.set(key, expires);
    if (created) {
      j.currentlyBanned++;
      j.totalBanned++;
    }
    return { jail, addr, expires, created };
  }

  async unban(addr: string, jail?: string): Promise<number> {
    this.calls.push({ method: 'unban', args: [addr, jail] });
    this.maybeFail();
    if (jail !== undefined) this.jail(jail);
    let removed = 0;
    for (const key of [...this.bans.keys()]) {
      const [j, a] = key.split(' ') as [string, string];
      if (a === addr && (jail === undefined || j === jail)) {
        this.bans.delete(key);
        this.jail(j).currentlyBanned--;
        removed++;
      }
    }
    return removed;
  }

  async reload(): Promise<ReloadResult> {
    this.calls.push({ method: 'reload', args: [] });
    this.maybeFail();
    return { jails: this.jails.map((j) => j.name), added: [], removed: [] };
  }
}

export function sampleJails(): JailStatus[] {
  return [
    {
      name: 'sshd',
      filter: 'sshd',
      logFiles: ['/var/log/auth.log'],
      lines: 1234,
      matches: 17,
      currentlyFailed: 3,
      currentlyBanned: 0,
      totalBanned: 0,
    },
    {
      name: 'wordpress',
      filter: 'wordpress-xmlrpc',
      logFiles: ['/var/log/apache2/access.log', '/var/log/apache2/other_vhosts_access.log'],
      lines: 99000,
      matches: 4200,
      currentlyFailed: 12,
      currentlyBanned: 0,
      totalBanned: 0,
    },
  ];
}

/** A ControlLog that keeps messages for assertions. */
export class MemoryLog implements ControlLog {
  readonly messages: Array<{ level: 'info' | 'warn' | 'error'; message: string }> = [];
  info(message: string): void {
    this.messages.push({ level: 'info', message });
  }
  warn(message: string): void {
    this.messages.push({ level: 'warn', message });
  }
  error(message: string): void {
    this.messages.push({ level: 'error', message });
  }
}
