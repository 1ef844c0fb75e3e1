// Every metric logban exports. Names follow Prometheus conventions; no label ever carries an
// address (unbounded cardinality, and it would leak attacker-controlled text into the TSDB).
import client from 'prom-client';

/** How often the event-loop lag is sampled (prom-client's default is 10 ms). */
const EVENT_LOOP_SAMPLE_MS = 100;

export class Metrics {
  readonly registry = new client.Registry();
  readonly lines = this.counter('logban_lines_total', 'Log lines read, per jail.', ['jail']);
  readonly matches = this.counter('logban_matches_total', 'Lines that matched a failregex and no ignoreregex, per jail.', ['jail']);
  readonly bans = this.counter('logban_bans_total', 'Bans issued, per jail (failures, manual and restored).', ['jail']);
  readonly unbans = this.counter('logban_unbans_total', 'Bans lifted, per jail (expired or manual).', ['jail']);
  readonly banned = new client.Gauge({
    name: 'logban_banned', help: 'Addresses currently banned, per jail.', labelNames: ['jail'], registers: [this.registry],
  });
  readonly tracked = new client.Gauge({
    name: 'logban_tracked_addresses', help: 'Addresses with an open failure window (all jails).', registers: [this.registry],
  });
  readonly applySeconds = new client.Histogram({
    name: 'logban_backend_apply_seconds',
    help: 'Time to apply one batch of ban changes in the kernel.',
    labelNames: ['backend'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly backendErrors = this.counter('logban_backend_errors_total', 'Failed backend transactions.', ['backend']);
  readonly batchChanges = this.counter('logban_backend_changes_total', 'Ban changes sent to the backend.', ['backend']);
  readonly badLines = this.counter('logban_bad_lines_total', 'Lines skipped as hostile or unreadable, per jail and reason.', ['jail', 'reason']);
  readonly evictions = this.counter('logban_evictions_total', 'Failure windows evicted because max_tracked_addresses was reached.', []);
  readonly repairs = this.counter('logban_reconcile_repairs_total', 'Times the kernel state was found missing and re-applied.', []);
  readonly invalidHosts = this.counter('logban_invalid_hosts_total', 'Matches whose host was not a valid address, per jail.', ['jail']);
  readonly ignored = this.counter('logban_ignored_total', 'Failures from ignored addresses (ignoreip/ignoreself), per jail.', ['jail']);
  // XDP counts in a pinned per-CPU map (it survives restarts); read at scrape time. prom-client
  // collects both counters concurrently, so they share one read: packets and bytes agree.
  private xdpSource: (() => Promise<{ packets: bigint; bytes: bigint }>) | null = null;
  private xdpLast: { packets: bigint; bytes: bigint } | null = null;
  private xdpRead: Promise<{ packets: bigint; bytes: bigint } | null> | null = null;
  readonly xdpPackets = this.xdpCounter('logban_xdp_dropped_packets_total', 'Packets dropped by the XDP program.', 'packets');
  readonly xdpBytes = this.xdpCounter('logban_xdp_dropped_bytes_total', 'Bytes dropped by the XDP program.', 'bytes');

  constructor() {
    // nodejs_eventloop_lag_* samples the loop with a timer; at prom-client's default 10 ms it
    // woke an idle daemon 100 times a second (0.7% of a core); 100 ms still catches any stall
    // that matters to a ban engine
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** Where the XDP drop counters come from (the XDP backend), or null. */
  setXdpSource(src: (() => Promise<{ packets: bigint; bytes: bigint }>) | null): void {
    this.xdpSource = src;
  }

  /** One read of the XDP counters per scrape, shared by the counters collected meanwhile. */
  private readXdp(): Promise<{ packets: bigint; bytes: bigint } | null> {
    const src = this.xdpSource;
    if (!src) return Promise.resolve(this.xdpLast);
    this.xdpRead ??= src()
      .then((v) => (this.xdpLast = v), () => this.xdpLast)
      .finally(() => (this.xdpRead = null));
    return this.xdpRead;
  }

  private xdpCounter(name: string, help: string, field: 'packets' | 'bytes'): client.Counter {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const metrics = this;
    return new client.Counter({
      name, help, registers: [this.registry],
      async collect() {
        if (!metrics.xdpSource) return;
        const v = (await metrics.readXdp())?.[field];
        if (v === undefined) return;
        this.reset();
        this.inc(Number(v));
      },
    });
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): client.Counter<L> {
    return new client.Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
