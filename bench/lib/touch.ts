/** Reading every byte of an object, the same way in every workload. */

let sink = 0;

/**
 * Sum the bytes as float64 (8-byte aligned views; objects are 64-byte aligned): every byte is
 * loaded once. Four accumulators let V8 keep several loads in flight.
 */
export function touchAll(bytes: Uint8Array): number {
  const f = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3);
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const n = f.length & ~3;
  let i = 0;
  for (; i < n; i += 4) {
    a += f[i]!;
    b += f[i + 1]!;
    c += f[i + 2]!;
    d += f[i + 3]!;
  }
  for (; i < f.length; i++) a += f[i]!;
  for (let j = f.length << 3; j < bytes.byteLength; j++) a += bytes[j]!;
  const total = a + b + c + d;
  sink += total === total ? 0 : 1; // keep the result observable (NaN from random bits is fine)
  return total;
}

/** Keeps `sink` alive for the optimizer. */
export function touchSink(): number {
  return sink;
}

/** Random bytes: crypto-random, generated once per run and sliced for every object. */
export function randomSource(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let at = 0; at < bytes; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(bytes, at + 65536)));
  return out;
}

/** A different (8-aligned) slice of the source for the i-th object. */
export function sliceOf(source: Uint8Array, i: number, size: number): Uint8Array {
  const room = source.byteLength - size;
  const start = room > 0 ? ((i * 4096) % room) & ~7 : 0;
  return source.subarray(start, start + size);
}
