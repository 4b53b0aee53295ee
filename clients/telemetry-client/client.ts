import { LIMITS } from '../../runtime/core/limits.ts';
import { validateEvent } from '../../runtime/core/validate-event.ts';
import { backoffDelay, sleep } from './backoff.ts';
import { GuestSession, IdentityClient, withTrailingSlash } from './identity.ts';
import { type DropPolicy, Outbox, type PendingBatch, restBodyOf } from './outbox.ts';
import { PING_FRAME, RETRYABLE_ERRORS, type Rejection, type TelemetryEvent, parseServerFrame, toRejection } from './protocol.ts';
import { type GuestCredentials, MemoryStore, type StateStore } from './store.ts';

/** The part of the browser's WebSocket API the client uses; the `ws` package's `WebSocket` has it too. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface TelemetryClientOptions {
  /** The backend's base URL: identity, REST and WebSocket (`http://127.0.0.1:8787/` under `npm start`). */
  readonly endpoint: string;
  /** Identity base URL when it is not `endpoint` (on AWS, the game backend's identity service). */
  readonly loginEndpoint?: string;
  /** WebSocket URL when it is not `endpoint` with a ws scheme (on AWS, `wss://…/<stage>`). */
  readonly websocketEndpoint?: string;
  /** REST base URL when it is not `endpoint` (on AWS, the HTTP API's URL). */
  readonly restEndpoint?: string;
  /** Defaults to the platform's `WebSocket` (browsers); Node 20 has none: pass `ws`'s, or use `node.ts`. */
  readonly WebSocket?: WebSocketConstructor;
  /** Where undelivered events and the guest's credentials live between runs (default: memory). */
  readonly store?: StateStore;
  /** Log in as this returning guest (otherwise the one in the store, otherwise a new guest). */
  readonly guest?: GuestCredentials;
  /** A session to share (a program that logs in by itself); otherwise the client makes one from the options. */
  readonly session?: GuestSession;
  /** A batch holds at most this many events (server limit 500). */
  readonly batchMaxEvents?: number;
  /** A batch's WebSocket message stays under this many bytes (server limit 128 KiB). */
  readonly batchMaxBytes?: number;
  /** An event waits at most this long for its batch to fill. */
  readonly flushIntervalMs?: number;
  /** Batches sent and not yet acked, at most. */
  readonly maxInFlightBatches?: number;
  /** Undelivered events kept at most (queued plus in flight); past it `dropPolicy` decides. */
  readonly maxQueuedEvents?: number;
  readonly dropPolicy?: DropPolicy;
  /** Ping a quiet socket after this long (the server closes sockets idle for 10 minutes). */
  readonly pingIntervalMs?: number;
  /** A batch unanswered this long on a socket means the socket is broken: reconnect and re-send. */
  readonly ackTimeoutMs?: number;
  /** A ping unanswered this long means the socket is dead (a half-open connection): reconnect. */
  readonly pongTimeoutMs?: number;
  /** Reconnect before the server's 2-hour connection limit. */
  readonly maxConnectionAgeMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** After this many failed WebSocket connections in a row, deliver over REST until the socket is back; 0 = never. */
  readonly restFallbackAfterFailures?: number;
  /** Identity and REST request timeout, and how long a WebSocket may take to open. */
  readonly requestTimeoutMs?: number;
  /** Saves to the store at most this often. */
  readonly saveDelayMs?: number;
}

const DEFAULTS = {
  batchMaxEvents: 100,
  // Well under the 128 KiB message limit: the largest valid event (32 KiB of data) always fits with room to spare.
  batchMaxBytes: 120 * 1024,
  flushIntervalMs: 1000,
  maxInFlightBatches: 4,
  maxQueuedEvents: 10_000,
  dropPolicy: 'drop-oldest' as DropPolicy,
  pingIntervalMs: 5 * 60_000,
  ackTimeoutMs: 30_000,
  pongTimeoutMs: 30_000,
  maxConnectionAgeMs: 115 * 60_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
  restFallbackAfterFailures: 3,
  requestTimeoutMs: 10_000,
  saveDelayMs: 250,
};

type Settings = typeof DEFAULTS;

/** The event type under which a client reports, on its next connection, how many events it had to drop. */
export const DROPPED_EVENT_TYPE = 'TelemetryDropped';

