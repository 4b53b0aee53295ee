/**
 * The stack's settings, read once from CDK context (`-c key=value` or cdk.json) into a frozen, typed object.
 * Every problem is reported at once, with the flag that fixes it.
 */

export type DeltaMode = 'streaming';

export interface StackSettings {
  /** The identity service's base URL, exactly as in the tokens' `iss` (no trailing slash). */
  readonly issuerEndpoint: string;
  /** The API Gateway stage of both APIs: `https://…/<stage>/put-record`, `wss://…/<stage>`. */
  readonly stageName: string;
  readonly streamRetentionHours: number;
  readonly firehoseBufferingSeconds: number;
  readonly firehoseBufferingMiB: number;
  readonly glueVersion: string;
  readonly glueWorkerType: string;
  readonly glueWorkerCount: number;
  /** Micro-batch window of the Glue job (`--window_seconds`). */
  readonly glueWindowSeconds: number;
  /** Dedup window of the Glue job (`--dedup_window_hours`). */
  readonly dedupWindowHours: number;
  /** Glue Data Catalog database; the contract's name, configurable so two deployments can share an account. */
  readonly glueDatabaseName: string;
  /** Days before `raw/` objects move to S3 Standard-IA (at least 30, S3's own minimum). */
  readonly rawArchiveInfrequentAccessDays: number;
  /** Days before `raw/` objects are deleted; 0 keeps them for ever. */
  readonly rawArchiveExpirationDays: number;
  readonly deltaMode: DeltaMode;
  /** Requests per second and burst, per stage (account limits still apply). */
  readonly httpThrottleRate: number;
  readonly httpThrottleBurst: number;
  readonly wsThrottleRate: number;
  readonly wsThrottleBurst: number;
  /** Optional e-mail address subscribed to the alarm topic. */
  readonly alarmEmail: string | undefined;
}

export const DEFAULT_SETTINGS = Object.freeze({
  stageName: 'prod',
  streamRetentionHours: 24,
  firehoseBufferingSeconds: 300,
  firehoseBufferingMiB: 64,
  glueVersion: '4.0',
  glueWorkerType: 'G.025X',
  glueWorkerCount: 2,
  glueWindowSeconds: 100,
  dedupWindowHours: 24,
  glueDatabaseName: 'delta_lake_events_db',
  rawArchiveInfrequentAccessDays: 30,
  rawArchiveExpirationDays: 0,
  deltaMode: 'streaming',
  httpThrottleRate: 1000,
  httpThrottleBurst: 2000,
  wsThrottleRate: 1000,
  wsThrottleBurst: 2000,
} satisfies Omit<StackSettings, 'issuerEndpoint' | 'alarmEmail'>);

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

const GLUE_WORKER_TYPES = ['G.025X', 'G.1X', 'G.2X', 'G.4X', 'G.8X'];

