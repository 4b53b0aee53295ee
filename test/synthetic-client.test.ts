// The synthetic client against small real servers on loopback (port 0): a dev-identity stand-in, a WebSocket
// intake and a REST intake that implement just enough of ARCHITECTURE.md to ack, refuse, throttle and drop.
import { once } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from 'ws';
import { EVENT_TYPES, MOVIE_QUOTES, type SyntheticEvent } from '../clients/synthetic/events.ts';
import { GuestSession, IdentityClient } from '../clients/telemetry-client/identity.ts';
import { type RunOptions, type Summary, runSynthetic } from '../clients/synthetic/run.ts';

// ---------------------------------------------------------------------------------------------------------
// Fake servers

interface Frame {
  readonly action: string;
  readonly id: string;
  readonly events: SyntheticEvent[];
}

interface Connection {
  readonly number: number;
  readonly socket: WebSocket;
  readonly token: string;
  /** Every put-records frame received, parsed, with its raw text. */
  readonly frames: { frame: Frame; raw: string }[];
}

interface RestRequest {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: string;
  readonly at: number;
}

type RestReply = { status: number; body: unknown; headers?: Record<string, string> };

class FakeServer {
  readonly logins: URLSearchParams[] = [];
  refreshes = 0;
  tcpConnections = 0;
  readonly connections: Connection[] = [];
  readonly restRequests: RestRequest[] = [];
  /** Access tokens the intake accepts; `revokeAccessTokens` simulates a restart with new keys. */
  readonly validAccess = new Set<string>();
  readonly validRefresh = new Map<string, string>(); // refresh token → user id
  /** Decides what to do with a put-records frame; the default acks it at once. */
  onFrame: (conn: Connection, frame: Frame, raw: string) => void = (conn, frame) => ack(conn, frame);
  /** Decides the answer to a REST call; the default accepts everything. */
  onRest: (request: RestRequest, index: number) => RestReply | undefined = () => undefined;
  authTokenExpiresIn = 900;
  pings = 0;
  answerPings = true;

  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private tokens = 0;

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', () => this.tcpConnections++);
    this.server.on('upgrade', (req, socket, head) => {
      const token = new URL(req.url ?? '/', 'http://x').searchParams.get('auth_token') ?? '';
      if (!this.validAccess.has(token)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const conn: Connection = { number: this.connections.length + 1, socket: ws, token, frames: [] };
        this.connections.push(conn);
        ws.on('message', (data) => {
          const raw = data.toString();
          const message = JSON.parse(raw) as { action: string };
          if (message.action === 'ping') {
            this.pings++;
            if (this.answerPings) ws.send(JSON.stringify({ type: 'pong' }));
          }
          else if (message.action === 'put-records') {
            conn.frames.push({ frame: message as Frame, raw });
            this.onFrame(conn, message as Frame, raw);
          }
        });
      });
    });
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  get wsUrl(): string {
    return this.httpUrl.replace('http:', 'ws:');
  }

  revokeAccessTokens(): void {
    this.validAccess.clear();
  }

  /** Every frame received, over all connections, in arrival order per connection. */
  allFrames(): { conn: number; frame: Frame; raw: string }[] {
    return this.connections.flatMap((c) => c.frames.map((f) => ({ conn: c.number, ...f })));
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private issue(userId: string, guestSecret: string): Record<string, unknown> {
    const n = ++this.tokens;
    const auth = `access-${n}`;
    const refresh = `refresh-${n}`;
    this.validAccess.add(auth);
    this.validRefresh.set(refresh, userId);
    return {
      user_id: userId,
      guest_secret: guestSecret,
      auth_token: auth,
      refresh_token: refresh,
      auth_token_expires_in: this.authTokenExpiresIn,
      refresh_token_expires_in: 518_400,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/login-as-guest') {
      this.logins.push(url.searchParams);
      const userId = url.searchParams.get('user_id') ?? `user-${this.logins.length}`;
      const secret = url.searchParams.get('guest_secret') ?? `secret-${userId}`;
      if (secret !== `secret-${userId}`) return reply(401, 'Unauthorized');
      return reply(200, this.issue(userId, secret));
    }
    if (req.method === 'GET' && url.pathname === '/refresh-access-token') {
      this.refreshes++;
      const userId = this.validRefresh.get(url.searchParams.get('refresh_token') ?? '');
      if (userId === undefined) return reply(401, 'Unauthorized');
      const { auth_token, auth_token_expires_in } = this.issue(userId, `secret-${userId}`);
      return reply(200, { auth_token, auth_token_expires_in });
    }
    if (req.method === 'POST' && (url.pathname === '/put-records' || url.pathname === '/put-record')) {
      let body = '';
      for await (const chunk of req) body += chunk;
      const request: RestRequest = { path: url.pathname, authorization: req.headers.authorization, body, at: performance.now() };
      this.restRequests.push(request);
      if (!this.validAccess.has(req.headers.authorization ?? '')) return reply(401, 'Unauthorized');
      const custom = this.onRest(request, this.restRequests.length - 1);
      if (custom) return reply(custom.status, custom.body, custom.headers);
      if (url.pathname === '/put-record') return reply(200, 'Successfully added event');
      const { events } = JSON.parse(body) as { events: unknown[] };
      return reply(200, { accepted: events.length, rejected: [] });
    }
    reply(404, { error: 'not_found', message: `${req.method} ${url.pathname}` });
  }
}

