import type { Batch } from './batches.ts';
import { DryRunPlayer } from './dry-run-player.ts';
import { newRunId } from './events.ts';
import { GuestSession, IdentityClient } from '../telemetry-client/identity.ts';
import { DEFAULT_OPTIONS, type SyntheticOptions, type Transport, defaultBackendEndpoint } from './options.ts';
import { DEFAULT_TUNING, type Player, type PlayerContext, type Tuning } from './player.ts';
import { Quota } from './quota.ts';
import { RestPlayer } from './rest-player.ts';
import { Stats } from './stats.ts';
import { WsPlayer } from './ws-player.ts';

export type { Batch } from './batches.ts';
export type { SyntheticOptions, Transport } from './options.ts';
export type { Tuning } from './player.ts';

/** Options for a run: any left out take the CLI's defaults; `backendEndpoint` defaults per transport. */
export interface RunOptions extends Partial<SyntheticOptions> {
  readonly tuning?: Partial<Tuning>;
}

export interface RunHooks {
  /** Called every `progressIntervalMs` while running, and once at the end. */
  readonly onProgress?: (progress: Progress) => void;
  readonly progressIntervalMs?: number;
  /** Sees each batch before its first send, e.g. to print its events (`--console`); awaited, so it can apply backpressure. */
  readonly onBatch?: (batch: Batch) => void | Promise<void>;
  /** Aborting it stops generating, waits up to `tuning.drainTimeoutMs` for outstanding acks, then summarises (SIGINT). */
  readonly signal?: AbortSignal;
}

export interface Progress {
  /** `maxCount`; 0 when running until interrupted. */
  readonly target: number;
  readonly generated: number;
  readonly sent: number;
  readonly acked: number;
  readonly rejected: number;
  readonly elapsedMs: number;
}

export interface Summary {
  /** True when nothing is unacked and no player gave up (and so the CLI exits 0). */
  readonly ok: boolean;
  /** Why the run gave up, naming the URL that failed and what to check. */
  readonly error?: string;
  /** Stopped by the caller's signal (SIGINT) before reaching `maxCount`. */
  readonly interrupted: boolean;
  readonly dryRun: boolean;
  readonly transport: Transport;
  readonly players: number;
  readonly generated: number;
  /** Events sent at least once. */
  readonly sent: number;
  /** Events the server accepted, each counted once however often its batch was sent. */
  readonly acked: number;
  /** Events the server refused (validation, or a whole batch refused for good). */
  readonly rejected: number;
  readonly rejectedByCode: Readonly<Record<string, number>>;
  /** Events generated but never acknowledged (the run gave up or was interrupted). */
  readonly unacked: number;
  readonly resentBatches: number;
  readonly reconnects: number;
  /** `rate_limited` / `stream_unavailable` frames, 429 and 5xx answers. */
  readonly retryableErrors: number;
  readonly elapsedMs: number;
  /** Acknowledged (accepted + rejected) events per second; generated per second for a dry run. */
  readonly eventsPerSecond: number;
  /** From the first send of a batch to its ack. */
  readonly ackLatencyMs: { readonly p50: number; readonly p99: number; readonly max: number; readonly batches: number };
}

/**
 * Runs the synthetic generator in-process: `options.players` guest players, each with its own login and
 * socket (or HTTP requests), share `maxCount` events at `rate` events/s. Resolves with the summary; never
 * rejects for network trouble — a player that gives up ends the run with `summary.error`.
 */
export async function runSynthetic(options: RunOptions = {}, hooks: RunHooks = {}): Promise<Summary> {
  const { tuning: tuningOverrides, ...given } = options;
  const transport = given.transport ?? DEFAULT_OPTIONS.transport;
  const resolved: SyntheticOptions = Object.freeze({
    ...DEFAULT_OPTIONS,
    backendEndpoint: defaultBackendEndpoint(transport),
    ...stripUndefined(given),
  });
  const tuning: Tuning = Object.freeze({ ...DEFAULT_TUNING, ...stripUndefined(tuningOverrides ?? {}) });

  const stats = new Stats();
  const quota = new Quota(resolved.maxCount, resolved.rate);
  const kill = new AbortController();
  const runId = newRunId();
  const startedAt = performance.now();
  let interrupted = false;
  let drainTimer: NodeJS.Timeout | undefined;
  let error: string | undefined;

  const onInterrupt = (): void => {
    interrupted = true;
    quota.stop();
    drainTimer = setTimeout(() => kill.abort(), tuning.drainTimeoutMs);
  };
  if (hooks.signal?.aborted) onInterrupt();
  else hooks.signal?.addEventListener('abort', onInterrupt, { once: true });

  const progress = (): Progress => ({
    target: resolved.maxCount,
    generated: stats.generated,
    sent: stats.sent,
    acked: stats.acked,
    rejected: stats.rejected,
    elapsedMs: performance.now() - startedAt,
  });
  const progressTimer = hooks.onProgress
    ? setInterval(() => hooks.onProgress?.(progress()), hooks.progressIntervalMs ?? 200)
    : undefined;

  const identity = new IdentityClient(
    resolved.loginEndpoint,
    tuning.requestTimeoutMs,
    'Is the server running (`npm start`), and is --login-endpoint right?',
  );
  const players: Player[] = [];
  for (let index = 0; index < resolved.players; index++) {
    const ctx: PlayerContext = { index, runId, options: resolved, tuning, stats, quota, abort: kill.signal, onBatch: hooks.onBatch };
    if (resolved.dryRun) players.push(new DryRunPlayer(ctx));
    else if (transport === 'ws') players.push(new WsPlayer(ctx, new GuestSession(identity)));
    else players.push(new RestPlayer(ctx, new GuestSession(identity)));
  }

  try {
    await Promise.all(
      players.map((player) =>
        player.run().catch((err: unknown) => {
          // The first player to give up ends the run: the others would most likely fail the same way.
          error ??= err instanceof Error ? err.message : String(err);
          quota.stop();
          kill.abort();
        }),
      ),
    );
  } finally {
    clearInterval(progressTimer);
    clearTimeout(drainTimer);
    hooks.signal?.removeEventListener('abort', onInterrupt);
  }
  hooks.onProgress?.(progress());

  const elapsedMs = performance.now() - startedAt;
  const unacked = players.reduce((sum, player) => sum + player.unackedEvents(), 0);
  const [p50 = 0, p99 = 0, max = 0] = stats.ackLatency.percentiles(50, 99, 100);
  const delivered = resolved.dryRun ? stats.generated : stats.acked + stats.rejected;
  return {
    ok: error === undefined && unacked === 0,
    ...(error === undefined ? {} : { error }),
    interrupted,
    dryRun: resolved.dryRun,
    transport,
    players: resolved.players,
    generated: stats.generated,
    sent: stats.sent,
    acked: stats.acked,
    rejected: stats.rejected,
    rejectedByCode: Object.fromEntries([...stats.rejectedByCode].sort(([a], [b]) => a.localeCompare(b))),
    unacked,
    resentBatches: stats.resentBatches,
    reconnects: stats.reconnects,
    retryableErrors: stats.retryableErrors,
    elapsedMs: round(elapsedMs),
    eventsPerSecond: round(elapsedMs > 0 ? (delivered * 1000) / elapsedMs : 0),
    ackLatencyMs: { p50: round(p50), p99: round(p99), max: round(max), batches: stats.ackLatency.count },
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** `{ a: undefined }` must not override a default with undefined. */
function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
