import { WebSocket, type RawData } from 'ws';
import { LIMITS } from '../../runtime/core/limits.ts';
import { backoffDelay, sleep } from '../telemetry-client/backoff.ts';
import { type Batch, BatchBuilder, wsPutRecordsFrame } from './batches.ts';
import { EventGenerator } from './events.ts';
import { type GuestSession, IdentityError } from '../telemetry-client/identity.ts';
import { backendUrlFor } from './options.ts';
import { ChangeSignal, GiveUpError, type Player, type PlayerContext } from './player.ts';

/** Error codes after which the same batch is sent again later; any other error refuses the batch for good. */
const RETRYABLE_CODES = new Set(['rate_limited', 'stream_unavailable']);

const PING_FRAME = '{"action":"ping"}';

/** A batch kept until its ack. */
interface Unacked {
  readonly batch: Batch;
  /** `performance.now()` of the first send; 0 = not sent yet. */
  firstSentAt: number;
  /** `performance.now()` of the latest send on the current connection; 0 = not sent on it. */
  lastSentAt: number;
  /** Pending re-send after a retryable error frame. */
  retryTimer: NodeJS.Timeout | undefined;
  retryAttempt: number;
  /** Start of the current run of retryable errors; 0 = none. */
  failingSince: number;
}

/** The upgrade was answered with an HTTP status instead of a switch to WebSocket. */
class UpgradeRefusedError extends Error {
  constructor(readonly status: number) {
    super(`the server refused the WebSocket upgrade with HTTP ${status}`);
  }
}

/**
 * One player over one WebSocket: keeps up to `maxInFlight` batches unacked, matches acks by batch id (they
 * may come in any order), and keeps every unacked batch until its ack. When the socket closes for any reason
 * it reconnects with backoff (renewing the token on a 401) and re-sends every unacked batch verbatim, same id
 * and same events: the server's dedup makes that safe, so delivery is at-least-once and storage exactly-once.
 */
export class WsPlayer implements Player {
  private readonly url: URL;
  private readonly builder: BatchBuilder;
  private readonly unacked = new Map<string, Unacked>();
  private readonly change = new ChangeSignal();
  private readonly stopper = new AbortController();
  private socket: WebSocket | undefined;
  private connecting: WebSocket | undefined;
  private endConnection: (() => void) | undefined;
  private connections = 0;
  /** Whether the current connection received anything: a socket that closes without progress counts as a failure. */
  private progressed = false;
  private lastSendAt = 0;
  private pingSentAt = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private fatal: Error | undefined;

  constructor(
    private readonly ctx: PlayerContext,
    private readonly session: GuestSession,
  ) {
    this.url = backendUrlFor('ws', ctx.options.backendEndpoint);
    this.builder = new BatchBuilder({
      generator: new EventGenerator(ctx.runId, ctx.index),
      idPrefix: `${ctx.runId}-${ctx.index}`,
      maxEvents: ctx.options.batch,
      maxBytes: ctx.tuning.maxPayloadBytes ?? LIMITS.wsMessageMaxBytes,
      format: wsPutRecordsFrame,
    });
  }

  unackedEvents(): number {
    let count = 0;
    for (const entry of this.unacked.values()) count += entry.batch.events.length;
    return count;
  }

  async run(): Promise<void> {
    const onAbort = (): void => this.halt();
    if (this.ctx.abort.aborted) return;
    this.ctx.abort.addEventListener('abort', onAbort, { once: true });
    const { pingIntervalMs, pongTimeoutMs, ackTimeoutMs } = this.ctx.tuning;
    const tick = Math.max(10, Math.min(pingIntervalMs, pongTimeoutMs, ackTimeoutMs) / 4);
    this.pingTimer = setInterval(() => this.checkLiveness(), tick);
    const connection = this.keepConnected().catch((err: unknown) => this.fail(err));
    try {
      // Generate nothing before the first connection: a wrong URL then fails with nothing left unacked.
      while (this.connections === 0 && !this.halted) await this.change.changed();
      await this.produce();
      while (this.unacked.size > 0 && !this.halted) await this.change.changed();
    } finally {
      this.halt();
      await connection;
      this.ctx.abort.removeEventListener('abort', onAbort);
    }
    if (this.fatal) throw this.fatal;
  }

  private get halted(): boolean {
    return this.stopper.signal.aborted;
  }

