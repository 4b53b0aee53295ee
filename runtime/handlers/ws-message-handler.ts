import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { RateLimitedError, TelemetryError } from '../core/errors.ts';
import { batchEvents, parseJson } from '../core/intake.ts';
import type { HandlerDeps } from './deps.ts';
import { defaultLogError } from './deps.ts';
import type { IngestResult } from './ingest.ts';
import { ingestEvents } from './ingest.ts';
import type { WsAuthorizerContext } from './ws-authorizer.ts';

/**
 * The body already parsed by whoever selected the route (the local gateway, which must parse it to evaluate
 * `$request.body.action`); API Gateway passes only the text, and then the handler parses it.
 */
export const PARSED_BODY: unique symbol = Symbol('telemetry.parsedBody');

/** A WebSocket route event as API Gateway delivers it, with the `$connect` authorizer's context attached. */
export type WsEvent = APIGatewayProxyWebsocketEventV2 & {
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & { authorizer?: Partial<WsAuthorizerContext> };
  [PARSED_BODY]?: unknown;
};

export type WsMessageHandler = (event: WsEvent) => Promise<{ statusCode: number; body?: string }>;

/** The route keys of the WebSocket API; route selection is `$request.body.action`. */
export const WS_ROUTES = ['$connect', '$disconnect', 'put-records', 'ping', '$default'] as const;

/**
 * Every WebSocket route. `put-records` and `ping` are two-way routes: the returned body is the reply frame, so an
 * ack costs no PostToConnection call. An ack is returned only once the accepted events are durable.
 */
export function createWsMessageHandler(deps: HandlerDeps): WsMessageHandler {
  const now = deps.now ?? Date.now;
  const logError = deps.logError ?? defaultLogError;

  // Not async on purpose (see ingestEvents): only the batch id and the pending commit outlive this call, not the
  // event and its parsed body.
  return (event) => {
    let routeKey: string;
    try {
      ({ routeKey } = event.requestContext);
    } catch (error) {
      return Promise.reject(error); // as an async function would: the caller always gets a promise
    }
    if (routeKey === '$connect' || routeKey === '$disconnect') return Promise.resolve({ statusCode: 200 });
    let id: string | undefined;
    try {
      const message = PARSED_BODY in event ? event[PARSED_BODY] : parseJson(event.body ?? '');
      id = batchIdOf(message);
      if (routeKey === 'ping') return Promise.resolve(reply({ type: 'pong' }));
      if (routeKey !== 'put-records') throw unknownAction(message);
      if (id === undefined) throw new TelemetryError('missing_field', 'a put-records message needs an "id" string', 'id');

      const playerId = event.requestContext.authorizer?.playerId;
      // API Gateway never routes a message of an unauthorized connection; this guards a misconfigured stage.
      if (!playerId) throw new TelemetryError('unauthorized', 'the connection has no verified player');
      return acknowledge(id, ingestEvents(batchEvents(message), { playerId, source: 'ws', now: now() }, deps.sink, deps.rateLimiter), logError);
    } catch (error) {
      return Promise.resolve(errorReply(id, error, logError));
    }
  };
}

/** The ack once the batch is durable, or the error frame. */
async function acknowledge(
  id: string,
  ingest: Promise<IngestResult>,
  logError: (message: string, error: unknown) => void,
): Promise<{ statusCode: number; body: string }> {
  try {
    const result = await ingest;
    return reply({ type: 'ack', id, accepted: result.accepted, rejected: result.rejected });
  } catch (error) {
    return errorReply(id, error, logError);
  }
}

function errorReply(id: string | undefined, error: unknown, logError: (message: string, error: unknown) => void) {
  if (!(error instanceof TelemetryError)) logError('unexpected failure in the WebSocket handler', error);
  else if (error.code === 'stream_unavailable') logError('the hub stream refused records', error.cause ?? error);
  const known = error instanceof TelemetryError ? error : new TelemetryError('stream_unavailable', 'internal error; retry later');
  return reply({
    type: 'error',
    ...(id === undefined ? {} : { id }),
    error: known.code,
    message: known.message,
    ...(known.field === undefined ? {} : { field: known.field }),
    ...(known instanceof RateLimitedError ? { retry_after_ms: known.retryAfterMs } : {}),
  });
}

function batchIdOf(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const id = (message as { id?: unknown }).id;
  if (id === undefined) return undefined;
  if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
    throw new TelemetryError('invalid_value', '"id" must be a string of 1–128 characters', 'id');
  }
  return id;
}

function unknownAction(message: unknown): TelemetryError {
  const action = typeof message === 'object' && message !== null ? (message as { action?: unknown }).action : undefined;
  if (action === undefined) {
    return new TelemetryError('missing_field', 'a message needs an "action": "put-records" or "ping"', 'action');
  }
  return new TelemetryError('unknown_action', `unknown action ${JSON.stringify(action)}: use "put-records" or "ping"`, 'action');
}

function reply(body: unknown): { statusCode: number; body: string } {
  return { statusCode: 200, body: JSON.stringify(body) };
}
