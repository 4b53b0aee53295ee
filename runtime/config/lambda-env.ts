/**
 * The Lambda handlers' configuration. The variable names are constants that `infra/` imports as well, so the
 * stack and the handlers cannot drift apart. Read once, reported all at once.
 */
export const LAMBDA_ENV = {
  /** The identity service's base URL, exactly as in the tokens' `iss`. */
  issuer: 'TELEMETRY_ISSUER',
  /** The hub Kinesis stream (name or ARN). */
  streamName: 'TELEMETRY_STREAM_NAME',
  streamArn: 'TELEMETRY_STREAM_ARN',
  /** Per-player events per second (0: no limit) and burst, per warm container; defaults 5000 and 50 000. */
  rateLimit: 'TELEMETRY_RATE_LIMIT',
  rateBurst: 'TELEMETRY_RATE_BURST',
} as const;

export interface LambdaConfig {
  readonly issuer: string;
  readonly stream: { readonly streamName: string } | { readonly streamArn: string };
  /** Absent when rate limiting is off. */
  readonly rateLimit?: { readonly ratePerSecond: number; readonly burst: number };
}

export class LambdaConfigError extends Error {
  override readonly name = 'LambdaConfigError';
}

export function readLambdaConfig(env: Readonly<Record<string, string | undefined>>): LambdaConfig {
  const problems: string[] = [];
  const issuer = env[LAMBDA_ENV.issuer]?.replace(/\/+$/, '');
  if (!issuer) problems.push(`${LAMBDA_ENV.issuer} is not set: the identity service's base URL (the tokens' iss)`);
  else if (!/^https?:\/\//.test(issuer)) problems.push(`${LAMBDA_ENV.issuer} must be an http(s) URL, got '${issuer}'`);
  const streamArn = env[LAMBDA_ENV.streamArn];
  const streamName = env[LAMBDA_ENV.streamName];
  if (!streamArn && !streamName) problems.push(`set ${LAMBDA_ENV.streamName} or ${LAMBDA_ENV.streamArn}: the hub stream`);
  const ratePerSecond = Number(env[LAMBDA_ENV.rateLimit] ?? 5000);
  const burst = Number(env[LAMBDA_ENV.rateBurst] ?? 50_000);
  if (!Number.isFinite(ratePerSecond) || ratePerSecond < 0) problems.push(`${LAMBDA_ENV.rateLimit} must be a number ≥ 0`);
  if (!Number.isFinite(burst) || burst < 1) problems.push(`${LAMBDA_ENV.rateBurst} must be a number ≥ 1`);
  if (problems.length > 0) throw new LambdaConfigError(`invalid Lambda configuration:\n  - ${problems.join('\n  - ')}`);
  return Object.freeze({
    issuer: issuer!,
    stream: streamArn ? { streamArn } : { streamName: streamName! },
    ...(ratePerSecond > 0 ? { rateLimit: { ratePerSecond, burst } } : {}),
  });
}