  /** Generates batches while the quota allows and the window has room; sends them when connected. */
  private async produce(): Promise<void> {
    const { quota, stats, options, onBatch } = this.ctx;
    while (!this.halted) {
      while (this.unacked.size >= options.maxInFlight && !this.halted) await this.change.changed();
      if (this.halted) return;
      const count = await quota.take(options.batch);
      if (count === 0) return;
      stats.generated += count;
      for (const batch of this.builder.build(count)) {
        if (onBatch) await onBatch(batch);
        const entry: Unacked = { batch, firstSentAt: 0, lastSentAt: 0, retryTimer: undefined, retryAttempt: 0, failingSince: 0 };
        this.unacked.set(batch.id, entry);
        this.send(entry);
      }
    }
  }

  /** Connects, and reconnects whenever the socket closes, until the player halts or gives up. */
  private async keepConnected(): Promise<void> {
    const { tuning, stats } = this.ctx;
    let attempt = 0;
    let failingSince = 0;
    let lastError: unknown;
    while (!this.halted) {
      let failed = false;
      try {
        const { closed } = await this.connect();
        if (this.connections > 1) stats.reconnects++;
        await closed;
        if (this.halted) return;
        failed = !this.progressed;
        if (failed) lastError = new Error('the server closed the connection before answering anything');
      } catch (err) {
        if (this.halted) return;
        failed = true;
        lastError = err;
        if (this.connections === 0) {
          // At startup a failure almost always means a wrong URL or no server: say so now, not in a minute.
          const refused = err instanceof IdentityError && err.code === 'rejected';
          if (refused || attempt + 1 >= tuning.startupAttempts) throw this.giveUp(err);
        }
        if (err instanceof UpgradeRefusedError && err.status === 401) {
          // The token was refused (expired, or the server restarted with new keys): refresh, else log in again.
          await this.session.renew().catch((renewError: unknown) => {
            lastError = renewError;
          });
        }
      }
      if (failed) {
        failingSince ||= Date.now();
        if (Date.now() - failingSince >= tuning.giveUpAfterMs) throw this.giveUp(lastError);
        attempt++;
      } else {
        attempt = 0;
        failingSince = 0;
      }
      await sleep(backoffDelay(attempt, tuning.backoffBaseMs, tuning.backoffMaxMs), this.stopper.signal);
    }
  }

