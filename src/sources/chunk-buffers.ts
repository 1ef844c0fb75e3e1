// Read buffers for log chunks, recycled. A chunk's memory travels to a matcher worker and back
// (transferred both ways, never copied); when it returns, the next read reuses it. Without
// this, replay allocated a fresh 4 MiB buffer per read plus a copy per chunk and left them to
// the garbage collector, and the process's RSS grew with the size of the file read.

/** ArrayBuffers that belong to exactly one chunk at a time: safe to transfer whole. */
const owned = new WeakSet<ArrayBuffer>();
const free: ArrayBuffer[] = [];
/** buffers kept for reuse; more than in-flight chunks + one being read is never needed */
const MAX_FREE = 8;
/** smaller buffers are not worth keeping (a followed log's reads are mostly small) */
const MIN_RECYCLED = 1 << 20;

/** A Buffer of `size` bytes over memory nobody else uses, preferably a recycled one of at
 * least `size` bytes. `capacity` is the size to allocate when none fits (>= size). */
export function takeChunkBuffer(size: number, capacity = size): Buffer {
  for (let i = free.length - 1; i >= 0; i--) {
    const ab = free[i]!;
    if (ab.byteLength < size) continue;
    free[i] = free[free.length - 1]!;
    free.pop();
    return Buffer.from(ab, 0, size);
  }
  const ab = new ArrayBuffer(Math.max(size, capacity));
  owned.add(ab);
  return Buffer.from(ab, 0, size);
}

/** True when `ab` came from takeChunkBuffer: the whole of it may be transferred. */
export function isChunkBuffer(ab: ArrayBufferLike): ab is ArrayBuffer {
  return ab instanceof ArrayBuffer && owned.has(ab);
}

/** Give back memory that came from takeChunkBuffer (after a round trip through a worker). */
export function recycleChunkBuffer(ab: ArrayBuffer): void {
  owned.add(ab);
  if (ab.byteLength >= MIN_RECYCLED && free.length < MAX_FREE) free.push(ab);
}
