// Piscina worker: compiles each group once per configuration version, then matches chunks.
import type { FilterDef } from '../types.js';
import { compileFilter } from './compile.js';
import { CompiledGroup, DEFAULT_MAX_LINE_LENGTH, type ChunkResult, type MatchState } from './chunk.js';

export interface MatchTask {
  version: number;
  groupId: number;
  /** the group's filters; compiled only when this worker has not seen (version, groupId) */
  filters: FilterDef[];
  chunk: ArrayBuffer;
  byteOffset: number;
  byteLength: number;
  arrival: number;
  state?: MatchState;
  maxLineLength?: number;
}

const compiled = new Map<number, { version: number; group: CompiledGroup }>();

export default function matchChunk(task: MatchTask): ChunkResult {
  let entry = compiled.get(task.groupId);
  if (!entry || entry.version !== task.version) {
    entry = { version: task.version, group: new CompiledGroup(task.filters.map((d) => compileFilter(d))) };
    compiled.set(task.groupId, entry);
  }
  const buf = Buffer.from(task.chunk, task.byteOffset, task.byteLength);
  return entry.group.process(buf, task.arrival, task.state, { maxLineLength: task.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH });
}