function ack(conn: Connection, frame: Frame, rejected: { index: number; error: string; message: string }[] = []): void {
  conn.socket.send(JSON.stringify({ type: 'ack', id: frame.id, accepted: frame.events.length - rejected.length, rejected }));
}

// Short timings so that reconnects and retries take milliseconds.
const FAST = { backoffBaseMs: 10, backoffMaxMs: 50, giveUpAfterMs: 3000, drainTimeoutMs: 500 } as const;

async function withServer(body: (server: FakeServer) => Promise<void>): Promise<void> {
  const server = await new FakeServer().start();
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

function wsRun(server: FakeServer, options: RunOptions): Promise<Summary> {
  return runSynthetic({
    loginEndpoint: server.httpUrl,
    backendEndpoint: server.wsUrl,
    ...options,
    tuning: { ...FAST, ...options.tuning },
  });
}

function restRun(server: FakeServer, options: RunOptions): Promise<Summary> {
  return wsRun(server, { transport: 'rest', backendEndpoint: server.httpUrl, ...options });
}

/** Event ids the server received, once each. */
function uniqueEventIds(frames: readonly { frame: Frame }[]): Set<string> {
  return new Set(frames.flatMap(({ frame }) => frame.events.map((e) => e.event_id)));
}

// ---------------------------------------------------------------------------------------------------------
// WebSocket

test('ws: every event acked and counted once; each player logs in and opens its own socket', () =>
  withServer(async (server) => {
    const summary = await wsRun(server, { maxCount: 1000, batch: 100, players: 2 });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.generated, 1000);
    assert.is(summary.sent, 1000);
    assert.is(summary.acked, 1000);
    assert.is(summary.rejected, 0);
    assert.is(summary.unacked, 0);
    assert.is(summary.resentBatches, 0);
    assert.is(summary.reconnects, 0);
    assert.is(summary.ackLatencyMs.batches, 10);
    assert.ok(summary.ackLatencyMs.p50 >= 0 && summary.ackLatencyMs.p99 >= summary.ackLatencyMs.p50);
    assert.is(server.logins.length, 2);
    assert.is(server.connections.length, 2);
    assert.is(new Set(server.connections.map((c) => c.token)).size, 2, 'one guest per socket');
    assert.is(uniqueEventIds(server.allFrames()).size, 1000);
  }),
);

