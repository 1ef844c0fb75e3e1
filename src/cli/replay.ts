// `logban replay`: every enabled jail over its logs from the first byte to the end, through
// the whole pipeline (tailer, worker pool, ban table, backend), then a summary.
import { Daemon } from '../daemon.js';
import { createLogger } from '../log.js';
import type { LogbanSettings } from '../types.js';

export interface ReplayOptions {
  configDir: string;
  backend?: LogbanSettings['backend'];
  xdpInterface: string[];
  json?: boolean;
}

export async function replayCommand(o: ReplayOptions, out: NodeJS.WritableStream): Promise<number> {
  const log = createLogger(process.stderr, 'WARNING');
  const daemon = await Daemon.create({
    configDir: o.configDir,
    overrides: { backend: o.backend, xdpInterfaces: o.xdpInterface.length ? o.xdpInterface : undefined, metrics: '' },
    mode: 'replay',
    log,
  });
  try {
    const s = await daemon.replay();
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    if (o.json) {
      out.write(JSON.stringify({ ...s, peakRssBytes }) + '\n');
    } else {
      const rate = s.seconds > 0 ? Math.round(s.lines / s.seconds) : 0;
      out.write(`lines ${s.lines}, matches ${s.matches}, bans ${s.bans}, ${s.seconds.toFixed(3)} s (${rate.toLocaleString('en-US')} lines/s), peak RSS ${(peakRssBytes / 2 ** 20).toFixed(0)} MiB\n`);
      for (const [name, j] of Object.entries(s.jails)) {
        out.write(`  ${name}: lines ${j.lines}, matches ${j.matches}, bans ${j.bans}\n`);
      }
    }
  } finally {
    await daemon.stop();
  }
  return 0;
}
