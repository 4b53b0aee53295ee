import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import type { RestHandler } from '../../handlers/rest-handler.ts';
import type { WsAuthorizer, WsAuthorizerContext } from '../../handlers/ws-authorizer.ts';
import type { WsMessageHandler } from '../../handlers/ws-message-handler.ts';
import type { WsConnectionInfo } from './api-gateway-events.ts';
import { httpApiEvent, selectRoute, wsAuthorizerEvent, wsRouteEvent } from './api-gateway-events.ts';

/** An extra set of HTTP routes mounted on the gateway's server (the dev identity service). */
export type RouteMount = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface GatewayOptions {
  readonly host: string;
  readonly port: number;
  readonly restHandler: RestHandler;
  readonly wsAuthorizer: WsAuthorizer;
  readonly wsMessageHandler: WsMessageHandler;
  readonly mounts?: readonly RouteMount[];
  readonly health?: () => Record<string, unknown>;
  /** API Gateway's WebSocket limits; defaults are AWS's. */
  readonly wsMessageMaxBytes: number;
  readonly wsIdleTimeoutMs: number;
  readonly wsMaxConnectionMs: number;
  readonly logError?: (message: string, error: unknown) => void;
  /** Backpressure: a socket stops being read while it has this many messages in flight… */
  readonly wsMaxInFlightMessages?: number;
  /** …or this many bytes of them, or this many bytes of replies its client has not read yet. */
  readonly wsMaxInFlightBytes?: number;
  readonly wsMaxBufferedBytes?: number;
  /** Open WebSockets allowed per player and in total; an upgrade past either gets 429. */
  readonly wsMaxConnectionsPerPlayer?: number;
  readonly wsMaxConnections?: number;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly connections: () => number;
  /** Sockets whose reading is paused by backpressure, and messages being handled on all sockets. */
  readonly flow: () => { paused: number; inFlightMessages: number };
  /** Stops accepting, lets in-flight requests and messages finish, then closes every socket. */
  close(): Promise<void>;
}

/** API Gateway's HTTP API payload limit; the handler applies the product's own, smaller one. */
const HTTP_PAYLOAD_MAX_BYTES = 10 * 1024 * 1024;
const WS_ROUTE_KEYS: ReadonlySet<string> = new Set(['put-records', 'ping']);
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET,POST,OPTIONS',
  'access-control-allow-headers': 'authorization,content-type',
  'access-control-max-age': '600',
};
/** Close codes API Gateway uses: 1001 when it ends a connection (idle or time limit, shutdown). */
const CLOSE_GOING_AWAY = 1001;

interface Connection extends WsConnectionInfo {
  lastActivity: number;
  inFlight: number;
  inFlightBytes: number;
}