test('ws: events have the contract shape, types from the list, parseable timestamps, unique ids', () =>
  withServer(async (server) => {
    const started = Date.now();
    await wsRun(server, { maxCount: 300, batch: 50 });
    const events = server.allFrames().flatMap(({ frame }) => frame.events);
    assert.is(events.length, 300);
    const ids = new Set<string>();
    for (const event of events) {
      assert.equal(Object.keys(event).sort(), ['event_data', 'event_id', 'event_type', 'updated_at']);
      assert.ok((EVENT_TYPES as readonly string[]).includes(event.event_type));
      assert.ok(MOVIE_QUOTES.includes(event.event_data));
      assert.match(event.updated_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
      const at = Date.parse(`${event.updated_at.replace(' ', 'T')}Z`);
      assert.ok(at >= started - 1000 && at <= Date.now() + 1000, event.updated_at);
      assert.ok(event.event_id.length >= 1 && event.event_id.length <= 128);
      ids.add(event.event_id);
    }
    assert.is(ids.size, 300);
    assert.ok(new Set(events.map((e) => e.event_type)).size > 1, 'several event types');
  }),
);

test('ws: after the server drops the socket, exactly the unacked batches are re-sent with the same ids and events', () =>
  withServer(async (server) => {
    // Connection 1 acks the first two batches, holds the next four (the whole window), then dies as in a
    // server restart with new keys: the old token gets a 401, so the client must refresh before reconnecting.
    const held: { id: string; raw: string }[] = [];
    server.onFrame = (conn, frame, raw) => {
      if (conn.number > 1) return ack(conn, frame);
      if (conn.frames.length <= 2) return ack(conn, frame);
      held.push({ id: frame.id, raw });
      if (held.length === 4) {
        server.revokeAccessTokens();
        conn.socket.terminate();
      }
    };
    const summary = await wsRun(server, { maxCount: 200, batch: 10, maxInFlight: 4 });

    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(server.connections.length, 2);
    assert.is(server.refreshes, 1, 'the 401 at upgrade was answered with a token refresh');
    assert.is(server.logins.length, 1, 'no new login needed: the refresh token was still good');
    const [first, second] = server.connections;
    assert.is(first?.frames.length, 6);
    const resent = second?.frames.slice(0, 4).map((f) => ({ id: f.frame.id, raw: f.raw }));
    assert.equal(resent, held, 'the held batches, first, in order, byte for byte');
    const acked = new Set(first?.frames.slice(0, 2).map((f) => f.frame.id));
    assert.not.ok(second?.frames.some((f) => acked.has(f.frame.id)), 'acked batches are not re-sent');

    assert.is(summary.acked, 200, 'each event counted once although 40 arrived twice');
    assert.is(server.allFrames().reduce((n, f) => n + f.frame.events.length, 0), 240);
    assert.is(uniqueEventIds(server.allFrames()).size, 200);
    assert.is(summary.sent, 200);
    assert.is(summary.resentBatches, 4);
    assert.is(summary.reconnects, 1);
  }),
);

test('ws: a refused refresh token leads to a new login as the same guest', () =>
  withServer(async (server) => {
    server.onFrame = (conn, frame) => {
      ack(conn, frame);
      if (conn.number === 1 && conn.frames.length === 3) {
        server.revokeAccessTokens();
        server.validRefresh.clear();
        conn.socket.close(1012, 'restart');
      }
    };
    const summary = await wsRun(server, { maxCount: 100, batch: 10, maxInFlight: 1 });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.acked, 100);
    assert.is(server.logins.length, 2);
    assert.is(server.logins[1]?.get('user_id'), 'user-1');
    assert.is(server.logins[1]?.get('guest_secret'), 'secret-user-1');
  }),
);

test('ws: acks out of order are matched by batch id', () =>
  withServer(async (server) => {
    // Hold frames and ack each group of four in reverse order.
    const pending: { conn: Connection; frame: Frame }[] = [];
    let reversed = 0;
    server.onFrame = (conn, frame) => {
      pending.push({ conn, frame });
      if (pending.length === 4) {
        reversed++;
        for (const p of pending.splice(0).reverse()) ack(p.conn, p.frame);
      }
    };
    const summary = await wsRun(server, { maxCount: 400, batch: 25, maxInFlight: 4 });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(reversed, 4);
    assert.is(summary.acked, 400);
    assert.is(summary.ackLatencyMs.batches, 16);
    assert.is(summary.resentBatches, 0);
  }),
);

test('ws: rate_limited and stream_unavailable error frames make the client re-send that batch later', () =>
  withServer(async (server) => {
    const refusedAt = new Map<string, number>();
    const retriedAfter: number[] = [];
    server.onFrame = (conn, frame) => {
      const index = server.allFrames().length;
      if (index === 2 || index === 4) {
        refusedAt.set(frame.id, performance.now());
        const error = index === 2 ? 'rate_limited' : 'stream_unavailable';
        conn.socket.send(JSON.stringify({ type: 'error', id: frame.id, error, message: 'slow down' }));
        return;
      }
      const at = refusedAt.get(frame.id);
      if (at !== undefined) retriedAfter.push(performance.now() - at);
      ack(conn, frame);
    };
    const summary = await wsRun(server, { maxCount: 100, batch: 10, tuning: { backoffBaseMs: 40 } });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.acked, 100);
    assert.is(summary.retryableErrors, 2);
    assert.is(summary.resentBatches, 2);
    assert.is(retriedAfter.length, 2, 'both refused batches came back');
    for (const delay of retriedAfter) assert.ok(delay >= 15, `re-sent after a backoff, not at once (${delay} ms)`);
    const byId = new Map<string, string[]>();
    for (const { frame, raw } of server.allFrames()) byId.set(frame.id, [...(byId.get(frame.id) ?? []), raw]);
    for (const id of refusedAt.keys()) {
      const copies = byId.get(id) ?? [];
      assert.is(copies.length, 2);
      assert.is(copies[0], copies[1], 'the same batch id and events');
    }
  }),
);

