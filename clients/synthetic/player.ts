import type { Batch } from './batches.ts';
import type { SyntheticOptions } from './options.ts';
import type { Quota } from './quota.ts';
import type { Stats } from './stats.ts';

/** Timing knobs. The defaults suit the CLI; tests shorten them. */
export interface Tuning {
  /** A player gives up after failing (to connect, or to get a batch accepted) for this long without progress. */
  readonly giveUpAfterMs: number;
  /** The first login/connection gives up after this many attempts: at startup, failure usually means no server. */
  readonly startupAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Longest `Retry-After` honoured; a longer one is clipped so the run can still end or give up. */
  readonly retryAfterMaxMs: number;
  /** Ping after this long without sending (the server idles sockets out after 10 minutes). */
  readonly pingIntervalMs: number;
  /** A socket whose ping gets no answer for this long is presumed dead and replaced. */
  readonly pongTimeoutMs: number;
  /** A batch unacked this long on a live socket is presumed lost with its connection: reconnect and re-send. */
  readonly ackTimeoutMs: number;
  /** After an interrupt, how long to wait for outstanding acks. */
  readonly drainTimeoutMs: number;
  /** WebSocket handshake and REST request timeout. */
  readonly requestTimeoutMs: number;
  /** Largest message (ws) or body (rest); undefined = the contract's limit (128 KiB, 1 MiB). */
  readonly maxPayloadBytes: number | undefined;
}

export const DEFAULT_TUNING: Tuning = Object.freeze({
  giveUpAfterMs: 60_000,
  startupAttempts: 3,
  backoffBaseMs: 200,
  backoffMaxMs: 10_000,
  retryAfterMaxMs: 60_000,
  pingIntervalMs: 30_000,
  pongTimeoutMs: 20_000,
  ackTimeoutMs: 60_000,
  drainTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  maxPayloadBytes: undefined,
});

/** What a player shares with the run. */
export interface PlayerContext {
  readonly index: number;
  readonly runId: string;
  readonly options: SyntheticOptions;
  readonly tuning: Tuning;
  readonly stats: Stats;
  readonly quota: Quota;
  /** Aborts when the run must end now: outstanding batches are abandoned (counted as unacked). */
  readonly abort: AbortSignal;
  /** Sees each new batch before its first send (the `--console` output). */
  readonly onBatch: ((batch: Batch) => void | Promise<void>) | undefined;
}

/** One simulated player: generates its share of events and delivers them until the quota says stop. */
export interface Player {
  /** Resolves once its events are delivered (or abandoned on abort); rejects with `GiveUpError`. */
  run(): Promise<void>;
  /** Events generated but neither accepted nor rejected. */
  unackedEvents(): number;
}

/** A player stopped trying; the message says what failed and what to check. */
export class GiveUpError extends Error {
  override readonly name = 'GiveUpError';
  readonly code = 'gave_up';
}

/** Resolves at the next `notify()`: lets loops wait for "something changed" without polling. */
export class ChangeSignal {
  private waiting: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  changed(): Promise<void> {
    this.waiting ??= new Promise((resolve) => {
      this.wake = resolve;
    });
    return this.waiting;
  }

  notify(): void {
    const wake = this.wake;
    this.waiting = undefined;
    this.wake = undefined;
    wake?.();
  }
}
