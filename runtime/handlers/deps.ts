import type { RecordSink } from '../adapters/sink.ts';
import type { RateLimiter } from '../core/rate-limiter.ts';

/** What a handler needs from the outside world; the local gateway and the Lambda entry points each supply it. */
export interface HandlerDeps {
  readonly verifier: TokenVerifier;
  readonly sink: RecordSink;
  /** Per-player limit on events; none when absent. */
  readonly rateLimiter?: RateLimiter;
  /** Server clock, milliseconds since the epoch (received_at). */
  readonly now?: () => number;
  /** Where unexpected failures are reported (the client only sees a stable code). */
  readonly logError?: (message: string, error: unknown) => void;
}

export interface TokenVerifier {
  /** Resolves with the verified player, or rejects with an UnauthorizedError. */
  verify(token: string): Promise<{ readonly playerId: string; readonly scope: string }>;
}

export function defaultLogError(message: string, error: unknown): void {
  console.error(JSON.stringify({ level: 'error', message, error: error instanceof Error ? error.stack : error }));
}