test('ws: rejected events are counted per error code, and the run still succeeds', () =>
  withServer(async (server) => {
    server.onFrame = (conn, frame) =>
      ack(conn, frame, [
        { index: 0, error: 'invalid_timestamp', message: 'x' },
        { index: 1, error: 'unknown_field', message: 'y' },
      ]);
    const summary = await wsRun(server, { maxCount: 50, batch: 10 });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.acked, 40);
    assert.is(summary.rejected, 10);
    assert.equal(summary.rejectedByCode, { invalid_timestamp: 5, unknown_field: 5 });
  }),
);

test('ws: messages stay under the size limit (a batch is split when needed)', () =>
  withServer(async (server) => {
    const summary = await wsRun(server, { maxCount: 500, batch: 500, tuning: { maxPayloadBytes: 4096 } });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.acked, 500);
    const frames = server.allFrames();
    assert.ok(frames.length > 1);
    for (const { raw } of frames) assert.ok(Buffer.byteLength(raw) <= 4096, `${Buffer.byteLength(raw)} bytes`);
  }),
);

test('ws: a socket idle while waiting for acks is pinged', () =>
  withServer(async (server) => {
    server.onFrame = (conn, frame) => setTimeout(() => ack(conn, frame), 150);
    const summary = await wsRun(server, { maxCount: 10, batch: 10, tuning: { pingIntervalMs: 30, pongTimeoutMs: 1000 } });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.ok(server.pings >= 1, `${server.pings} pings`);
    assert.is(summary.reconnects, 0, 'answered pings keep the socket');
  }),
);

test('ws: a socket whose pings go unanswered is replaced, and its batches re-sent', () =>
  withServer(async (server) => {
    server.answerPings = false;
    // The first connection swallows everything (a half-open socket); the next one works.
    server.onFrame = (conn, frame) => {
      if (conn.number > 1) ack(conn, frame);
    };
    const summary = await wsRun(server, { maxCount: 20, batch: 10, tuning: { pingIntervalMs: 20, pongTimeoutMs: 60 } });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.acked, 20);
    assert.is(summary.reconnects, 1);
    assert.is(summary.resentBatches, 2);
  }),
);

test('ws: a batch the server never answers is re-sent on a new connection', () =>
  withServer(async (server) => {
    // Connection 1 loses its second batch but otherwise works (acks, pongs).
    server.onFrame = (conn, frame) => {
      if (conn.number === 1 && conn.frames.length === 2) return;
      ack(conn, frame);
    };
    const summary = await wsRun(server, { maxCount: 50, batch: 10, tuning: { ackTimeoutMs: 250 } });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.acked, 50);
    // At least the lost batch comes back, first on the new connection; on a loaded machine a slow ack may add more.
    assert.ok(summary.reconnects >= 1 && summary.resentBatches >= 1, JSON.stringify(summary));
    assert.is(server.connections[1]?.frames[0]?.raw, server.connections[0]?.frames[1]?.raw);
  }),
);

test('ws: an interrupt stops generating, drains the acks and summarises', () =>
  withServer(async (server) => {
    const interrupt = new AbortController();
    const summary = await runSynthetic(
      {
        loginEndpoint: server.httpUrl,
        backendEndpoint: server.wsUrl,
        maxCount: 0,
        rate: 2000,
        batch: 50,
        tuning: { ...FAST, drainTimeoutMs: 2000 },
      },
      {
        signal: interrupt.signal,
        progressIntervalMs: 10,
        // Interrupt once events are flowing, as a user pressing Ctrl-C mid-run.
        onProgress: (progress) => {
          if (progress.acked >= 200) interrupt.abort();
        },
      },
    );
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.ok(summary.interrupted);
    assert.ok(summary.generated > 0);
    assert.is(summary.acked, summary.generated);
  }),
);

test('ws: a server that stays away → gives up after the give-up time, counting what is unacked', () =>
  withServer(async (server) => {
    const wsUrl = server.wsUrl;
    server.onFrame = (conn, frame) => {
      if (conn.frames.length === 2) void server.close();
      else ack(conn, frame);
    };
    const summary = await wsRun(server, { maxCount: 100, batch: 10, maxInFlight: 2, tuning: { giveUpAfterMs: 300 } });
    assert.not.ok(summary.ok);
    assert.ok(summary.error?.includes(`Lost the connection to ${wsUrl}`), summary.error);
    assert.ok(summary.error?.includes('npm start'), summary.error);
    assert.ok(summary.unacked > 0);
    assert.is(summary.acked + summary.unacked, summary.generated);
  }),
);

