// An OpenSSH auth log (syslog format) with a realistic mix: about a third of the lines are
// failures from a pool of attackers, the rest are sessions of legitimate users and the
// ordinary noise sshd writes around them.
import { createRng, type Rng } from '../prng.js';
import { LineWriter } from './line-writer.js';
import { syslogDate } from './dates.js';

export { syslogDate };

export interface SshdLogOptions {
  file: string;
  lines: number;
  seed: number;
  endTime: number;
  spanSeconds: number;
  /** probability that a line is a failure */
  failureShare: number;
  attackers: readonly string[];
  users: readonly string[];
  hostname?: string;
}

export type SshdLineKind =
  | 'failed-password' | 'failed-password-invalid' | 'invalid-user' | 'closed-authenticating'
  | 'accepted' | 'session-opened' | 'session-closed' | 'received-disconnect' | 'disconnected'
  | 'closed-preauth';

export interface GeneratedSshdLog {
  file: string;
  lines: number;
  bytes: number;
  kinds: Record<SshdLineKind, number>;
}


const BAD_USERS = ['admin', 'test', 'oracle', 'ubuntu', 'user', 'postgres', 'git', 'pi', 'ftpuser', 'guest'];
const LEGIT_USERS = ['deploy', 'alice', 'backup'];
const FAILURES: SshdLineKind[] = ['failed-password', 'failed-password-invalid', 'invalid-user', 'closed-authenticating'];
const ORDINARY: SshdLineKind[] = ['accepted', 'session-opened', 'session-closed', 'received-disconnect',
  'disconnected', 'closed-preauth'];

function render(kind: SshdLineKind, rng: Rng, addr: string): string {
  const port = 1024 + rng.int(64000);
  switch (kind) {
    case 'failed-password':
      return `Failed password for root from ${addr} port ${port} ssh2`;
    case 'failed-password-invalid':
      return `Failed password for invalid user ${rng.pick(BAD_USERS)} from ${addr} port ${port} ssh2`;
    case 'invalid-user':
      return `Invalid user ${rng.pick(BAD_USERS)} from ${addr} port ${port}`;
    case 'closed-authenticating':
      return `Connection closed by authenticating user root ${addr} port ${port} [preauth]`;
    case 'accepted':
      return `Accepted publickey for ${rng.pick(LEGIT_USERS)} from ${addr} port ${port} ssh2: ED25519 SHA256:q3V1ZP0AVkX0gGmOd9Lp0wSuG5nAqJq9vJ3dXKp8x2E`;
    case 'session-opened':
      return `pam_unix(sshd:session): session opened for user ${rng.pick(LEGIT_USERS)}(uid=1000) by (uid=0)`;
    case 'session-closed':
      return `pam_unix(sshd:session): session closed for user ${rng.pick(LEGIT_USERS)}`;
    case 'received-disconnect':
      return `Received disconnect from ${addr} port ${port}:11: disconnected by user`;
    case 'disconnected':
      return `Disconnected from user ${rng.pick(LEGIT_USERS)} ${addr} port ${port}`;
    case 'closed-preauth':
      return `Connection closed by ${addr} port ${port} [preauth]`;
  }
}

export function generateSshdLog(opts: SshdLogOptions): GeneratedSshdLog {
  const rng = createRng(opts.seed);
  const out = new LineWriter(opts.file);
  const host = opts.hostname ?? 'web1';
  const start = opts.endTime - opts.spanSeconds;
  const dates: string[] = [];
  for (let s = 0; s <= opts.spanSeconds; s++) dates.push(syslogDate(start + s));
  const kinds = Object.fromEntries([...FAILURES, ...ORDINARY].map((k) => [k, 0])) as Record<SshdLineKind, number>;
  for (let i = 0; i < opts.lines; i++) {
    const date = dates[Math.floor((i * opts.spanSeconds) / Math.max(1, opts.lines - 1))]!;
    const failure = rng.next() < opts.failureShare;
    const kind = failure ? rng.pick(FAILURES) : rng.pick(ORDINARY);
    const addr = failure || kind === 'closed-preauth' ? rng.pick(opts.attackers) : rng.pick(opts.users);
    kinds[kind]++;
    out.push(`${date} ${host} sshd[${1000 + rng.int(60000)}]: ${render(kind, rng, addr)}`);
  }
  out.close();
  return { file: opts.file, lines: out.lines, bytes: out.bytes, kinds };
}