/** `context(key)` is `node.tryGetContext`: strings from `-c`, any JSON value from cdk.json. */
export function readStackSettings(context: (key: string) => unknown): StackSettings {
  const problems: string[] = [];

  const text = (key: string): string | undefined => {
    const value = context(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') {
      problems.push(`${key} must be a string, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  };
  const integer = (key: keyof typeof DEFAULT_SETTINGS, min: number, max: number): number => {
    const fallback = DEFAULT_SETTINGS[key] as number;
    const value = context(key);
    if (value === undefined || value === null || value === '') return fallback;
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return n;
  };

  const rawIssuer = text('issuerEndpoint');
  let issuerEndpoint = '';
  if (rawIssuer === undefined) {
    problems.push(
      'issuerEndpoint is required: the identity service whose tokens the APIs accept, e.g. ' +
        '`npx cdk deploy --all -c issuerEndpoint=https://id.example.com` (the tokens\' iss, without a trailing slash)',
    );
  } else if (!/^https:\/\/[^/\s]+/.test(rawIssuer)) {
    // Lambda fetches <issuer>/.well-known/jwks.json from the internet; aws-jwt-verify only fetches over https.
    problems.push(`issuerEndpoint must be an https:// URL reachable from AWS, got '${rawIssuer}'`);
  } else {
    issuerEndpoint = rawIssuer.replace(/\/+$/, '');
  }

  const stageName = text('stageName') ?? DEFAULT_SETTINGS.stageName;
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(stageName) || stageName === '$default') {
    problems.push(`stageName must be 1-128 letters, digits, '-' or '_', got '${stageName}'`);
  }

  const glueWorkerType = text('glueWorkerType') ?? DEFAULT_SETTINGS.glueWorkerType;
  if (!GLUE_WORKER_TYPES.includes(glueWorkerType)) {
    problems.push(`glueWorkerType must be one of ${GLUE_WORKER_TYPES.join(', ')}, got '${glueWorkerType}'`);
  }
  const glueVersion = text('glueVersion') ?? DEFAULT_SETTINGS.glueVersion;
  if (!['3.0', '4.0', '5.0'].includes(glueVersion)) problems.push(`glueVersion must be 3.0, 4.0 or 5.0, got '${glueVersion}'`);

  const glueDatabaseName = text('glueDatabaseName') ?? DEFAULT_SETTINGS.glueDatabaseName;
  if (!/^[a-z0-9_]{1,255}$/.test(glueDatabaseName)) {
    problems.push(`glueDatabaseName must be lower-case letters, digits and '_', got '${glueDatabaseName}'`);
  }

  const deltaMode = text('deltaMode') ?? DEFAULT_SETTINGS.deltaMode;
  if (deltaMode !== 'streaming') {
    problems.push(
      `deltaMode '${deltaMode}' is not available: only 'streaming' is built (a scheduled batch job over raw/ needs a ` +
        'batch entry point in glue/ first)',
    );
  }

  const alarmEmail = text('alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(alarmEmail)) {
    problems.push(`alarmEmail must be an e-mail address, got '${alarmEmail}'`);
  }

  const settings: StackSettings = {
    issuerEndpoint,
    stageName,
    // Kinesis allows 24 hours to 365 days.
    streamRetentionHours: integer('streamRetentionHours', 24, 8760),
    // Firehose's own bounds for a Kinesis-sourced S3 destination.
    firehoseBufferingSeconds: integer('firehoseBufferingSeconds', 0, 900),
    firehoseBufferingMiB: integer('firehoseBufferingMiB', 1, 128),
    glueVersion,
    glueWorkerType,
    glueWorkerCount: integer('glueWorkerCount', 2, 299),
    glueWindowSeconds: integer('glueWindowSeconds', 1, 3600),
    dedupWindowHours: integer('dedupWindowHours', 1, 24 * 30),
    glueDatabaseName,
    rawArchiveInfrequentAccessDays: integer('rawArchiveInfrequentAccessDays', 30, 36500),
    rawArchiveExpirationDays: integer('rawArchiveExpirationDays', 0, 36500),
    deltaMode: 'streaming',
    httpThrottleRate: integer('httpThrottleRate', 1, 1_000_000),
    httpThrottleBurst: integer('httpThrottleBurst', 1, 1_000_000),
    wsThrottleRate: integer('wsThrottleRate', 1, 1_000_000),
    wsThrottleBurst: integer('wsThrottleBurst', 1, 1_000_000),
    alarmEmail,
  };
  if (settings.rawArchiveExpirationDays !== 0 && settings.rawArchiveExpirationDays <= settings.rawArchiveInfrequentAccessDays) {
    problems.push('rawArchiveExpirationDays must be 0 (keep) or more than rawArchiveInfrequentAccessDays');
  }
  if (problems.length > 0) {
    throw new SettingsError(`invalid stack settings (CDK context):\n  - ${problems.join('\n  - ')}`);
  }
  return Object.freeze(settings);
}