test('ws: cannot log in → gives up fast, naming the URL and `npm start`', async () => {
  const server = await new FakeServer().start();
  const deadUrl = server.httpUrl;
  await server.close();
  const started = performance.now();
  const summary = await runSynthetic({ loginEndpoint: deadUrl, backendEndpoint: deadUrl, maxCount: 10, tuning: FAST });
  assert.not.ok(summary.ok);
  assert.ok(summary.error?.includes(`${deadUrl}login-as-guest`), summary.error);
  assert.ok(summary.error?.includes('npm start'), summary.error);
  assert.is(summary.generated, 0, 'nothing generated before the first login');
  assert.ok(performance.now() - started < 2000);
});

// ---------------------------------------------------------------------------------------------------------
// REST

test('rest: put-records with the raw token; 429 honours Retry-After, 500 is retried, 400 is not', () =>
  withServer(async (server) => {
    server.onRest = (_request, index) => {
      if (index === 0) return { status: 429, body: { error: 'rate_limited', message: 'slow down' }, headers: { 'retry-after': '1' } };
      if (index === 2) return { status: 500, body: 'Failed' };
      if (index === 4) return { status: 400, body: { error: 'invalid_request', message: 'no', field: 'events' } };
      return undefined;
    };
    const summary = await restRun(server, { maxCount: 50, batch: 10, maxInFlight: 1 });
    const requests = server.restRequests;
    assert.is(summary.acked, 40);
    assert.is(summary.rejected, 10);
    assert.equal(summary.rejectedByCode, { invalid_request: 10 });
    assert.ok(summary.ok, 'a batch refused by validation is an answer, not a failure');
    assert.is(summary.retryableErrors, 2);
    assert.is(summary.resentBatches, 2);
    assert.is(requests.length, 7, '5 batches + 2 retries; the 400 is not retried');
    assert.ok(requests.every((r) => r.path === '/put-records'));
    assert.ok(requests.every((r) => r.authorization?.startsWith('access-')), 'the raw token, no "Bearer"');
    const waited = (requests[1]?.at ?? 0) - (requests[0]?.at ?? 0);
    assert.ok(waited >= 950, `waited ${waited} ms after Retry-After: 1`);
    assert.is(requests[1]?.body, requests[0]?.body, 'a retry sends the same body');
    assert.is(requests[3]?.body, requests[2]?.body);
    assert.is(uniqueEventIds(requests.map((r) => ({ frame: JSON.parse(r.body) as Frame }))).size, 50);
  }),
);

test('rest: --batch 1 uses put-record with the event itself as the body', () =>
  withServer(async (server) => {
    const summary = await restRun(server, { maxCount: 5, batch: 1 });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.acked, 5);
    assert.is(server.restRequests.length, 5);
    for (const request of server.restRequests) {
      assert.is(request.path, '/put-record');
      const event = JSON.parse(request.body) as SyntheticEvent;
      assert.ok((EVENT_TYPES as readonly string[]).includes(event.event_type));
    }
  }),
);

test('rest: a 401 renews the token and retries', () =>
  withServer(async (server) => {
    server.onRest = (_request, index) => {
      if (index === 1) server.revokeAccessTokens();
      return undefined;
    };
    const summary = await restRun(server, { maxCount: 30, batch: 10, maxInFlight: 1 });
    assert.ok(summary.ok, JSON.stringify(summary));
    assert.is(summary.acked, 30);
    assert.is(server.refreshes, 1);
  }),
);

// ---------------------------------------------------------------------------------------------------------
// Dry run and identity

test('dry run: generates and counts, and makes no network call', () =>
  withServer(async (server) => {
    const seen: string[] = [];
    const summary = await runSynthetic(
      { loginEndpoint: server.httpUrl, backendEndpoint: server.wsUrl, maxCount: 250, batch: 100, dryRun: true },
      { onBatch: (batch) => void seen.push(...batch.events) },
    );
    assert.ok(summary.ok);
    assert.ok(summary.dryRun);
    assert.is(summary.generated, 250);
    assert.is(summary.sent, 0);
    assert.is(seen.length, 250);
    assert.is(server.tcpConnections, 0);
    assert.is(server.logins.length, 0);
  }),
);

test('identity: a token close to expiry is refreshed before use', () =>
  withServer(async (server) => {
    server.authTokenExpiresIn = 0.05; // 50 ms
    const session = new GuestSession(new IdentityClient(server.httpUrl));
    const first = await session.token();
    assert.is(await session.token(), first, 'a fresh token is reused');
    await new Promise((resolve) => setTimeout(resolve, 60));
    const second = await session.token();
    assert.is.not(second, first);
    assert.is(server.refreshes, 1);
    assert.is(server.logins.length, 1);
  }),
);

test.run();
