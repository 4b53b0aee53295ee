/** The run's counters; players update them, the progress bar and the summary read them. */
export class Stats {
  /** Events generated (and batched). */
  generated = 0;
  /** Events sent at least once. */
  sent = 0;
  /** Events the server accepted. */
  acked = 0;
  /** Events the server rejected (by validation, or a whole batch refused for good). */
  rejected = 0;
  readonly rejectedByCode = new Map<string, number>();
  /** Batches sent again: after a reconnect, a retryable error frame, or a failed REST request. */
  resentBatches = 0;
  reconnects = 0;
  /** Retryable errors from the server (`rate_limited`, `stream_unavailable`, 429, 5xx). */
  retryableErrors = 0;
  /** Batch ack latency: first send of a batch to its ack. */
  readonly ackLatency = new LatencySample();

  reject(code: string, count = 1): void {
    this.rejected += count;
    this.rejectedByCode.set(code, (this.rejectedByCode.get(code) ?? 0) + count);
  }
}

/**
 * Latency samples in a fixed-size reservoir (Vitter's algorithm R): exact percentiles up to `capacity`
 * samples, a uniform sample beyond, so a run "until interrupted" does not grow memory for ever.
 */
export class LatencySample {
  private readonly values: Float64Array;
  private seen = 0;

  constructor(capacity = 100_000) {
    this.values = new Float64Array(capacity);
  }

  get count(): number {
    return this.seen;
  }

  add(ms: number): void {
    const capacity = this.values.length;
    if (this.seen < capacity) this.values[this.seen] = ms;
    else {
      const slot = Math.floor(Math.random() * (this.seen + 1));
      if (slot < capacity) this.values[slot] = ms;
    }
    this.seen++;
  }

  /** Percentiles (0–100) by nearest rank; 0 for each when there are no samples. */
  percentiles(...ps: number[]): number[] {
    const n = Math.min(this.seen, this.values.length);
    const sorted = this.values.slice(0, n).sort();
    return ps.map((p) => percentile(sorted, p));
  }
}

/** Nearest-rank percentile of sorted values; 0 when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
