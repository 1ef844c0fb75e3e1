// What a scenario gets from the harness and what it hands back.

export interface BenchContext {
  /** lines per generated log (1,000,000 by default) */
  lines: number;
  smoke: boolean;
  /** timed runs per measurement; the best is kept */
  repeat: number;
  /** scratch directory for this scenario, removed afterwards */
  tmpDir: string;
  /** epoch seconds the generated logs end at (now), so bans in them are still active */
  endTime: number;
  log(message: string): void;
}

export type MetricValue = number | string | boolean | null;

export interface TargetCheck {
  name: string;
  /** measured value, null when it could not be measured */
  value: number | null;
  unit: string;
  /** human-readable goal, e.g. ">= 0.5x grep" */
  goal: string;
  /** null: not measured in this run */
  pass: boolean | null;
}

export interface CorrectnessCheck {
  name: string;
  expected: number | string;
  actual: number | string;
  pass: boolean;
}

export interface RateBar {
  label: string;
  linesPerSec: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  status: 'ok' | 'skipped' | 'error';
  /** why skipped, or the error */
  reason?: string;
  seconds: number;
  metrics: Record<string, MetricValue>;
  targets: TargetCheck[];
  checks: CorrectnessCheck[];
  notes: string[];
  /** throughput bars for the chart (lines/s or changes/s) */
  rates: RateBar[];
  rateUnit?: string;
}

export type ScenarioOutcome = Omit<ScenarioResult, 'id' | 'title' | 'status' | 'seconds' | 'reason'>;

export interface Scenario {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioOutcome>;
}

/** Thrown by a scenario whose requirements (root, nft, a daemon command) are missing. */
export class SkipScenario extends Error {
  override readonly name = 'SkipScenario';
}

export function emptyOutcome(): ScenarioOutcome {
  return { metrics: {}, targets: [], checks: [], notes: [], rates: [] };
}

export function target(name: string, value: number | null, unit: string, goal: string,
  ok: (v: number) => boolean): TargetCheck {
  return { name, value, unit, goal, pass: value === null || !Number.isFinite(value) ? null : ok(value) };
}

export function check(name: string, expected: number | string, actual: number | string): CorrectnessCheck {
  return { name, expected, actual, pass: expected === actual };
}
