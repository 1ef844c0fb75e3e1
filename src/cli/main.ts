// The `logban` command line. Each command lives in its own module, loaded only when used, so
// `logban status` does not pay for RE2 and the worker pool.
import { Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from '../errors.js';
import { DEFAULT_CONFIG_DIR, defaultSocket } from './paths.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function backendOption(): Option {
  return new Option('--backend <name>', 'kernel backend').choices(['auto', 'nftables', 'xdp', 'dry-run']);
}

function seconds(value: string): string {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('whole seconds, or -1 for permanent');
  return value;
}

/** The matcher's worker threads start loading now, while the command's modules and the
 * configuration load (src/match/worker-threads.ts). */
async function prestartWorkers(): Promise<void> {
  (await import('../match/worker-threads.js')).prestartWorkerThreads();
}

export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('logban')
    .description('Ban engine for Linux servers: reads fail2ban configuration, bans in nftables or XDP.')
    .showHelpAfterError('(run with --help for usage)')
    .version('0.1.0');

  program
    .command('run')
    .description('run the daemon in the foreground: follow every enabled jail\'s logs and ban')
    .option('--config-dir <dir>', 'configuration directory (fail2ban layout: jail.conf, filter.d/, logban.conf)', DEFAULT_CONFIG_DIR)
    .addOption(backendOption())
    .option('--state-dir <dir>', 'state directory (SQLite: bans, positions)')
    .option('--socket <path>', 'control socket path')
    .option('--metrics <host:port>', 'serve Prometheus metrics here ("" to disable)')
    .option('--xdp-interface <iface>', 'attach the XDP program to this interface (repeatable)', collect, [])
    .option('--log-level <level>', 'DEBUG, INFO, NOTICE, WARNING or ERROR', 'INFO')
    .action(async (o) => {
      await prestartWorkers();
      const { runCommand } = await import('./run.js');
      exit(await runCommand(o));
    });

  program
    .command('replay')
    .description('run every enabled jail over its log files from the first byte to the end, apply, summarise, exit')
    .option('--config-dir <dir>', 'configuration directory', DEFAULT_CONFIG_DIR)
    .addOption(backendOption())
    .option('--xdp-interface <iface>', 'XDP interface (repeatable)', collect, [])
    .option('--json', 'print the summary as JSON')
    .action(async (o) => {
      await prestartWorkers();
      const { replayCommand } = await import('./replay.js');
      exit(await replayCommand(o, process.stdout));
    });

  program
    .command('test')
    .description('run one filter over a log file or a single line (logban\'s fail2ban-regex)')
    .argument('<filter>', 'filter name (sshd), name with options (sshd[mode=aggressive]) or path')
    .argument('<log>', 'log file, or one log line')
    .option('--config-dir <dir>', 'configuration directory holding filter.d/', DEFAULT_CONFIG_DIR)
    .option('--json', 'one JSON object per matching line')
    .option('--now <time>', 'current time (epoch seconds or ISO date) for dates without a year')
    .option('--print-missed', 'print lines that matched no failregex')
    .option('--print-ignored', 'print lines dropped by ignoreregex')
    .action(async (filter: string, log: string, o) => {
      const { runTestCommand } = await import('./test.js');
      exit(await runTestCommand({
        filter, log, configDir: o.configDir, json: Boolean(o.json), now: o.now,
        printMissed: Boolean(o.printMissed), printIgnored: Boolean(o.printIgnored),
      }, process.stdout));
    });

  const socketOpt = () => new Option('--socket <path>', 'control socket of the running daemon').default(defaultSocket());

  program
    .command('status')
    .description('jails and their counters, or one jail in detail')
    .argument('[jail]')
    .addOption(socketOpt())
    .option('--json', 'print JSON')
    .action(async (jail: string | undefined, o) => {
      const { statusCommand } = await import('./status.js');
      exit(await statusCommand({ socket: o.socket, json: Boolean(o.json), jail }, process.stdout));
    });

  program
    .command('list')
    .description('active bans')
    .addOption(socketOpt())
    .option('--jail <jail>', 'only this jail')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const { listCommand } = await import('./list.js');
      exit(await listCommand({ socket: o.socket, json: Boolean(o.json), jail: o.jail }, process.stdout));
    });

  program
    .command('ban')
    .description('ban ADDR in JAIL now')
    .argument('<jail>')
    .argument('<addr>', 'IPv4/IPv6 address or network')
    .option('--time <seconds>', "ban time in seconds (-1: permanent; default: the jail's bantime)", seconds)
    .addOption(socketOpt())
    .option('--json', 'print JSON')
    .action(async (jail: string, addr: string, o) => {
      const { banCommand } = await import('./ban.js');
      exit(await banCommand({ socket: o.socket, jail, addr, time: o.time, json: Boolean(o.json) }, process.stdout));
    });

  program
    .command('unban')
    .description('lift the bans of ADDR (in every jail, or one)')
    .argument('<addr>')
    .option('--jail <jail>', 'only in this jail')
    .addOption(socketOpt())
    .option('--json', 'print JSON')
    .action(async (addr: string, o) => {
      const { unbanCommand } = await import('./unban.js');
      exit(await unbanCommand({ socket: o.socket, addr, jail: o.jail, json: Boolean(o.json) }, process.stdout));
    });

  program
    .command('reload')
    .description('re-read the configuration (like SIGHUP); bans are kept')
    .addOption(socketOpt())
    .option('--json', 'print JSON')
    .action(async (o) => {
      const { reloadCommand } = await import('./reload.js');
      exit(await reloadCommand({ socket: o.socket, json: Boolean(o.json) }, process.stdout));
    });

  return program;
}

/** Runs the CLI. A UserError is printed as one line, without a stack. */
export async function main(argv: string[]): Promise<void> {
  let code: number | undefined;
  const program = buildProgram((c) => { code = c; });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // workers started for a command that failed before using them would keep the process alive
    await (await import('../match/worker-threads.js')).releaseWorkerThreads();
    if (err instanceof UserError) {
      process.stderr.write(`${err.message.startsWith('logban: ') ? '' : 'logban: '}${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  // long-running commands (run) keep the loop alive themselves and set the code on exit
  if (code !== undefined) process.exitCode = code;
}