/** A bad argument to the client; `code` is the server's code for the same problem where there is one. */
export class TelemetryError extends Error {
  override readonly name = 'TelemetryError';
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface AckInfo {
  readonly batchId: string;
  readonly events: readonly TelemetryEvent[];
  readonly accepted: number;
  readonly rejected: readonly Rejection[];
  /** From the batch's first send to its ack. */
  readonly latencyMs: number;
  readonly transport: 'ws' | 'rest';
}

export interface RefusedInfo {
  readonly batchId: string;
  readonly events: readonly TelemetryEvent[];
  readonly code: string;
  readonly message: string;
}

export interface ClientEvents {
  /** A batch went out; `resend` when it was sent before (after a reconnect or a retryable error). */
  sent: { readonly batchId: string; readonly events: readonly TelemetryEvent[]; readonly resend: boolean };
  /** The server asked to send a batch again later (`rate_limited`, `stream_unavailable`). */
  retry: { readonly batchId: string; readonly code: string; readonly delayMs: number };
  /** A connection attempt failed; `failures` counts the attempts in a row. */
  failure: { readonly failures: number; readonly error: unknown };
  /** A batch is stored (some events may have been rejected as invalid: `rejected`). */
  ack: AckInfo;
  /** The server refused a whole batch for good (re-sending cannot help). */
  refused: RefusedInfo;
  /** Events were dropped because the outbox was full. */
  dropped: { readonly count: number };
  connected: { readonly userId: string | undefined };
  disconnected: { readonly code: number; readonly reason: string };
  /** A problem the client works around by itself (identity unreachable, …), for logs. */
  warning: { readonly message: string };
}

export interface ClientStats {
  readonly tracked: number;
  readonly acked: number;
  readonly rejected: number;
  readonly refused: number;
  readonly dropped: number;
  readonly queued: number;
  readonly unacked: number;
  readonly connections: number;
  readonly resentBatches: number;
  readonly transport: 'ws' | 'rest' | 'offline';
}

export interface TrackOptions {
  /** Defaults to a random UUID. Re-using an id for the same event type and time stores it once. */
  readonly eventId?: string;
  /** Defaults to now. */
  readonly updatedAt?: Date | string;
}

/** The socket in use and how to end the wait for it. */
interface Connection {
  readonly ws: WebSocketLike;
  readonly openedAt: number;
  lastActivityAt: number;
  pingSentAt: number;
  finish: (outcome: ConnectionOutcome) => void;
}

type ConnectionOutcome = 'failed' | 'lost' | 'renew' | 'stopped';

/**
 * A game session's telemetry: `track()` events; the client batches them, streams them over one WebSocket, keeps
 * each batch until its ack, reconnects with backoff and a fresh token, and re-sends unacked batches with the same
 * id and events (the server's dedup stores them once). Works in browsers and Node; no dependencies.
 *
 * `M` maps event types to their data, for typed `track()` calls.
 */
export class TelemetryClient<M extends Record<string, unknown> = Record<string, unknown>> {
  private readonly settings: Settings;
  private readonly outbox: Outbox;
  private readonly session: GuestSession;
  private readonly wsUrl: URL;
  private readonly restBase: URL;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly store: StateStore;
  private readonly stopper = new AbortController();
  private readonly listeners = new Map<keyof ClientEvents, Set<(info: never) => void>>();
  private connection: Connection | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | undefined;
  private restLoop: Promise<void> | undefined;
  private failures = 0;
  private lastFailure: unknown;
  private flushMark = 0;
  private flushWaiters: { mark: number; resolve: (delivered: boolean) => void }[] = [];
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private counters = { tracked: 0, acked: 0, rejected: 0, refused: 0, connections: 0, resentBatches: 0 };

  private constructor(
    options: TelemetryClientOptions,
    guest: GuestCredentials | undefined,
  ) {
    this.settings = settingsFrom(options);
    const endpoint = withTrailingSlash(new URL(options.endpoint));
    this.wsUrl = new URL(options.websocketEndpoint ?? endpoint);
    if (!options.websocketEndpoint) this.wsUrl.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
    this.restBase = withTrailingSlash(new URL(options.restEndpoint ?? endpoint));
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) {
      throw new TelemetryError('no_websocket', 'This platform has no WebSocket: pass `WebSocket` (from the ws package in Node), or use the Node entry point');
    }
    this.WebSocketImpl = WebSocketImpl;
    this.store = options.store ?? new MemoryStore();
    const identity = new IdentityClient(options.loginEndpoint ?? endpoint, this.settings.requestTimeoutMs);
    this.session = options.session ?? new GuestSession(identity, guest);
    this.outbox = new Outbox(
      {
        maxEvents: this.settings.maxQueuedEvents,
        batchMaxEvents: this.settings.batchMaxEvents,
        batchMaxBytes: this.settings.batchMaxBytes,
        dropPolicy: this.settings.dropPolicy,
      },
      randomId().slice(0, 8),
    );
  }

