/**
 * Summaries of raw samples. Latencies are per object, in µs, kept per repeat so that throughput
 * is computed per repeat (bytes of the repeat / summed time of the repeat) and summarized by its
 * median: one slow repeat on a noisy machine moves the p99, not the bandwidth.
 */

/** Samples of one operation: one array of per-object µs per repeat. */
export type RepeatSamples = number[][];

export interface OpStats {
  /** Per-object samples. */
  n: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  /** Median over repeats of (object bytes in the repeat / time of the repeat); 0 without a size. */
  gbps: number;
}

/** Linear-interpolated quantile of sorted values (q in [0, 1]). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function median(values: readonly number[]): number {
  return quantileSorted([...values].sort((a, b) => a - b), 0.5);
}

/** Stats of plain samples (µs) without a byte size. */
export function summarize(samples: readonly number[]): { n: number; medianUs: number; p99Us: number; meanUs: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { n: sorted.length, medianUs: quantileSorted(sorted, 0.5), p99Us: quantileSorted(sorted, 0.99), meanUs: sum / Math.max(1, sorted.length) };
}

/** Stats of per-repeat samples of objects of `size` bytes. */
export function opStats(repeats: RepeatSamples, size: number): OpStats {
  const base = summarize(repeats.flat());
  const rates = repeats
    .filter((r) => r.length > 0)
    .map((r) => {
      const us = r.reduce((a, b) => a + b, 0);
      return us > 0 ? (r.length * size) / (us * 1e3) : 0; // bytes per ns = GB/s
    });
  return { ...base, gbps: size > 0 && rates.length > 0 ? median(rates) : 0 };
}

/** Element-wise sum of two per-repeat sample sets of the same shape (e.g. get + release). */
export function addSamples(a: RepeatSamples, b: RepeatSamples): RepeatSamples {
  return a.map((repeat, r) => repeat.map((value, i) => value + (b[r]?.[i] ?? 0)));
}

/** GB/s of moving `bytes` in `us` microseconds. */
export function gbps(bytes: number, us: number): number {
  return bytes / (us * 1e3);
}