/**
 * The one-machine stand-in for API Gateway: one HTTP server with the REST routes, the WebSocket upgrade at `/`
 * and mounted extras. It turns each request and frame into API Gateway's event shape and calls the same handler
 * functions Lambda runs; it holds no intake logic of its own, only API Gateway's own behaviour (routing, route
 * selection, limits, CORS).
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const logError = options.logError ?? ((message, error) => console.error(message, error));
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work)).catch(() => {});
    return work;
  };
  const sockets = new Map<WebSocket, Connection>();
  /** Open sockets per player, counting upgrades admitted and not yet done, so racing upgrades cannot pass the limit. */
  const playerConnections = new Map<string, number>();
  /** Upgrades past the limit checks whose `$connect` has not finished yet. */
  let upgrading = 0;
  /** Requests still receiving their body: nothing of theirs is accepted yet, so shutdown cuts them at once. */
  const readingBodies = new Set<IncomingMessage>();
  let closing = false;

  const wss = new WebSocketServer({ noServer: true, maxPayload: options.wsMessageMaxBytes, perMessageDeflate: false });
  const server = createServer((req, res) => {
    void track(serveHttp(req, res)).catch((error) => {
      logError('unexpected failure serving an HTTP request', error);
      if (!res.headersSent) send(res, 500, 'Failed');
    });
  });
  server.keepAliveTimeout = 65_000;

  async function serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS_HEADERS).end();
      return;
    }
    if (req.method === 'GET' && url.pathname === '/health') {
      send(res, 200, { status: closing ? 'stopping' : 'ok', ...(options.health?.() ?? {}) });
      return;
    }
    if (url.pathname === '/put-record' || url.pathname === '/put-records') {
      if (req.method !== 'POST') {
        send(res, 404, { error: 'not_found', message: `use POST ${url.pathname}` });
        return;
      }
      readingBodies.add(req);
      const body = await readBody(req, HTTP_PAYLOAD_MAX_BYTES).finally(() => readingBodies.delete(req));
      if (body === 'aborted') return; // the client went away, or shutdown cut a body that never completed
      if (body === 'too_large') {
        // Answer at once, then stop reading: the rest of the body is not worth receiving (API Gateway cuts at 10 MiB).
        res.setHeader('connection', 'close');
        send(res, 413, { error: 'too_large', message: `the body exceeds ${HTTP_PAYLOAD_MAX_BYTES} bytes` });
        // A short grace before the cut, so the client reads the answer instead of a reset.
        res.once('finish', () => setTimeout(() => req.destroy(), 1000).unref());
        return;
      }
      const result = await options.restHandler(httpApiEvent(req, url, body));
      res.writeHead(result.statusCode ?? 200, { ...CORS_HEADERS, ...stringHeaders(result.headers) });
      res.end(result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? ''));
      return;
    }
    for (const mount of options.mounts ?? []) {
      if (await mount(req, res, url)) return;
    }
    send(res, 404, { error: 'not_found', message: `no route for ${req.method} ${url.pathname}` });
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void track(upgrade(req, socket, head)).catch((error) => {
      logError('unexpected failure during a WebSocket upgrade', error);
      refuse(socket, 500, 'Internal Server Error');
    });
  });

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    if (url.pathname !== '/' || closing) {
      refuse(socket, closing ? 503 : 404, closing ? 'Service Unavailable' : 'Not Found');
      return;
    }
    const connectionId = randomUUID();
    let authorizer: WsAuthorizerContext;
    try {
      const result = await options.wsAuthorizer(wsAuthorizerEvent(req, url, connectionId));
      const allowed = result.policyDocument.Statement.some((statement) => statement.Effect === 'Allow');
      if (!allowed) {
        refuse(socket, 403, 'Forbidden');
        return;
      }
      authorizer = result.context as unknown as WsAuthorizerContext;
    } catch {
      refuse(socket, 401, 'Unauthorized');
      return;
    }
    if (socket.destroyed) return;
    if (sockets.size + upgrading >= (options.wsMaxConnections ?? Number.POSITIVE_INFINITY)) {
      refuse(socket, 429, 'Too Many Requests');
      return;
    }
    const player = authorizer.playerId;
    const perPlayer = options.wsMaxConnectionsPerPlayer ?? Number.POSITIVE_INFINITY;
    if ((playerConnections.get(player) ?? 0) >= perPlayer) {
      refuse(socket, 429, 'Too Many Requests');
      return;
    }
    // Hold the slot from the check on: between here and accept() there are awaits, and other upgrades run.
    playerConnections.set(player, (playerConnections.get(player) ?? 0) + 1);
    upgrading++;
    let accepted = false;
    try {
      await connectSocket(req, socket, head, url, connectionId, authorizer, () => {
        accepted = true;
      });
    } finally {
      upgrading--;
      if (!accepted) releasePlayerSlot(player);
    }
  }

  function releasePlayerSlot(player: string): void {
    const open = (playerConnections.get(player) ?? 1) - 1;
    if (open > 0) playerConnections.set(player, open);
    else playerConnections.delete(player);
  }

  async function connectSocket(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    url: URL,
    connectionId: string,
    authorizer: WsAuthorizerContext,
    onAccepted: () => void,
  ): Promise<void> {
    const now = Date.now();
    const connection: Connection = {
      connectionId,
      connectedAt: now,
      domainName: url.host,
      authorizer,
      lastActivity: now,
      inFlight: 0,
      inFlightBytes: 0,
    };
    const connected = await options.wsMessageHandler(wsRouteEvent(connection, '$connect', 'CONNECT'));
    if (connected.statusCode >= 300) {
      refuse(socket, connected.statusCode, 'Forbidden');
      return;
    }
    // ws calls back at once, or never when the socket died meanwhile (then the slot is released).
    wss.handleUpgrade(req, socket, head, (ws) => {
      onAccepted();
      accept(ws, connection);
    });
  }

  /** A socket whose player slot is already counted (see upgrade()). */
  function accept(ws: WebSocket, connection: Connection): void {
    sockets.set(ws, connection);
    const player = connection.authorizer.playerId;
    ws.on('message', (data: RawData) => {
      connection.lastActivity = Date.now();
      const body = rawText(data);
      // Only the size is kept for the callbacks below: the frame's text must not outlive its handling.
      const bytes = body.length;
      connection.inFlight++;
      connection.inFlightBytes += bytes;
      updateFlow(ws, connection);
      void track(
        options
          .wsMessageHandler(routedEvent(connection, body))
          .then((result) => {
            if (result.body !== undefined && ws.readyState === ws.OPEN) ws.send(result.body);
          })
          .catch((error) => logError('unexpected failure handling a WebSocket message', error))
          .finally(() => {
            connection.inFlight--;
            connection.inFlightBytes -= bytes;
            updateFlow(ws, connection);
          }),
      );
    });
    ws.on('pong', () => {
      connection.lastActivity = Date.now();
    });
    ws.on('error', () => {
      // ws closes the socket itself (oversize message → 1009, protocol error → 1002); 'close' follows.
    });
    ws.on('close', () => {
      sockets.delete(ws);
      releasePlayerSlot(player);
      void track(options.wsMessageHandler(wsRouteEvent(connection, '$disconnect', 'DISCONNECT'))).catch((error) =>
        logError('unexpected failure in $disconnect', error),
      );
    });
  }

  /**
   * Backpressure: a client that sends faster than the stream commits, or does not read its acks, stops being read
   * (TCP then slows it down) until it catches up, so it cannot grow the server's memory; other sockets go on.
   */
  const maxInFlight = options.wsMaxInFlightMessages ?? 32;
  const maxInFlightBytes = options.wsMaxInFlightBytes ?? 2 * 1024 * 1024;
  const maxBuffered = options.wsMaxBufferedBytes ?? 1024 * 1024;
  function updateFlow(ws: WebSocket, connection: Connection): void {
    const full =
      connection.inFlight >= maxInFlight || connection.inFlightBytes >= maxInFlightBytes || ws.bufferedAmount >= maxBuffered;
    if (full && !ws.isPaused) ws.pause();
    else if (!full && ws.isPaused && ws.readyState === ws.OPEN) ws.resume();
  }

  // One sweep for all sockets is cheaper than a timer per socket reset on every message.
  const sweepEveryMs = Math.max(10, Math.min(250, options.wsIdleTimeoutMs / 4, options.wsMaxConnectionMs / 4));
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [ws, connection] of sockets) {
      // A socket paused for unread replies resumes here once its client has read them.
      if (ws.isPaused) updateFlow(ws, connection);
      if (now - connection.connectedAt >= options.wsMaxConnectionMs) ws.close(CLOSE_GOING_AWAY, 'connection time limit');
      else if (connection.inFlight === 0 && now - connection.lastActivity >= options.wsIdleTimeoutMs) {
        ws.close(CLOSE_GOING_AWAY, 'idle timeout');
      }
    }
  }, sweepEveryMs);
  sweeper.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    url: `http://${urlHost}:${port}/`,
    port,
    connections: () => sockets.size,
    flow: () => {
      let paused = 0;
      let inFlightMessages = 0;
      for (const [ws, connection] of sockets) {
        if (ws.isPaused) paused++;
        inFlightMessages += connection.inFlight;
      }
      return { paused, inFlightMessages };
    },
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(sweeper);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A request still receiving its body has nothing accepted yet: cut it rather than wait on a stalled client.
      for (const req of readingBodies) req.destroy();
      // Drain: requests and messages already received finish (and are acked) before their sockets close.
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      for (const ws of sockets.keys()) ws.close(CLOSE_GOING_AWAY, 'server shutting down');
      await Promise.race([
        Promise.all([...sockets.keys()].map((ws) => new Promise((resolve) => ws.once('close', resolve)))),
        new Promise((resolve) => setTimeout(resolve, 2000).unref()),
      ]);
      for (const ws of sockets.keys()) ws.terminate();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      wss.close();
      await stopped;
    },
  };
}

function routedEvent(connection: Connection, body: string) {
  const selected = selectRoute(body, WS_ROUTE_KEYS);
  return wsRouteEvent(connection, selected.route, 'MESSAGE', body, selected);
}

/** The whole body; 'too_large' as soon as it passes `maxBytes` (the rest is discarded); 'aborted' if it never completes. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too_large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.byteLength;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      tooLarge = true;
      chunks.length = 0;
      resolve('too_large');
    });
    req.on('end', () => resolve(tooLarge ? 'too_large' : Buffer.concat(chunks, size)));
    req.on('error', () => resolve('aborted'));
    req.on('close', () => resolve(tooLarge ? 'too_large' : 'aborted')); // after 'end' this changes nothing
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...CORS_HEADERS, 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)]));
}

function refuse(socket: Duplex, status: number, reason: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(reason);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
