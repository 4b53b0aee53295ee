import { createTokenVerifier } from '../adapters/token-verifier.ts';
import { LIMITS } from '../core/limits.ts';
import { createRateLimiter } from '../core/rate-limiter.ts';
import { createRestHandler } from '../handlers/rest-handler.ts';
import { createWsAuthorizer } from '../handlers/ws-authorizer.ts';
import { createWsMessageHandler } from '../handlers/ws-message-handler.ts';
import type { LocalConfig } from './config.ts';
import { dataPaths } from './data-paths.ts';
import type { Gateway } from './gateway/local-gateway.ts';
import { startGateway } from './gateway/local-gateway.ts';
import type { RawArchiver } from './archive/raw-archiver.ts';
import { startRawArchiver } from './archive/raw-archiver.ts';
import type { DeltaWriter } from './delta-writer/delta-writer.ts';
import { startDeltaWriterThread } from './delta-writer/delta-writer-thread.ts';
import { createDemoPage } from './demo/demo-page.ts';
import { createIdentityService } from './identity/identity-service.ts';
import { HubStream } from './stream/hub-stream.ts';

export interface LocalPipeline {
  /** Base URL, `http://HOST:PORT/`. */
  readonly url: string;
  readonly issuer: string;
  readonly stream: HubStream;
  readonly gateway: Gateway;
  /** The consumers; absent when the pipeline runs as intake only. */
  readonly deltaWriter: DeltaWriter | undefined;
  readonly archiver: RawArchiver | undefined;
  /** Finishes in-flight requests and messages, then closes sockets and the stream. */
  close(): Promise<void>;
}

export type PipelineConfig = Omit<LocalConfig, 'dataDir'> & {
  readonly dataDir: string;
  /** Intake only, no consumers: what the intake benchmark measures (records wait in the stream). */
  readonly intakeOnly?: boolean;
  /** How long a stream commit waits for a lock held elsewhere before it fails (default 5 s; tests shorten it). */
  readonly streamBusyTimeoutMs?: number;
  /** Access-token lifetime of the dev identity (default 900 s; tests shorten it to see tokens expire). */
  readonly accessTokenTtlS?: number;
};

/**
 * The one-machine pipeline: the dev identity service, the local gateway invoking the same handlers Lambda runs,
 * the SQLite hub stream behind the sink port, and its two consumers: the raw archive and the Delta writer.
 */
export async function startLocalPipeline(config: PipelineConfig): Promise<LocalPipeline> {
  const paths = dataPaths(config.dataDir);
  const stream = HubStream.open({
    path: paths.stream,
    retentionMs: config.streamRetentionMs,
    ...(config.streamBusyTimeoutMs === undefined ? {} : { busyTimeoutMs: config.streamBusyTimeoutMs }),
  });
  // The issuer is the gateway's own URL unless configured, and that URL is known only once it listens (port 0).
  let issuer = config.issuer ?? '';
  const identity = await createIdentityService({
    dataDir: config.dataDir,
    issuer: () => issuer,
    ...(config.accessTokenTtlS === undefined ? {} : { accessTokenTtlS: config.accessTokenTtlS }),
  });
  const startedAt = Date.now();
  const archiver = config.intakeOnly
    ? undefined
    : await startRawArchiver({ stream, dataDir: config.dataDir, flushIntervalMs: config.archiveFlushMs });
  let deltaWriter;
  try {
    deltaWriter = config.intakeOnly
      ? undefined
      : await startDeltaWriterThread({
          streamPath: paths.stream,
          options: { dataDir: config.dataDir, windowMs: config.deltaWindowMs, dedupWindowMs: config.dedupWindowMs },
        });
  } catch (error) {
    await archiver?.close();
    await stream.close();
    throw error;
  }
  const deps = {
    verifier: lazyVerifier(() => issuer),
    sink: stream,
    ...(config.rateLimitPerSecond > 0
      ? { rateLimiter: createRateLimiter({ ratePerSecond: config.rateLimitPerSecond, burst: config.rateBurst }) }
      : {}),
  };

  let gateway: Gateway;
  try {
    gateway = await startGateway({
      host: config.host,
      port: config.port,
      restHandler: createRestHandler(deps),
      wsAuthorizer: createWsAuthorizer(deps),
      wsMessageHandler: createWsMessageHandler(deps),
      mounts: [identity.handle, createDemoPage()],
      health: () => ({
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
        connections: gateway.connections(),
        ...gateway.flow(),
        stream: stream.stats(),
        ...(deltaWriter ? { delta_writer: deltaWriter.status() } : {}),
        ...(archiver ? { raw_archive: archiver.status() } : {}),
      }),
      wsMessageMaxBytes: LIMITS.wsMessageMaxBytes,
      wsIdleTimeoutMs: config.wsIdleTimeoutMs,
      wsMaxConnectionMs: config.wsMaxConnectionMs,
      wsMaxConnectionsPerPlayer: config.maxConnectionsPerPlayer,
      wsMaxConnections: config.maxConnections,
    });
  } catch (error) {
    await deltaWriter?.close();
    await archiver?.close();
    await stream.close();
    throw error;
  }
  if (!config.issuer) issuer = gateway.url.replace(/\/$/, '');

  return {
    url: gateway.url,
    issuer,
    stream,
    gateway,
    deltaWriter,
    archiver,
    async close() {
      await gateway.close();
      await identity.close();
      // Consumers commit what they hold before the stream closes; what they have not read waits in the stream.
      await deltaWriter?.close();
      await archiver?.close();
      await stream.close();
    },
  };
}

/** The verifier is built on first use, when the issuer (the gateway's URL with port 0) is finally known. */
function lazyVerifier(issuer: () => string) {
  let verifier: ReturnType<typeof createTokenVerifier> | undefined;
  return {
    verify(token: string) {
      verifier ??= createTokenVerifier({ issuer: issuer() });
      return verifier.verify(token);
    },
  };
}