  /**
   * Loads what an earlier run left undelivered (from the store), then starts connecting in the background:
   * events can be tracked at once, online or not.
   */
  static async start<M extends Record<string, unknown> = Record<string, unknown>>(options: TelemetryClientOptions): Promise<TelemetryClient<M>> {
    const state = await (options.store ?? new MemoryStore()).load();
    const client = new TelemetryClient<M>({ ...options, store: options.store ?? new MemoryStore() }, options.guest ?? state?.guest);
    if (state?.outbox) client.outbox.restore(state.outbox);
    client.begin();
    return client;
  }

  /** The player id (the token's `sub`), once logged in. */
  get userId(): string | undefined {
    return this.session.userId;
  }

  get connected(): boolean {
    return this.connection !== undefined;
  }

  on<K extends keyof ClientEvents>(type: K, listener: (info: ClientEvents[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Queues one event and returns its `event_id`. Throws a `TelemetryError` with the server's code when the event
   * would be rejected (bad type, oversize data…): a programming error is reported where it is made.
   */
  track<K extends keyof M & string>(eventType: K, data?: M[K], options: TrackOptions = {}): string {
    return this.enqueue(eventOf(eventType, data, options));
  }

  /** Queues a complete event (the caller chose its id and time); validated like `track()`. Returns its `event_id`. */
  trackEvent(event: TelemetryEvent): string {
    return this.enqueue(checked(event));
  }

  private enqueue(event: TelemetryEvent): string {
    if (this.stopper.signal.aborted) throw new TelemetryError('closed', 'track() after close()');
    if (!this.outbox.push(event)) this.emit('dropped', { count: 1 });
    this.counters.tracked++;
    this.scheduleSave();
    if (this.outbox.hasFullBatch()) this.pump();
    return event.event_id;
  }

  /**
   * Sends everything tracked so far now, without waiting for the batch interval, and resolves `true` once all of
   * it is acked or refused, `false` if that takes longer than `timeoutMs` (it stays queued and keeps being sent).
   */
  flush(timeoutMs = 10_000): Promise<boolean> {
    const mark = this.outbox.lastSeq;
    this.flushMark = Math.max(this.flushMark, mark);
    if (this.outbox.oldestSeq() > mark) return Promise.resolve(true);
    this.pump();
    return new Promise((resolve) => {
      const waiter = { mark, resolve };
      this.flushWaiters.push(waiter);
      const timer = setTimeout(() => {
        this.flushWaiters = this.flushWaiters.filter((entry) => entry !== waiter);
        resolve(false);
      }, timeoutMs);
      waiter.resolve = (delivered) => {
        clearTimeout(timer);
        resolve(delivered);
      };
    });
  }

  /**
   * Sends one event over REST right away and resolves once it is stored: for one-off events outside a session.
   * Throws a `TelemetryError` with the server's code when it is refused or the server cannot be reached.
   */
  async send<K extends keyof M & string>(eventType: K, data?: M[K], options: TrackOptions = {}): Promise<string> {
    const event = eventOf(eventType, data, options);
    const response = await this.post('put-record', JSON.stringify(event));
    if (response.status !== 200) {
      throw new TelemetryError(response.code, `The server refused the event (HTTP ${response.status}): ${response.message}`);
    }
    return event.event_id;
  }

  /** Flushes (up to `timeoutMs`), then closes the socket and saves what is undelivered. Resolves whether all was delivered. */
  async close(timeoutMs = 5_000): Promise<boolean> {
    if (this.stopper.signal.aborted) return this.outbox.size === 0;
    const delivered = await this.flush(timeoutMs);
    this.stopper.abort();
    clearInterval(this.ticker);
    this.connection?.finish('stopped');
    await this.running;
    await this.restLoop;
    clearTimeout(this.saveTimer);
    await this.save();
    for (const waiter of this.flushWaiters.splice(0)) waiter.resolve(false);
    return delivered;
  }

  stats(): ClientStats {
    return {
      ...this.counters,
      dropped: this.outbox.droppedTotal,
      queued: this.outbox.queuedCount,
      unacked: this.outbox.batchedCount,
      transport: this.connection ? 'ws' : this.restLoop ? 'rest' : 'offline',
    };
  }

  // ---- connection ----

  private begin(): void {
    const tickMs = Math.max(20, Math.min(250, this.settings.flushIntervalMs / 4));
    this.ticker = setInterval(() => this.tick(), tickMs);
    (this.ticker as { unref?: () => void }).unref?.();
    this.running = this.keepConnected().catch((error: unknown) => this.warn(`the connection loop stopped: ${messageOf(error)}`));
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  /** Connects, and reconnects whenever the socket goes, with backoff while it keeps failing, until `close()`. */
  private async keepConnected(): Promise<void> {
    while (!this.stopped) {
      const outcome = await this.connectOnce();
      if (this.stopped) return;
      if (outcome === 'renew') {
        this.failures = 0;
        continue; // a planned reconnect (connection age, server going away): at once
      }
      this.failures = outcome === 'lost' ? 0 : this.failures + 1;
      if (outcome === 'failed') this.emit('failure', { failures: this.failures, error: this.lastFailure });
      if (this.failures >= this.settings.restFallbackAfterFailures && this.settings.restFallbackAfterFailures > 0) this.startRestFallback();
      await sleep(backoffDelay(this.failures, this.settings.backoffBaseMs, this.settings.backoffMaxMs), this.stopper.signal);
    }
  }

  /** One socket from open to close. 'failed' = it never opened; 'lost' = it worked for a while, then went. */
  private async connectOnce(): Promise<ConnectionOutcome> {
    let token: string;
    try {
      token = await this.session.token();
    } catch (error) {
      this.lastFailure = error;
      this.warn(messageOf(error));
      return 'failed';
    }
    if (this.stopped) return 'stopped';
    const url = new URL(this.wsUrl);
    url.searchParams.set('auth_token', token);
    let ws: WebSocketLike;
    try {
      ws = new this.WebSocketImpl(url.toString());
    } catch (error) {
      this.lastFailure = error;
      this.warn(`cannot open ${this.wsUrl.href}: ${messageOf(error)}`);
      return 'failed';
    }
    let opened = false;
    let stopListener: (() => void) | undefined;
    const outcome = await new Promise<ConnectionOutcome>((resolve) => {
      let done = false;
      const finish = (result: ConnectionOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(handshake);
        ws.onopen = ws.onmessage = ws.onclose = null;
        // Not null: closing a socket that is still connecting makes `ws` emit an error, fatal with no listener.
        ws.onerror = () => {};
        if (this.connection?.ws === ws) this.connection = undefined;
        if (ws.readyState <= 1) {
          try {
            ws.close(1000, result === 'stopped' ? 'client closing' : 'reconnecting');
          } catch {
            // already closing
          }
          (ws as { terminate?: () => void }).terminate?.();
        }
        resolve(result);
      };
      ws.onopen = () => {
        opened = true;
        const now = Date.now();
        this.connection = { ws, openedAt: now, lastActivityAt: now, pingSentAt: 0, finish };
        this.onConnected();
      };
      ws.onmessage = (event) => this.onMessage(ws, event.data);
      ws.onerror = (event) => {
        // 'close' follows with the code; keep the reason for a failed open
        const message = (event as { message?: unknown }).message;
        if (!opened) this.lastFailure = new Error(typeof message === 'string' && message ? message : `cannot connect to ${this.wsUrl.href}`);
      };
      // Browsers give up on an unanswered handshake late or never: bound it.
      const handshake = setTimeout(() => {
        if (!opened) {
          this.lastFailure = new Error(`no answer from ${this.wsUrl.href} in ${this.settings.requestTimeoutMs} ms`);
          finish('failed');
        }
      }, this.settings.requestTimeoutMs);
      ws.onclose = (event) => {
        if (opened) this.emit('disconnected', { code: event.code, reason: event.reason });
        // 1001 "going away": the server's idle or 2-hour limit, or a restart; reconnect at once.
        finish(!opened ? 'failed' : event.code === 1001 ? 'renew' : 'lost');
      };
      // close() ends a handshake in progress too, not only an open socket.
      const onStop = (): void => finish('stopped');
      this.stopper.signal.addEventListener('abort', onStop, { once: true });
      stopListener = () => this.stopper.signal.removeEventListener('abort', onStop);
      if (this.stopped) finish('stopped');
    });
    stopListener?.();
    this.afterSocket(ws);
    if (outcome === 'failed' && !opened) this.lastFailure ??= new Error(`cannot connect to ${this.wsUrl.href}`);
    if (outcome === 'failed' && !this.stopped) {
      // A browser cannot see why an upgrade failed; an expired or unknown token (401) is the usual reason.
      await this.session.renew().catch((error: unknown) => this.warn(messageOf(error)));
    }
    return outcome;
  }

  private onConnected(): void {
    this.counters.connections++;
    if (this.outbox.dropped > 0) {
      // Tell the analysts what was lost: one event, counted in the table like any other.
      const count = this.outbox.dropped;
      this.outbox.dropped = 0;
      this.outbox.push(eventOf(DROPPED_EVENT_TYPE, { dropped: count }, {}), undefined, true);
    }
    this.emit('connected', { userId: this.session.userId });
    this.pump();
  }

  /** The socket is gone: what was outstanding on it waits to be re-sent on the next one (or over REST). */
  private afterSocket(ws: WebSocketLike): void {
    for (const batch of this.outbox.batches.values()) {
      if (batch.sentOn === ws) batch.sentOn = undefined;
    }
  }

  private onMessage(ws: WebSocketLike, data: unknown): void {
    const connection = this.connection;
    if (connection?.ws !== ws) return;
    connection.lastActivityAt = Date.now();
    connection.pingSentAt = 0;
    const frame = parseServerFrame(typeof data === 'string' ? data : String(data));
    if (frame?.type === 'ack') {
      this.onAck(frame.id, frame.accepted, frame.rejected, 'ws');
    } else if (frame?.type === 'error' && frame.id !== undefined) {
      this.onBatchError(frame.id, frame.error, frame.message, frame.retryAfterMs);
    }
  }

  private onAck(id: string, accepted: number, rejected: readonly Rejection[], transport: 'ws' | 'rest'): void {
    const batch = this.outbox.settle(id);
    if (!batch) return; // the ack of a re-send whose first ack already came
    this.counters.acked += accepted;
    this.counters.rejected += rejected.length;
    this.emit('ack', { batchId: id, events: batch.events, accepted, rejected, latencyMs: Date.now() - batch.firstSentAt, transport });
    this.settled();
  }

  private onBatchError(id: string, code: string, message: string, retryAfterMs: number | undefined): void {
    const batch = this.outbox.batches.get(id);
    if (!batch) return;
    if (RETRYABLE_ERRORS.has(code)) {
      batch.sentOn = undefined;
      const delayMs = Math.max(retryAfterMs ?? 0, backoffDelay(batch.retryAttempt++, this.settings.backoffBaseMs, this.settings.backoffMaxMs));
      batch.retryAt = Date.now() + delayMs;
      this.emit('retry', { batchId: id, code, delayMs });
      return;
    }
    this.outbox.settle(id);
    this.counters.refused += batch.events.length;
    this.emit('refused', { batchId: id, events: batch.events, code, message });
    this.settled();
  }

  /** A batch left the outbox: wake flush() callers, save, and send more. */
  private settled(): void {
    if (this.flushWaiters.length > 0) {
      const oldest = this.outbox.oldestSeq();
      this.flushWaiters = this.flushWaiters.filter((waiter) => {
        if (oldest <= waiter.mark) return true;
        waiter.resolve(true);
        return false;
      });
    }
    this.scheduleSave();
    this.pump();
  }

  /** Sends what is due on the socket: batches waiting for a (re-)send, then new batches while the window has room. */
  private pump(): void {
    const connection = this.connection;
    if (!connection) return;
    const now = Date.now();
    for (const batch of this.outbox.batches.values()) {
      if (batch.sentOn === undefined && batch.retryAt <= now) this.sendOnSocket(connection, batch, now);
    }
    while (this.outbox.batches.size < this.settings.maxInFlightBatches && this.batchDue(now)) {
      const batch = this.outbox.takeBatch();
      if (!batch) break;
      this.sendOnSocket(connection, batch, now);
    }
  }

  private batchDue(now: number): boolean {
    const oldest = this.outbox.peekQueued();
    if (!oldest) return false;
    return this.outbox.hasFullBatch() || oldest.seq <= this.flushMark || now - oldest.trackedAt >= this.settings.flushIntervalMs;
  }

  private sendOnSocket(connection: Connection, batch: PendingBatch, now: number): void {
    this.markSent(batch, connection.ws, now);
    connection.lastActivityAt = now;
    connection.ws.send(batch.frame);
  }

  private markSent(batch: PendingBatch, on: object | 'rest', now: number): void {
    const resend = batch.firstSentAt !== 0;
    if (resend) this.counters.resentBatches++;
    else batch.firstSentAt = now;
    batch.sentOn = on;
    batch.lastSentAt = now;
    this.emit('sent', { batchId: batch.id, events: batch.events, resend });
  }

  /** Timers in one place: batch interval, retries, ack and ping timeouts, idle pings, the connection's age. */
  private tick(): void {
    const connection = this.connection;
    if (!connection) return;
    const now = Date.now();
    const { ackTimeoutMs, pongTimeoutMs, pingIntervalMs, maxConnectionAgeMs } = this.settings;
    if (now - connection.openedAt >= maxConnectionAgeMs) {
      connection.finish('renew');
      return;
    }
    const silent = connection.pingSentAt > 0 && now - connection.pingSentAt >= pongTimeoutMs;
    let stale = false;
    for (const batch of this.outbox.batches.values()) {
      if (batch.sentOn === connection.ws && now - batch.lastSentAt >= ackTimeoutMs) stale = true;
    }
    if (silent || stale) {
      this.warn(silent ? 'the server stopped answering pings: reconnecting' : 'a batch went unanswered: reconnecting');
      connection.finish('lost');
      return;
    }
    if (connection.pingSentAt === 0 && now - connection.lastActivityAt >= pingIntervalMs) {
      connection.pingSentAt = now;
      connection.ws.send(PING_FRAME);
    }
    this.pump();
  }

  // ---- REST fallback ----

  /** While the socket keeps failing, delivers batches over REST, one request at a time. */
  private startRestFallback(): void {
    this.restLoop ??= this.deliverOverRest()
      .catch((error: unknown) => this.warn(`REST delivery stopped: ${messageOf(error)}`))
      .finally(() => {
        this.restLoop = undefined;
      });
  }

  private async deliverOverRest(): Promise<void> {
    let attempt = 0;
    while (!this.stopped && !this.connection && this.failures >= this.settings.restFallbackAfterFailures) {
      const now = Date.now();
      let batch = [...this.outbox.batches.values()].find((entry) => entry.sentOn === undefined && entry.retryAt <= now);
      if (!batch && this.batchDue(now)) batch = this.outbox.takeBatch();
      if (!batch) {
        await sleep(Math.min(250, this.settings.flushIntervalMs), this.stopper.signal);
        continue;
      }
      this.markSent(batch, 'rest', now);
      const response = await this.post('put-records', restBodyOf(batch)).catch((error: unknown) => {
        this.warn(messageOf(error));
        return undefined;
      });
      if (batch.sentOn === 'rest') batch.sentOn = undefined;
      if (response?.status === 200) {
        attempt = 0;
        const body = response.body as { accepted?: unknown; rejected?: unknown };
        const rejected = Array.isArray(body?.rejected) ? body.rejected.map(toRejection) : [];
        this.onAck(batch.id, typeof body?.accepted === 'number' ? body.accepted : batch.events.length - rejected.length, rejected, 'rest');
      } else if (response && response.status >= 400 && response.status < 500 && ![401, 408, 429].includes(response.status)) {
        this.onBatchError(batch.id, response.code, response.message, undefined);
      } else {
        batch.retryAt = Date.now() + Math.max(response?.retryAfterMs ?? 0, backoffDelay(attempt++, this.settings.backoffBaseMs, this.settings.backoffMaxMs));
      }
    }
  }

  /** One authenticated REST call; a 401 renews the token and tries once more. Throws only when unreachable. */
  private async post(path: string, body: string): Promise<RestResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = attempt === 0 ? await this.session.token() : await this.session.renew();
      const response = await fetch(new URL(path, this.restBase), {
        method: 'POST',
        headers: { authorization: token, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.settings.requestTimeoutMs),
      });
      if (response.status === 401 && attempt === 0) {
        await response.body?.cancel();
        continue;
      }
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
      const error = (parsed ?? {}) as { error?: unknown; message?: unknown };
      const retryAfter = Number(response.headers.get('retry-after'));
      return {
        status: response.status,
        body: parsed,
        code: typeof error.error === 'string' ? error.error : (STATUS_CODES[response.status] ?? `http_${response.status}`),
        message: typeof error.message === 'string' ? error.message : text.slice(0, 200),
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      };
    }
  }

  // ---- state ----

  private scheduleSave(): void {
    if (this.saveTimer !== undefined || this.stopped) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, this.settings.saveDelayMs);
  }

  /** Saves the outbox and guest; saves never overlap, and a failed save is reported, not thrown. */
  private save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      const guest = this.session.credentials;
      try {
        await this.store.save({ ...(guest ? { guest } : {}), outbox: this.outbox.snapshot() });
      } catch (error) {
        this.warn(`cannot save the client's state: ${messageOf(error)}`);
      }
    });
    return this.saving;
  }

  private warn(message: string): void {
    this.emit('warning', { message });
  }

  private emit<K extends keyof ClientEvents>(type: K, info: ClientEvents[K]): void {
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        (listener as (value: ClientEvents[K]) => void)(info);
      } catch {
        // a listener's bug must not break delivery
      }
    }
  }
}

