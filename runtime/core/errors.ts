/**
 * Every failure the intake reports carries a stable `code`. Clients and tests match on the code; the message is
 * for people and may change. Codes map to HTTP statuses, WebSocket error frames or close codes only at the edge.
 */
export const ERROR_CODES = [
  'malformed_json',
  'invalid_request',
  'missing_field',
  'wrong_type',
  'unknown_field',
  'invalid_value',
  'invalid_timestamp',
  'too_large',
  'too_many_events',
  'unknown_action',
  'unauthorized',
  'not_found',
  'method_not_allowed',
  'rate_limited',
  'stream_unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class TelemetryError extends Error {
  override readonly name = 'TelemetryError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The hub stream could not take the records: nothing was acknowledged, the client should retry. */
export class StreamUnavailableError extends TelemetryError {
  constructor(message = 'The event stream is unavailable; retry later', options?: { cause?: unknown }) {
    super('stream_unavailable', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The player sent more than its rate limit allows: retry after `retryAfterMs`. */
export class RateLimitedError extends TelemetryError {
  constructor(readonly retryAfterMs: number) {
    super('rate_limited', `too many events: retry after ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

export class UnauthorizedError extends TelemetryError {
  constructor(message = 'Unauthorized') {
    super('unauthorized', message);
  }
}
