import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { tokenFromAuthorizationHeader } from '../adapters/token-verifier.ts';
import type { ErrorCode } from '../core/errors.ts';
import { RateLimitedError, TelemetryError, UnauthorizedError } from '../core/errors.ts';
import { batchEvents, parseJson } from '../core/intake.ts';
import { LIMITS } from '../core/limits.ts';
import type { HandlerDeps } from './deps.ts';
import { defaultLogError } from './deps.ts';
import { ingestEvents } from './ingest.ts';

export type RestHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The original API's success body, which its clients parse. */
export const SUCCESS_BODY = 'Successfully added event';

const STATUS: Record<ErrorCode, number> = {
  malformed_json: 400,
  invalid_request: 400,
  missing_field: 400,
  wrong_type: 400,
  unknown_field: 400,
  invalid_value: 400,
  invalid_timestamp: 400,
  too_many_events: 400,
  unknown_action: 400,
  too_large: 413,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  rate_limited: 429,
  stream_unavailable: 500,
};

/**
 * `POST /put-record` and `POST /put-records` behind an API Gateway HTTP API (payload format 2.0).
 * Decode → core → encode; the same function serves Lambda and the local gateway.
 */
export function createRestHandler(deps: HandlerDeps): RestHandler {
  const now = deps.now ?? Date.now;
  const logError = deps.logError ?? defaultLogError;

  return async (event) => {
    try {
      const route = routeOf(event);
      const token = tokenFromAuthorizationHeader(header(event, 'authorization'));
      if (token === undefined) throw new UnauthorizedError();
      const { playerId } = await deps.verifier.verify(token);
      const body = parseJson(bodyText(event));
      const context = { playerId, source: 'rest' as const, now: now() };

      if (route === 'put-record') {
        const { rejected } = await ingestEvents([body], context, deps.sink, deps.rateLimiter);
        const failure = rejected[0];
        if (failure) throw new TelemetryError(failure.error, failure.message, failure.field);
        return json(200, SUCCESS_BODY);
      }
      const { accepted, rejected } = await ingestEvents(batchEvents(body), context, deps.sink, deps.rateLimiter);
      return json(200, { accepted, rejected });
    } catch (error) {
      return errorResponse(error, logError);
    }
  };
}

function routeOf(event: APIGatewayProxyEventV2): 'put-record' | 'put-records' {
  // HTTP APIs give the matched route as "POST /put-record"; the raw path may carry a stage prefix.
  const [method, path] = (event.routeKey ?? '').split(' ');
  const name = (path ?? event.rawPath ?? '').split('/').pop();
  if (name !== 'put-record' && name !== 'put-records') {
    throw new TelemetryError('not_found', 'no such route: use POST /put-record or POST /put-records');
  }
  if ((method ?? event.requestContext?.http?.method) !== 'POST') {
    throw new TelemetryError('method_not_allowed', `use POST /${name}`);
  }
  return name;
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  // Payload format 2.0 lower-cases header names; a hand-built event might not.
  const headers = event.headers ?? {};
  return headers[name] ?? Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
}

function bodyText(event: APIGatewayProxyEventV2): string {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : undefined;
  const size = bytes ? bytes.byteLength : Buffer.byteLength(raw);
  if (size > LIMITS.restBodyMaxBytes) {
    throw new TelemetryError('too_large', `the body is ${size} bytes; at most ${LIMITS.restBodyMaxBytes} are accepted`);
  }
  if (size === 0) throw new TelemetryError('invalid_request', 'the body is empty: send an event as JSON');
  return bytes ? bytes.toString('utf8') : raw;
}

function errorResponse(error: unknown, logError: (message: string, error: unknown) => void): APIGatewayProxyStructuredResultV2 {
  if (!(error instanceof TelemetryError)) {
    logError('unexpected failure in the REST handler', error);
    return json(500, 'Failed');
  }
  const status = STATUS[error.code];
  // The original API's bodies for these two, which existing clients compare against.
  if (error.code === 'unauthorized') return json(status, 'Unauthorized');
  if (error.code === 'stream_unavailable') {
    logError('the hub stream refused records', error.cause ?? error);
    return json(status, 'Failed');
  }
  const body = { error: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) };
  if (error instanceof RateLimitedError) {
    const response = json(status, { ...body, retry_after_ms: error.retryAfterMs });
    return { ...response, headers: { ...response.headers, 'retry-after': String(Math.ceil(error.retryAfterMs / 1000)) } };
  }
  return json(status, body);
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
