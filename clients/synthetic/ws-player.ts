import { LIMITS } from '../../runtime/core/limits.ts';
import type { TelemetryClient } from '../telemetry-client/client.ts';
import { type GuestSession, IdentityError } from '../telemetry-client/identity.ts';
import { startNodeClient } from '../telemetry-client/node.ts';
import type { TelemetryEvent } from '../telemetry-client/protocol.ts';
import { wsPutRecordsFrame } from './batches.ts';
import { EventGenerator } from './events.ts';
import { backendUrlFor } from './options.ts';
import { ChangeSignal, GiveUpError, type Player, type PlayerContext } from './player.ts';

/**
 * One player over one WebSocket, through the client library: the library batches, keeps every batch until its
 * ack, reconnects with backoff and a fresh token, and re-sends unacked batches verbatim (same id, same events).
 * This class adds what a load generator needs and a game does not: a quota and rate, counters for the summary,
 * and giving up (a game keeps trying; a CLI run must end and say why).
 */
export class WsPlayer implements Player {
  private readonly url: URL;
  private readonly generator: EventGenerator;
  private readonly change = new ChangeSignal();
  private client: TelemetryClient | undefined;
  private connections = 0;
  private lastProgressAt = Date.now();
  private lastError: unknown;
  /** When a batch first got a retryable error, while it keeps getting them. */
  private readonly retryingSince = new Map<string, number>();
  private fatal: Error | undefined;
  private halted = false;

  constructor(
    private readonly ctx: PlayerContext,
    private readonly session: GuestSession,
  ) {
    this.url = backendUrlFor('ws', ctx.options.backendEndpoint);
    this.generator = new EventGenerator(ctx.runId, ctx.index);
  }

  unackedEvents(): number {
    const stats = this.client?.stats();
    return stats ? stats.queued + stats.unacked : 0;
  }

  async run(): Promise<void> {
    const { abort, tuning } = this.ctx;
    if (abort.aborted) return;
    const client = await this.startClient();
    const onAbort = (): void => this.halt();
    abort.addEventListener('abort', onAbort, { once: true });
    const watchdog = setInterval(() => this.checkProgress(), Math.max(10, Math.min(tuning.giveUpAfterMs / 4, 1000)));
    try {
      // Generate nothing before the first connection: a wrong URL then fails with nothing left unacked.
      while (this.connections === 0 && !this.halted) await this.change.changed();
      await this.produce(client);
      if (!this.halted) void client.flush(tuning.giveUpAfterMs + tuning.drainTimeoutMs); // the last, partial batch
      while (this.unackedEvents() > 0 && !this.halted) await this.change.changed();
    } finally {
      clearInterval(watchdog);
      abort.removeEventListener('abort', onAbort);
      await client.close(0);
    }
    if (this.fatal) throw this.fatal;
  }

  private async startClient(): Promise<TelemetryClient> {
    const { options, tuning } = this.ctx;
    const client = await startNodeClient({
      endpoint: options.loginEndpoint,
      websocketEndpoint: this.url.href,
      session: this.session,
      batchMaxEvents: options.batch,
      batchMaxBytes: tuning.maxPayloadBytes ?? LIMITS.wsMessageMaxBytes,
      // Batches are cut as the quota hands out events; the interval only bounds a partial one's wait.
      flushIntervalMs: 100,
      maxInFlightBatches: options.maxInFlight,
      maxQueuedEvents: options.maxInFlight * options.batch * 2,
      pingIntervalMs: tuning.pingIntervalMs,
      pongTimeoutMs: tuning.pongTimeoutMs,
      ackTimeoutMs: tuning.ackTimeoutMs,
      backoffBaseMs: tuning.backoffBaseMs,
      backoffMaxMs: tuning.backoffMaxMs,
      requestTimeoutMs: tuning.requestTimeoutMs,
      restFallbackAfterFailures: 0,
    });
    this.client = client;
    this.observe(client);
    return client;
  }

