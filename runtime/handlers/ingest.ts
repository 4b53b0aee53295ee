import type { RecordSink } from '../adapters/sink.ts';
import type { Source } from '../core/event.ts';
import { RateLimitedError, StreamUnavailableError } from '../core/errors.ts';
import type { HubRecord } from '../core/hub-record.ts';
import type { RejectedEvent } from '../core/intake.ts';
import { acceptAndPack } from '../core/intake.ts';
import type { RateLimiter } from '../core/rate-limiter.ts';
import { formatEpochMs } from '../core/timestamp.ts';

export interface IngestResult {
  readonly accepted: number;
  readonly rejected: RejectedEvent[];
}

/**
 * The intake path both REST and WebSocket share: rate limit → validate → enrich → pack → sink. It resolves only when every
 * accepted event is durable in the hub stream; otherwise it throws StreamUnavailableError and nothing is
 * acknowledged (records that did land are harmless: the client re-sends and the dedup rule stores them once).
 *
 * Not an async function on purpose: the work runs before it returns, and only the packed records and the counts
 * are kept while the commit is awaited. The parsed events become garbage at once instead of surviving (with
 * thousands of events in flight) into the old generation, which the collector then has to sweep.
 */
export function ingestEvents(
  events: readonly unknown[],
  context: { playerId: string; source: Source; now: number },
  sink: RecordSink,
  rateLimiter?: RateLimiter,
): Promise<IngestResult> {
  try {
    // Every event sent counts, valid or not: the limit is about load, and nothing of a refused request is stored.
    const decision = rateLimiter?.take(context.playerId, events.length);
    if (decision && !decision.allowed) throw new RateLimitedError(decision.retryAfterMs);
    const { records, accepted, rejected } = acceptAndPack(events, {
      playerId: context.playerId,
      source: context.source,
      receivedAt: formatEpochMs(context.now),
    });
    return commit(records, { accepted, rejected }, sink);
  } catch (error) {
    return Promise.reject(error);
  }
}

async function commit(records: readonly HubRecord[], result: IngestResult, sink: RecordSink): Promise<IngestResult> {
  if (records.length > 0) {
    let failed: readonly { code: string; message: string }[];
    try {
      ({ failed } = await sink.putRecords(records));
    } catch (error) {
      throw new StreamUnavailableError(undefined, { cause: error });
    }
    if (failed.length > 0) throw new StreamUnavailableError(undefined, { cause: failed[0] });
  }
  return result;
}
