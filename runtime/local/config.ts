import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * The one-machine pipeline's settings: CLI flags win over environment variables, which win over defaults.
 * Every problem is reported at once, before anything starts.
 */
export interface LocalConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** Issuer (`iss`) of the dev identity service's tokens; defaults to the gateway's own base URL. */
  readonly issuer: string | undefined;
  readonly wsIdleTimeoutMs: number;
  readonly wsMaxConnectionMs: number;
  readonly streamRetentionMs: number;
  /** The Delta writer's micro-batch window. */
  readonly deltaWindowMs: number;
  /** The dedup rule's window: a re-send arriving this long after the first copy is stored again. */
  readonly dedupWindowMs: number;
  /** The raw archive writes a file at least this often (and whenever 5 MiB are buffered). */
  readonly archiveFlushMs: number;
  /** Per-player events per second (0: no limit) and the burst a quiet player may send at once. */
  readonly rateLimitPerSecond: number;
  readonly rateBurst: number;
  /** Open WebSockets allowed per player and in total. */
  readonly maxConnectionsPerPlayer: number;
  readonly maxConnections: number;
}

interface Setting {
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  readonly default: string | undefined;
  readonly kind: 'string' | 'port' | 'seconds' | 'hours' | 'count';
}

/** Environment variable names, exported so scripts and docs use the same spelling. */
export const LOCAL_ENV = {
  host: 'TELEMETRY_HOST',
  port: 'TELEMETRY_PORT',
  dataDir: 'TELEMETRY_DATA_DIR',
  issuer: 'TELEMETRY_ISSUER',
  wsIdleTimeout: 'TELEMETRY_WS_IDLE_TIMEOUT_S',
  wsMaxConnection: 'TELEMETRY_WS_MAX_CONNECTION_S',
  streamRetention: 'TELEMETRY_STREAM_RETENTION_H',
  deltaWindow: 'TELEMETRY_DELTA_WINDOW_S',
  dedupWindow: 'TELEMETRY_DEDUP_WINDOW_H',
  archiveFlush: 'TELEMETRY_ARCHIVE_FLUSH_S',
  rateLimit: 'TELEMETRY_RATE_LIMIT',
  rateBurst: 'TELEMETRY_RATE_BURST',
  maxConnectionsPerPlayer: 'TELEMETRY_MAX_CONNECTIONS_PER_PLAYER',
  maxConnections: 'TELEMETRY_MAX_CONNECTIONS',
} as const;