  /** Opens a socket; resolves once it is open, with a promise of its closing (wrapped: a returned promise would be awaited). */
  private async connect(): Promise<{ closed: Promise<void> }> {
    const token = await this.session.token();
    if (this.halted) throw new Error('halted');
    const url = new URL(this.url);
    url.searchParams.set('auth_token', token);
    // No permessage-deflate: JSON events compress well, but at benchmark rates the CPU matters more.
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: this.ctx.tuning.requestTimeoutMs });
    this.connecting = ws;
    await new Promise<void>((resolve, reject) => {
      let refusedWith = 0;
      ws.once('unexpected-response', (_request, response) => {
        refusedWith = response.statusCode ?? 0;
        response.resume();
        ws.terminate();
      });
      ws.once('open', resolve);
      ws.once('error', (err) => reject(refusedWith > 0 ? new UpgradeRefusedError(refusedWith) : err));
    }).finally(() => {
      this.connecting = undefined;
    });

    const closed = new Promise<void>((resolve) => {
      this.endConnection = resolve;
      ws.on('error', () => {
        // 'close' follows and triggers the reconnect; nothing to add here.
      });
      ws.once('close', () => {
        if (this.socket === ws) this.socket = undefined;
        this.change.notify();
        resolve();
      });
    });
    ws.on('message', (data) => this.onMessage(data));
    this.socket = ws;
    this.connections++;
    this.change.notify();
    this.progressed = false;
    this.pingSentAt = 0;
    this.lastSendAt = performance.now();
    for (const entry of this.unacked.values()) entry.lastSentAt = 0;
    // Re-send everything unacked, oldest first; batches waiting out a retry delay keep waiting.
    for (const entry of this.unacked.values()) {
      if (entry.retryTimer === undefined) this.send(entry);
    }
    return { closed };
  }

  private send(entry: Unacked): void {
    const ws = this.socket;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return; // goes out after the next connect
    const { stats } = this.ctx;
    if (entry.firstSentAt === 0) {
      entry.firstSentAt = performance.now();
      stats.sent += entry.batch.events.length;
    } else {
      stats.resentBatches++;
    }
    ws.send(entry.batch.payload);
    this.lastSendAt = entry.lastSentAt = performance.now();
  }

  private onMessage(data: RawData): void {
    let message: unknown;
    try {
      message = JSON.parse(data.toString());
    } catch {
      return; // not ours to interpret; the socket stays useful
    }
    this.progressed = true;
    this.pingSentAt = 0;
    if (message === null || typeof message !== 'object') return;
    const frame = message as { type?: unknown; id?: unknown };
    if (frame.type === 'ack') this.onAck(frame as AckFrame);
    else if (frame.type === 'error') this.onErrorFrame(frame as ErrorFrame);
  }

  private onAck(ack: AckFrame): void {
    const entry = typeof ack.id === 'string' ? this.unacked.get(ack.id) : undefined;
    if (!entry) return; // an ack for a batch already acked (a re-send) counts once
    const { stats } = this.ctx;
    const rejected = Array.isArray(ack.rejected) ? ack.rejected : [];
    for (const item of rejected) stats.reject(typeof item?.error === 'string' ? item.error : 'unknown');
    stats.acked += typeof ack.accepted === 'number' ? ack.accepted : entry.batch.events.length - rejected.length;
    stats.ackLatency.add(performance.now() - entry.firstSentAt);
    this.forget(entry);
  }

  private onErrorFrame(frame: ErrorFrame): void {
    const entry = typeof frame.id === 'string' ? this.unacked.get(frame.id) : undefined;
    if (!entry) return; // an error about no batch of ours (e.g. a ping the server did not like)
    const code = typeof frame.error === 'string' ? frame.error : 'unknown';
    const { stats, tuning } = this.ctx;
    if (!RETRYABLE_CODES.has(code)) {
      // The server refused the whole batch for good (too large, malformed…): re-sending cannot help.
      stats.reject(code, entry.batch.events.length);
      this.forget(entry);
      return;
    }
    stats.retryableErrors++;
    entry.lastSentAt = 0; // answered: not a candidate for the ack timeout while it waits to be re-sent
    entry.failingSince ||= Date.now();
    if (Date.now() - entry.failingSince >= tuning.giveUpAfterMs) {
      this.fail(new GiveUpError(`The server kept answering "${code}" to batch ${entry.batch.id} for ${Math.round(tuning.giveUpAfterMs / 1000)} s: ${String(frame.message ?? '')}`));
      return;
    }
    const delay = backoffDelay(entry.retryAttempt++, tuning.backoffBaseMs, tuning.backoffMaxMs);
    clearTimeout(entry.retryTimer);
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined;
      if (this.unacked.get(entry.batch.id) === entry) this.send(entry);
    }, delay);
  }

  private forget(entry: Unacked): void {
    clearTimeout(entry.retryTimer);
    this.unacked.delete(entry.batch.id);
    this.change.notify();
  }

  /**
   * Pings an idle socket (idle sockets are closed after 10 min) and replaces one that looks dead: its ping
   * went unanswered, or a batch sent on it was never answered. The reconnect re-sends what is unacked.
   */
  private checkLiveness(): void {
    const ws = this.socket;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return;
    const now = performance.now();
    const { pingIntervalMs, pongTimeoutMs, ackTimeoutMs } = this.ctx.tuning;
    if (this.pingSentAt > 0 && now - this.pingSentAt >= pongTimeoutMs) {
      ws.terminate();
      return;
    }
    for (const entry of this.unacked.values()) {
      if (entry.lastSentAt > 0 && now - entry.lastSentAt >= ackTimeoutMs) {
        ws.terminate();
        return;
      }
    }
    if (this.pingSentAt > 0) return;
    if (now - this.lastSendAt >= pingIntervalMs) {
      ws.send(PING_FRAME);
      this.pingSentAt = now;
      this.lastSendAt = now;
    }
  }

  private giveUp(lastError: unknown): GiveUpError {
    // Identity errors already name their URL and what to check.
    if (lastError instanceof IdentityError) return new GiveUpError(lastError.message);
    const what = this.connections === 0 ? 'Cannot connect to' : 'Lost the connection to';
    const reason = lastError instanceof Error ? lastError.message : String(lastError);
    return new GiveUpError(
      `${what} ${this.url.href} (player ${this.ctx.index}): ${reason}. ` +
        'Is the server running (`npm start`), and is --backend-endpoint right?',
    );
  }

  private fail(err: unknown): void {
    this.fatal ??= err instanceof Error ? err : new Error(String(err));
    this.halt();
  }

  /** Stops everything now: no more sends, retries or reconnects; unacked batches stay counted as unacked. */
  private halt(): void {
    if (this.halted) return;
    this.stopper.abort();
    clearInterval(this.pingTimer);
    for (const entry of this.unacked.values()) clearTimeout(entry.retryTimer);
    this.connecting?.terminate();
    const ws = this.socket;
    if (ws) {
      ws.close(1000, 'done');
      // Do not wait up to ws's 30 s close timeout for a server that does not answer the close.
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    this.endConnection?.();
    this.change.notify();
  }
}

interface AckFrame {
  readonly id?: unknown;
  readonly accepted?: unknown;
  readonly rejected?: readonly ({ error?: unknown } | null)[];
}

interface ErrorFrame {
  readonly id?: unknown;
  readonly error?: unknown;
  readonly message?: unknown;
}
