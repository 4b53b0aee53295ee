/**
 * Per-player rate limits: a token bucket per key, refilled lazily. The same module serves the Lambda handlers
 * (one bucket set per warm container; API Gateway's stage throttling is the global guard there) and the local
 * gateway. Memory is bounded: the least recently used keys are forgotten first, and a forgotten key simply
 * starts again with a full bucket.
 */
export interface RateLimitOptions {
  /** Tokens (events) added per second. */
  readonly ratePerSecond: number;
  /** Bucket size: how many events a player may send at once after being quiet. */
  readonly burst: number;
  /** Keys remembered at most. Default 100 000. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

export interface RateLimiter {
  /** Takes `cost` tokens from `key`'s bucket, or none at all when there are not enough. */
  take(key: string, cost: number): RateDecision;
}

export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const { ratePerSecond, burst } = options;
  if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError('a rate limit needs ratePerSecond > 0 and burst ≥ 1');
  const maxKeys = options.maxKeys ?? 100_000;
  const now = options.now ?? Date.now;
  // Insertion order is recency order: a key is deleted and set again on each use.
  const buckets = new Map<string, { tokens: number; at: number }>();

  return {
    take(key, cost) {
      const time = now();
      const bucket = buckets.get(key) ?? { tokens: burst, at: time };
      buckets.delete(key);
      bucket.tokens = Math.min(burst, bucket.tokens + ((time - bucket.at) / 1000) * ratePerSecond);
      bucket.at = time;
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!);
      // A request bigger than the whole bucket passes when the bucket is full (and leaves it in debt), so a
      // small burst setting can never refuse a batch for ever.
      if (cost <= bucket.tokens || bucket.tokens >= burst) {
        bucket.tokens -= cost;
        return { allowed: true };
      }
      const missing = Math.min(cost, burst) - bucket.tokens;
      return { allowed: false, retryAfterMs: Math.max(1, Math.ceil((missing / ratePerSecond) * 1000)) };
    },
  };
}
