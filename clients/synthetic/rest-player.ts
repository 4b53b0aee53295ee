import { LIMITS } from '../../runtime/core/limits.ts';
import { backoffDelay, sleep } from '../telemetry-client/backoff.ts';
import { type Batch, BatchBuilder, restPutRecordBody, restPutRecordsBody } from './batches.ts';
import { EventGenerator } from './events.ts';
import { type GuestSession, IdentityError, describeFetchError } from '../telemetry-client/identity.ts';
import { backendUrlFor } from './options.ts';
import { GiveUpError, type Player, type PlayerContext } from './player.ts';

/** Statuses worth retrying: throttled, timed out, or the server/stream failing. 400, 413… never are. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/**
 * One player over REST: up to `maxInFlight` concurrent requests, `POST put-records` per batch, or
 * `POST put-record` per event with `--batch 1` (the original API's single-event form). Retries throttling,
 * server errors and network failures with backoff (honouring `Retry-After`) and the same body; the server's
 * dedup makes a re-send of a request that did succeed harmless.
 */
export class RestPlayer implements Player {
  private readonly url: URL;
  private readonly single: boolean;
  private readonly builder: BatchBuilder;
  private readonly stopper = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private unacked = 0;
  private fatal: Error | undefined;

  constructor(
    private readonly ctx: PlayerContext,
    private readonly session: GuestSession,
  ) {
    this.single = ctx.options.batch === 1;
    this.url = new URL(this.single ? 'put-record' : 'put-records', backendUrlFor('rest', ctx.options.backendEndpoint));
    this.builder = new BatchBuilder({
      generator: new EventGenerator(ctx.runId, ctx.index),
      idPrefix: `${ctx.runId}-${ctx.index}`,
      maxEvents: ctx.options.batch,
      maxBytes: ctx.tuning.maxPayloadBytes ?? LIMITS.restBodyMaxBytes,
      format: this.single ? restPutRecordBody : restPutRecordsBody,
    });
  }

  unackedEvents(): number {
    return this.unacked;
  }

  async run(): Promise<void> {
    const onAbort = (): void => this.halt();
    if (this.ctx.abort.aborted) return;
    this.ctx.abort.addEventListener('abort', onAbort, { once: true });
    try {
      await this.logIn();
      await this.produce();
      await Promise.all(this.running);
    } finally {
      this.halt();
      this.ctx.abort.removeEventListener('abort', onAbort);
    }
    if (this.fatal) throw this.fatal;
  }

  private get halted(): boolean {
    return this.stopper.signal.aborted;
  }

  /** Logs in before generating anything, so that a wrong URL or a missing server fails fast and clearly. */
  private async logIn(): Promise<void> {
    const { tuning } = this.ctx;
    for (let attempt = 1; !this.halted; attempt++) {
      try {
        await this.session.token();
        return;
      } catch (err) {
        const refused = err instanceof IdentityError && err.code === 'rejected';
        if (refused || attempt >= tuning.startupAttempts) throw new GiveUpError(err instanceof Error ? err.message : String(err));
      }
      await sleep(backoffDelay(attempt - 1, tuning.backoffBaseMs, tuning.backoffMaxMs), this.stopper.signal);
    }
  }

  private async produce(): Promise<void> {
    const { quota, stats, options, onBatch } = this.ctx;
    while (!this.halted) {
      while (this.running.size >= options.maxInFlight && !this.halted) await Promise.race(this.running);
      if (this.halted) return;
      const count = await quota.take(options.batch);
      if (count === 0) return;
      stats.generated += count;
      for (const batch of this.builder.build(count)) {
        if (onBatch) await onBatch(batch);
        this.unacked += batch.events.length;
        const delivery = this.deliver(batch)
          .catch((err: unknown) => this.fail(err))
          .finally(() => this.running.delete(delivery));
        this.running.add(delivery);
      }
    }
  }

  /** Sends one batch until the server accepts or refuses it; retries everything else. */
  private async deliver(batch: Batch): Promise<void> {
    const { stats, tuning } = this.ctx;
    const events = batch.events.length;
    let firstSentAt = 0;
    let attempt = 0;
    let failingSince = 0;
    let renewed = false;
    while (!this.halted) {
      let delayMs: number | undefined;
      let problem: string;
      try {
        const token = await this.session.token();
        if (firstSentAt === 0) {
          firstSentAt = performance.now();
          stats.sent += events;
        } else {
          stats.resentBatches++;
        }
        const response = await fetch(this.url, {
          method: 'POST',
          // The original clients send the raw token, without "Bearer".
          headers: { 'content-type': 'application/json', authorization: token },
          body: batch.payload,
          signal: AbortSignal.any([this.stopper.signal, AbortSignal.timeout(tuning.requestTimeoutMs)]),
        });
        const text = await response.text();
        if (response.ok) {
          this.recordSuccess(batch, text);
          stats.ackLatency.add(performance.now() - firstSentAt);
          this.unacked -= events;
          return;
        }
        if (response.status === 401) {
          if (renewed) {
            throw new GiveUpError(
              `POST ${this.url.href} refused a freshly issued token (HTTP 401). ` +
                'Do --login-endpoint and --backend-endpoint belong to the same server?',
            );
          }
          // Expired, or the server restarted with new keys: refresh (or log in again) and retry at once.
          renewed = true;
          await this.session.renew();
          continue;
        }
        if (!RETRYABLE_STATUSES.has(response.status)) {
          // Refused for good (invalid, too large…): re-sending the same request cannot succeed.
          stats.reject(errorCode(text) ?? (response.status === 413 ? 'too_large' : `http_${response.status}`), events);
          this.unacked -= events;
          return;
        }
        stats.retryableErrors++;
        problem = `HTTP ${response.status} ${text.slice(0, 200)}`;
        delayMs = retryAfterMs(response.headers.get('retry-after'));
        if (delayMs !== undefined) delayMs = Math.min(delayMs, tuning.retryAfterMaxMs);
      } catch (err) {
        if (this.halted) return;
        if (err instanceof GiveUpError) throw err;
        problem = err instanceof IdentityError ? err.message : describeFetchError(err);
      }
      failingSince ||= Date.now();
      if (Date.now() - failingSince >= tuning.giveUpAfterMs) {
        throw new GiveUpError(
          `POST ${this.url.href} kept failing for ${Math.round(tuning.giveUpAfterMs / 1000)} s (player ${this.ctx.index}): ${problem}. ` +
            'Is the server running (`npm start`), and is --backend-endpoint right?',
        );
      }
      await sleep(delayMs ?? backoffDelay(attempt++, tuning.backoffBaseMs, tuning.backoffMaxMs), this.stopper.signal);
    }
  }

  private recordSuccess(batch: Batch, text: string): void {
    const { stats } = this.ctx;
    if (this.single) {
      stats.acked += 1; // the body is the JSON string "Successfully added event"
      return;
    }
    let body: { accepted?: unknown; rejected?: unknown } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // a 200 is a success even if its body is not what we expect
    }
    const rejected = Array.isArray(body.rejected) ? (body.rejected as ({ error?: unknown } | null)[]) : [];
    for (const item of rejected) stats.reject(typeof item?.error === 'string' ? item.error : 'unknown');
    stats.acked += typeof body.accepted === 'number' ? body.accepted : batch.events.length - rejected.length;
  }

  private fail(err: unknown): void {
    this.fatal ??= err instanceof Error ? err : new Error(String(err));
    this.halt();
  }

  private halt(): void {
    this.stopper.abort();
  }
}

/** The `error` code of a 4xx body `{"error": code, "message", "field"}`, if there is one. */
function errorCode(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    return typeof body?.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