  /** Counts what the library reports into the run's stats, and notes progress for giving up. */
  private observe(client: TelemetryClient): void {
    const { stats, onBatch } = this.ctx;
    const progressed = (): void => {
      this.lastProgressAt = Date.now();
      this.change.notify();
    };
    client.on('connected', () => {
      if (++this.connections > 1) stats.reconnects++;
      progressed();
    });
    client.on('sent', ({ batchId, events, resend }) => {
      if (resend) {
        stats.resentBatches++;
        return;
      }
      stats.sent += events.length;
      if (onBatch) {
        const eventsJson = events.map((event) => JSON.stringify(event));
        void onBatch({ id: batchId, events: eventsJson, payload: wsPutRecordsFrame(batchId, eventsJson) });
      }
    });
    client.on('ack', ({ batchId, accepted, rejected, latencyMs }) => {
      this.retryingSince.delete(batchId);
      stats.acked += accepted;
      for (const item of rejected) stats.reject(item.error);
      stats.ackLatency.add(latencyMs);
      progressed();
    });
    client.on('refused', ({ batchId, events, code }) => {
      this.retryingSince.delete(batchId);
      stats.reject(code, events.length);
      progressed();
    });
    client.on('retry', ({ batchId, code }) => {
      stats.retryableErrors++;
      const since = this.retryingSince.get(batchId) ?? Date.now();
      this.retryingSince.set(batchId, since);
      if (Date.now() - since >= this.ctx.tuning.giveUpAfterMs) {
        this.fail(new GiveUpError(`The server kept answering "${code}" to batch ${batchId} for ${Math.round(this.ctx.tuning.giveUpAfterMs / 1000)} s`));
      }
    });
    client.on('failure', ({ failures, error }) => {
      this.lastError = error;
      if (this.connections > 0) return; // the watchdog decides once it has worked
      // At startup a failure almost always means a wrong URL or no server: say so now, not in a minute.
      const refused = error instanceof IdentityError && error.code === 'rejected';
      if (refused || failures >= this.ctx.tuning.startupAttempts) this.fail(this.giveUp(error));
    });
  }

  /** Hands the quota's events to the library while its window has room. */
  private async produce(client: TelemetryClient): Promise<void> {
    const { quota, stats, options } = this.ctx;
    const room = options.maxInFlight * options.batch;
    while (!this.halted) {
      while (this.unackedEvents() >= room && !this.halted) await this.change.changed();
      if (this.halted) return;
      const count = await quota.take(options.batch);
      if (count === 0 || this.halted) return;
      stats.generated += count;
      for (let i = 0; i < count; i++) client.trackEvent(JSON.parse(this.generator.next()) as TelemetryEvent);
    }
  }

  /** Gives up when nothing has moved for the give-up time while events wait. */
  private checkProgress(): void {
    if (this.halted || this.unackedEvents() === 0) {
      this.lastProgressAt = Date.now();
      return;
    }
    if (Date.now() - this.lastProgressAt >= this.ctx.tuning.giveUpAfterMs) this.fail(this.giveUp(this.lastError));
  }

  private giveUp(lastError: unknown): GiveUpError {
    // Identity errors already name their URL and what to check.
    if (lastError instanceof IdentityError) return new GiveUpError(lastError.message);
    const what = this.connections === 0 ? 'Cannot connect to' : 'Lost the connection to';
    const reason = lastError instanceof Error ? lastError.message : lastError === undefined ? 'no answer' : String(lastError);
    return new GiveUpError(
      `${what} ${this.url.href} (player ${this.ctx.index}): ${reason}. ` +
        'Is the server running (`npm start`), and is --backend-endpoint right?',
    );
  }

  private fail(error: Error): void {
    this.fatal ??= error;
    this.halt();
  }

  private halt(): void {
    this.halted = true;
    this.change.notify();
  }
}