/** Codes for answers whose body carries none (`"Unauthorized"`, `"Failed"`). */
const STATUS_CODES: Record<number, string> = { 401: 'unauthorized', 500: 'stream_unavailable' };

interface RestResponse {
  readonly status: number;
  readonly body: unknown;
  readonly code: string;
  readonly message: string;
  readonly retryAfterMs: number | undefined;
}

function settingsFrom(options: TelemetryClientOptions): Settings {
  const settings = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    const value = options[key];
    if (value !== undefined) (settings as Record<string, unknown>)[key] = value;
  }
  const problems: string[] = [];
  const positive = (name: keyof Settings, max = Infinity): void => {
    const value = settings[name] as number;
    if (!(typeof value === 'number' && value > 0 && value <= max)) problems.push(`${name} must be a number in (0, ${max}], got ${String(value)}`);
  };
  positive('batchMaxEvents', LIMITS.batchMaxEvents);
  positive('batchMaxBytes', LIMITS.wsMessageMaxBytes);
  for (const name of ['flushIntervalMs', 'maxInFlightBatches', 'pingIntervalMs', 'ackTimeoutMs', 'pongTimeoutMs', 'maxConnectionAgeMs', 'backoffBaseMs', 'backoffMaxMs', 'requestTimeoutMs', 'saveDelayMs'] as const) {
    positive(name);
  }
  if (settings.maxQueuedEvents < settings.batchMaxEvents * settings.maxInFlightBatches) {
    problems.push(`maxQueuedEvents (${settings.maxQueuedEvents}) must hold at least maxInFlightBatches × batchMaxEvents (${settings.batchMaxEvents * settings.maxInFlightBatches})`);
  }
  if (settings.dropPolicy !== 'drop-oldest' && settings.dropPolicy !== 'drop-newest') problems.push(`dropPolicy must be drop-oldest or drop-newest`);
  if (problems.length > 0) throw new TelemetryError('invalid_options', problems.join('; '));
  return settings;
}

/** Builds and checks one event with the server's own validator, so a bad event fails at the call that made it. */
function eventOf(eventType: string, data: unknown, options: TrackOptions): TelemetryEvent {
  const updatedAt = options.updatedAt ?? new Date();
  const event: TelemetryEvent = {
    event_id: options.eventId ?? randomId(),
    event_type: eventType,
    updated_at: updatedAt instanceof Date ? updatedAt.toISOString() : updatedAt,
    ...(data === undefined ? {} : { event_data: data }),
  };
  return checked(event);
}

function checked(event: TelemetryEvent): TelemetryEvent {
  const result = validateEvent(event);
  if (!result.ok) throw new TelemetryError(result.error.code, result.error.message, result.error.field);
  return event;
}

/** A random UUID; `crypto.randomUUID` needs a secure context in browsers, `getRandomValues` does not. */
function randomId(): string {
  const cryptoApi = globalThis.crypto;
  if (typeof cryptoApi.randomUUID === 'function') return cryptoApi.randomUUID();
  const bytes = cryptoApi.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
