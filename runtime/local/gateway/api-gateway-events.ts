import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import type { WsAuthorizerContext } from '../../handlers/ws-authorizer.ts';
import type { WsEvent } from '../../handlers/ws-message-handler.ts';
import { PARSED_BODY } from '../../handlers/ws-message-handler.ts';

/**
 * Translations from Node's HTTP world into the event shapes API Gateway hands to Lambda, so the local gateway can
 * invoke the very handler functions AWS runs. Only the fields the handlers (and sensible Lambda code) read are
 * filled in; identifiers are local stand-ins.
 */
const ACCOUNT = '000000000000';
const API_ID = 'local';
const STAGE = '$default';

export function httpApiEvent(req: IncomingMessage, url: URL, body: Buffer): APIGatewayProxyEventV2 {
  const now = new Date();
  const method = req.method ?? 'GET';
  const routeKey = `${method} ${url.pathname}`;
  const isText = body.byteLength === 0 || isTextContent(req.headers['content-type']);
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: flattenHeaders(req.headers),
    ...(url.search ? { queryStringParameters: queryParameters(url) } : {}),
    requestContext: {
      accountId: ACCOUNT,
      apiId: API_ID,
      domainName: url.host,
      domainPrefix: url.hostname.split('.')[0] ?? url.hostname,
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: STAGE,
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !isText,
  };
}

export function wsAuthorizerEvent(req: IncomingMessage, url: URL, connectionId: string): APIGatewayRequestAuthorizerEvent {
  const headers = flattenHeaders(req.headers);
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:local:${ACCOUNT}:${API_ID}/${STAGE}/$connect`,
    resource: '$connect',
    path: url.pathname,
    httpMethod: 'GET',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    pathParameters: null,
    queryStringParameters: queryParameters(url),
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: ACCOUNT,
      apiId: API_ID,
      authorizer: undefined,
      connectionId,
      domainName: url.host,
      eventType: 'CONNECT',
      extendedRequestId: connectionId,
      httpMethod: 'GET',
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1' },
      path: url.pathname,
      protocol: 'HTTP/1.1',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: '$connect',
      resourcePath: '/',
      routeKey: '$connect',
      stage: STAGE,
    } as unknown as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}

export interface WsConnectionInfo {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly domainName: string;
  readonly authorizer: WsAuthorizerContext;
}

export function wsRouteEvent(
  connection: WsConnectionInfo,
  routeKey: string,
  eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
  body?: string,
  parsed?: { parsed?: unknown },
): WsEvent {
  const now = Date.now();
  const event: WsEvent = {
    requestContext: {
      routeKey,
      messageId: randomUUID(),
      eventType,
      extendedRequestId: randomUUID(),
      requestTime: new Date(now).toISOString(),
      messageDirection: 'IN',
      stage: STAGE,
      connectedAt: connection.connectedAt,
      requestTimeEpoch: now,
      requestId: randomUUID(),
      domainName: connection.domainName,
      connectionId: connection.connectionId,
      apiId: API_ID,
      authorizer: connection.authorizer,
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
  };
  if (parsed !== undefined && 'parsed' in parsed) event[PARSED_BODY] = parsed.parsed;
  return event;
}

/**
 * The WebSocket API's route selection expression, `$request.body.action`, as API Gateway evaluates it: the parsed
 * body's `action` when it names a route, else `$default`. The parsed body is handed on, so the handler does not
 * parse the same frame a second time (a Lambda behind API Gateway parses it itself).
 */
export function selectRoute(body: string, routes: ReadonlySet<string>): { route: string; parsed?: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { route: '$default' };
  }
  const action = typeof parsed === 'object' && parsed !== null ? (parsed as { action?: unknown }).action : undefined;
  return { route: typeof action === 'string' && routes.has(action) ? action : '$default', parsed };
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return flat;
}

function queryParameters(url: URL): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of url.searchParams) params[key] = key in params ? `${params[key]},${value}` : value;
  return params;
}

function isTextContent(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  return /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript))|\+json|charset=/i.test(contentType);
}
