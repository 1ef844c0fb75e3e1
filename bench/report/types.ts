// One run of the harness, as written to results.json.
import type { ScenarioResult } from '../scenario.js';

export interface BenchEnvironment {
  node: string;
  kernel: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** 1-minute load average when the run started: a hint of how shared the machine was */
  loadAverage: number;
  tools: Record<string, string>;
}

export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  command: string;
  options: { lines: number; smoke: boolean; repeat: number; scenarios: string[] };
  environment: BenchEnvironment;
  scenarios: ScenarioResult[];
}