export const SETTINGS: Record<string, Setting> = {
  port: { flag: 'port', env: LOCAL_ENV.port, kind: 'port', default: '8787', help: 'port to listen on (0 picks a free port)' },
  host: { flag: 'host', env: LOCAL_ENV.host, kind: 'string', default: '127.0.0.1', help: 'address to listen on (0.0.0.0 for every interface)' },
  'data-dir': { flag: 'data-dir', env: LOCAL_ENV.dataDir, kind: 'string', default: './data', help: 'where the stream, identity keys and tables live' },
  issuer: { flag: 'issuer', env: LOCAL_ENV.issuer, kind: 'string', default: undefined, help: 'public base URL put in tokens as iss (default: http://HOST:PORT)' },
  'ws-idle-timeout': { flag: 'ws-idle-timeout', env: LOCAL_ENV.wsIdleTimeout, kind: 'seconds', default: '600', help: 'seconds a WebSocket may stay silent (API Gateway: 600)' },
  'ws-max-connection': { flag: 'ws-max-connection', env: LOCAL_ENV.wsMaxConnection, kind: 'seconds', default: '7200', help: 'seconds a WebSocket may live (API Gateway: 7200)' },
  'stream-retention': { flag: 'stream-retention', env: LOCAL_ENV.streamRetention, kind: 'hours', default: '24', help: 'hours the hub stream keeps records that every consumer has read' },
  'delta-window': { flag: 'delta-window', env: LOCAL_ENV.deltaWindow, kind: 'seconds', default: '5', help: 'seconds the Delta writer gathers events before a commit' },
  'dedup-window': { flag: 'dedup-window', env: LOCAL_ENV.dedupWindow, kind: 'hours', default: '24', help: 'hours within which a re-sent event is stored once' },
  'archive-flush': { flag: 'archive-flush', env: LOCAL_ENV.archiveFlush, kind: 'seconds', default: '60', help: 'seconds after which the raw archive writes a file (or at 5 MiB)' },
  'rate-limit': { flag: 'rate-limit', env: LOCAL_ENV.rateLimit, kind: 'count', default: '5000', help: 'events per second per player (0: no limit); more gets rate_limited' },
  'rate-burst': { flag: 'rate-burst', env: LOCAL_ENV.rateBurst, kind: 'count', default: '50000', help: 'events a player may send at once after a quiet spell' },
  'max-connections-per-player': { flag: 'max-connections-per-player', env: LOCAL_ENV.maxConnectionsPerPlayer, kind: 'count', default: '10', help: 'open WebSockets per player' },
  'max-connections': { flag: 'max-connections', env: LOCAL_ENV.maxConnections, kind: 'count', default: '20000', help: 'open WebSockets in total' },
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export type ParsedCommand = { help: true } | { help: false; config: LocalConfig };

export function readLocalConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedCommand {
  const options = Object.fromEntries(Object.keys(SETTINGS).map((name) => [name, { type: 'string' as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (error) {
    throw new ConfigError([`${(error as Error).message} (see --help)`]);
  }
  if (values.help) return { help: true };

  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const setting = SETTINGS[name]!;
    const raw = (values[name] as string | undefined) ?? env[setting.env] ?? setting.default;
    return raw === '' ? setting.default : raw;
  };
  const number = (name: string, min: number, max: number): number => {
    const raw = read(name)!;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      const setting = SETTINGS[name]!;
      problems.push(`--${setting.flag} / ${setting.env} must be a number from ${min} to ${max}, got '${raw}'`);
    }
    return value;
  };

  const port = number('port', 0, 65535);
  if (Number.isFinite(port) && !Number.isInteger(port)) problems.push(`--port must be a whole number, got ${port}`);
  const issuer = read('issuer');
  if (issuer !== undefined && !/^https?:\/\/[^/]+/.test(issuer)) {
    problems.push(`--issuer / ${LOCAL_ENV.issuer} must be an http(s) URL, got '${issuer}'`);
  }
  const config: LocalConfig = Object.freeze({
    host: read('host')!,
    port,
    dataDir: resolve(read('data-dir')!),
    issuer: issuer?.replace(/\/+$/, ''),
    wsIdleTimeoutMs: number('ws-idle-timeout', 0.01, 86_400) * 1000,
    wsMaxConnectionMs: number('ws-max-connection', 0.01, 7 * 86_400) * 1000,
    streamRetentionMs: number('stream-retention', 0.001, 24 * 365) * 3_600_000,
    deltaWindowMs: number('delta-window', 0.01, 3600) * 1000,
    dedupWindowMs: number('dedup-window', 0.001, 24 * 365) * 3_600_000,
    archiveFlushMs: number('archive-flush', 0.01, 86_400) * 1000,
    rateLimitPerSecond: number('rate-limit', 0, 1e9),
    rateBurst: number('rate-burst', 1, 1e9),
    maxConnectionsPerPlayer: number('max-connections-per-player', 1, 1e6),
    maxConnections: number('max-connections', 1, 1e7),
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { help: false, config };
}

export function helpText(): string {
  const rows = Object.values(SETTINGS).map(
    (s) => `  --${s.flag.padEnd(20)} ${s.help}${s.default === undefined ? '' : ` [${s.default}]`}\n  ${' '.repeat(23)}env ${s.env}`,
  );
  return [
    'Usage: npm start -- [options]',
    '',
    'Runs the telemetry pipeline on one machine: dev identity service, REST and WebSocket intake',
    '(the same handlers as on AWS), the durable SQLite hub stream, the raw archive and the Delta writer.',
    '',
    'Options (flag, then its environment variable):',
    ...rows,
    '  --help, -h               show this help',
  ].join('\n');
}
