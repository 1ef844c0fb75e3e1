// Piscina worker: builds each group once per configuration version (from the plans of the
// main thread's compile), then matches chunks.
import { Piscina } from 'piscina';
import { filterFromPlan, type FilterPlan } from './compile.js';
import { warmDefaultTemplates } from './dates.js';
import { scanAddon } from './scanner.js';
import { CompiledGroup, DEFAULT_MAX_LINE_LENGTH, type MatchState } from './chunk.js';
import type { WireResult } from './wire.js';

export interface MatchTask {
  version: number;
  groupId: number;
  /** the group's filters as the main thread compiled them; built only when this worker has not
   * seen (version, groupId) */
  filters: FilterPlan[];
  chunk: ArrayBuffer;
  byteOffset: number;
  byteLength: number;
  arrival: number;
  state?: MatchState;
  maxLineLength?: number;
  /** send `chunk` back with the result, for the main thread to read into again */
  giveBack?: boolean;
  /** leave connection-cache steps to the main thread (merge.ts) */
  deferMerge?: boolean;
  /** only compile the group (MatcherPool.setGroups warms the workers up before the first
   * chunk arrives); `chunk` is empty and nothing is returned */
  warmOnly?: boolean;
}

const compiled = new Map<number, { version: number; group: CompiledGroup }>();

warmDefaultTemplates();
// the native literal scan, loaded now rather than by the first chunk's scanner (3-4 ms)
scanAddon();

export default function matchChunk(task: MatchTask): WireResult | ReturnType<typeof Piscina.move> | null {
  let entry = compiled.get(task.groupId);
  if (!entry || entry.version !== task.version) {
    entry = { version: task.version, group: new CompiledGroup(task.filters.map(filterFromPlan)) };
    compiled.set(task.groupId, entry);
  }
  if (task.warmOnly) return null;
  const buf = Buffer.from(task.chunk, task.byteOffset, task.byteLength);
  const out = entry.group.processToWire(buf, task.arrival, task.state, {
    maxLineLength: task.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH, deferMerge: task.deferMerge,
  });
  const transfer: ArrayBuffer[] = [out.evMeta.buffer as ArrayBuffer, out.evLine.buffer as ArrayBuffer, out.evTime.buffer as ArrayBuffer];
  if (out.deferred) {
    const d = out.deferred;
    transfer.push(d.line.buffer as ArrayBuffer, d.meta.buffer as ArrayBuffer, d.time.buffer as ArrayBuffer, d.groups.buffer as ArrayBuffer);
  }
  if (task.giveBack) {
    out.chunk = task.chunk;
    transfer.push(task.chunk);
  }
  // piscina's symbols are typed as plain `symbol`, so the object cannot be typed as its Transferable
  const movable = { [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: out };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]);
}
