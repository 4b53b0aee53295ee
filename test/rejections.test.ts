/**
 * Every way the intake refuses something, over real HTTP and WebSocket against the running local pipeline: each
 * case checks the code (HTTP status and body, error frame, close code or refused upgrade) and that the hub stream
 * did not move. The few paths the local gateway never reaches (they guard a misconfigured API Gateway stage) are
 * driven through the handler with the pipeline's own stream as the sink. The last test checks that every error code
 * of runtime/core/errors.ts was produced by some case here, so a new code cannot arrive without its rejection test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import Database from 'better-sqlite3';
import { base64url, generateKeyPair, importJWK, SignJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import type { ErrorCode } from '../runtime/core/errors.ts';
import { ERROR_CODES } from '../runtime/core/errors.ts';
import type { RateLimiter } from '../runtime/core/rate-limiter.ts';
import { createRestHandler } from '../runtime/handlers/rest-handler.ts';
import type { WsEvent } from '../runtime/handlers/ws-message-handler.ts';
import { createWsMessageHandler } from '../runtime/handlers/ws-message-handler.ts';
import { dataPaths } from '../runtime/local/data-paths.ts';
import type { GuestLogin } from './support/local.ts';
import { loginAsGuest, ORIGINAL_EXAMPLE, startTestPipeline, TestSocket } from './support/local.ts';
import { fakeVerifier } from './support/memory-sink.ts';

type Env = Awaited<ReturnType<typeof startTestPipeline>>;

const KiB = 1024;
const MiB = 1024 * KiB;
const good = ORIGINAL_EXAMPLE;
/** Codes some case below produced and checked; the last test compares them with ERROR_CODES. */
const produced = new Set<string>();

let env: Env;
let guest: GuestLogin;
let tokens: Record<string, string>;

test.before(async () => {
  // Intake only (nothing consumes the stream), and a short lock wait so the stream_unavailable case is quick.
  env = await startTestPipeline({ intakeOnly: true, streamBusyTimeoutMs: 50 });
  guest = await loginAsGuest(env.url);
  tokens = await badTokens(env, guest);
});

test.after(async () => {
  await env.stop();
});

/** Tokens the intake must refuse, most of them signed with the identity service's own key. */
async function badTokens(target: Env, login: GuestLogin): Promise<Record<string, string>> {
  const jwk = JSON.parse(readFileSync(join(dataPaths(target.dataDir).identity, 'signing-key.json'), 'utf8')) as JWK;
  const key = (await importJWK(jwk, 'RS256')) as CryptoKey;
  const now = Math.floor(Date.now() / 1000);
  const claims = (overrides: JWTPayload = {}): JWTPayload => ({
    sub: login.user_id,
    iss: target.pipeline.issuer,
    aud: 'gamebackend',
    scope: 'guest',
    iat: now,
    nbf: now,
    exp: now + 900,
    ...overrides,
  });
  const sign = (payload: JWTPayload, signingKey: CryptoKey = key) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: jwk.kid!, typ: 'JWT' }).sign(signingKey);
  const [header, , signature] = login.auth_token.split('.');
  const other = await generateKeyPair('RS256');
  return {
    garbage: 'garbage',
    'refresh token': login.refresh_token,
    expired: await sign(claims({ iat: now - 3600, nbf: now - 3600, exp: now - 60 })),
    'not valid yet': await sign(claims({ nbf: now + 600 })),
    'another issuer': await sign(claims({ iss: 'https://identity.example.com' })),
    'no accepted scope': await sign(claims({ scope: 'admin' })),
    'another key, same kid': await sign(claims(), other.privateKey),
    'tampered player': `${header}.${base64url.encode(JSON.stringify(claims({ sub: 'someone-else' })))}.${signature}`,
    'alg none': `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims()))}.`,
  };
}

/** Runs `act` and checks that the hub stream holds exactly as much as before. */
async function storesNothing<T>(target: Env, what: string, act: () => Promise<T>): Promise<T> {
  const before = target.pipeline.stream.lastPosition();
  const result = await act();
  assert.is(target.pipeline.stream.lastPosition(), before, `${what}: nothing stored`);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// REST

interface RestCase {
  readonly name: string;
  readonly method?: string;
  readonly path?: string;
  /** The Authorization header; the guest's raw token when absent, no header when null. */
  readonly authorization?: string | null;
  readonly contentType?: string;
  readonly body?: string | Buffer;
  readonly status: number;
  /** The whole answer, when it is fixed (the original API's strings, a 200 with every event rejected). */
  readonly answer?: unknown;
  readonly error?: ErrorCode;
  readonly field?: string;
  /** Which check refused it, when two give the same code (the gateway's 10 MiB limit, the handler's 1 MiB). */
  readonly message?: RegExp;
}

const event = (overrides: Record<string, unknown>) => JSON.stringify({ ...good, ...overrides });
const without = (field: string) => JSON.stringify(Object.fromEntries(Object.entries(good).filter(([key]) => key !== field)));

function restCases(): RestCase[] {
  const unauthorized = (name: string, authorization: string | null): RestCase => ({
    name: `401: ${name}`,
    authorization,
    status: 401,
    answer: 'Unauthorized',
  });
  return [
    unauthorized('no Authorization header', null),
    unauthorized('an empty Authorization header', ''),
    unauthorized('Bearer without a token', 'Bearer '),
    unauthorized('another scheme (Basic)', `Basic ${guest.auth_token}`),
    ...Object.entries(tokens).map(([name, token]) => unauthorized(name, token)),
    unauthorized('a bad token in the Bearer form', `Bearer ${tokens['another key, same kid']}`),

    { name: 'empty body', body: '', status: 400, error: 'invalid_request' },
    { name: 'not JSON', body: '{"event_id":', status: 400, error: 'malformed_json' },
    { name: 'not JSON, sent as binary (base64 to the handler)', body: Buffer.from([0xff, 0xfe, 0x00, 0x7b]), contentType: 'application/octet-stream', status: 400, error: 'malformed_json' },
    { name: 'an array', body: '[]', status: 400, error: 'wrong_type' },
    { name: 'a JSON string', body: '"Login"', status: 400, error: 'wrong_type' },
    { name: 'event_id missing', body: without('event_id'), status: 400, error: 'missing_field', field: 'event_id' },
    { name: 'event_type missing', body: without('event_type'), status: 400, error: 'missing_field', field: 'event_type' },
    { name: 'updated_at missing', body: without('updated_at'), status: 400, error: 'missing_field', field: 'updated_at' },
    { name: 'event_id a number', body: event({ event_id: 6 }), status: 400, error: 'wrong_type', field: 'event_id' },
    { name: 'event_type an object', body: event({ event_type: { name: 'Login' } }), status: 400, error: 'wrong_type', field: 'event_type' },
    { name: 'updated_at a number', body: event({ updated_at: 1708570982 }), status: 400, error: 'wrong_type', field: 'updated_at' },
    { name: 'event_id empty', body: event({ event_id: '' }), status: 400, error: 'invalid_value', field: 'event_id' },
    { name: 'event_id of 129 characters', body: event({ event_id: 'i'.repeat(129) }), status: 400, error: 'invalid_value', field: 'event_id' },
    { name: 'event_type of 65 characters', body: event({ event_type: 't'.repeat(65) }), status: 400, error: 'invalid_value', field: 'event_type' },
    { name: 'event_type with a control character', body: event({ event_type: 'Log\nin' }), status: 400, error: 'invalid_value', field: 'event_type' },
    { name: 'event_data with a lone surrogate', body: '{"event_id":"1","event_type":"Login","updated_at":"2024-02-22 03:03:02","event_data":"\\ud800"}', status: 400, error: 'invalid_value', field: 'event_data' },
    { name: 'updated_at not a timestamp', body: event({ updated_at: '22/02/2024' }), status: 400, error: 'invalid_timestamp', field: 'updated_at' },
    { name: 'updated_at before 1970', body: event({ updated_at: '1969-12-31 23:59:59' }), status: 400, error: 'invalid_timestamp', field: 'updated_at' },
    { name: 'updated_at an impossible date', body: event({ updated_at: '2024-02-30 03:03:02' }), status: 400, error: 'invalid_timestamp', field: 'updated_at' },
    { name: 'a forged player_id', body: event({ player_id: 'someone-else' }), status: 400, error: 'unknown_field', field: 'player_id' },
    { name: 'custom data outside event_data', body: event({ score: 7 }), status: 400, error: 'unknown_field', field: 'score' },
    { name: 'event_data over 32 KiB', body: event({ event_data: 'd'.repeat(32 * KiB + 1) }), status: 413, error: 'too_large', field: 'event_data' },
    { name: 'a body over 1 MiB (the handler)', body: event({ event_data: 'd'.repeat(MiB) }), status: 413, error: 'too_large', message: /at most 1048576/ },
    { name: 'a body over 10 MiB (the gateway)', path: '/put-records', body: Buffer.alloc(10 * MiB + 1, 0x20), status: 413, error: 'too_large', message: /exceeds 10485760/ },

    { name: 'batch: not an object', path: '/put-records', body: '[]', status: 400, error: 'invalid_request' },
    { name: 'batch: no events', path: '/put-records', body: '{}', status: 400, error: 'missing_field', field: 'events' },
    { name: 'batch: events not an array', path: '/put-records', body: '{"events":{}}', status: 400, error: 'wrong_type', field: 'events' },
    { name: 'batch: no event', path: '/put-records', body: '{"events":[]}', status: 400, error: 'invalid_value', field: 'events' },
    { name: 'batch: 501 events', path: '/put-records', body: JSON.stringify({ events: Array(501).fill(good) }), status: 400, error: 'too_many_events', field: 'events' },
    { name: 'batch: not JSON', path: '/put-records', body: '{"events":[', status: 400, error: 'malformed_json' },
    {
      name: 'batch: every event invalid (200, each one rejected by index)',
      path: '/put-records',
      body: JSON.stringify({ events: [{ ...good, event_id: '' }, 5, { ...good, extra: 1 }, { ...good, updated_at: 'soon' }] }),
      status: 200,
      answer: {
        accepted: 0,
        rejected: [
          { index: 0, error: 'invalid_value', field: 'event_id' },
          { index: 1, error: 'wrong_type' },
          { index: 2, error: 'unknown_field', field: 'extra' },
          { index: 3, error: 'invalid_timestamp', field: 'updated_at' },
        ],
      },
    },

    { name: 'GET /put-record', method: 'GET', body: undefined, status: 404, error: 'not_found' },
    { name: 'PUT /put-records', method: 'PUT', path: '/put-records', status: 404, error: 'not_found' },
    { name: 'POST /put-record/extra', path: '/put-record/extra', status: 404, error: 'not_found' },
    { name: 'POST /put-events', path: '/put-events', status: 404, error: 'not_found' },
  ];
}

test('REST: every rejection answers its status and code (CORS included) and stores nothing', async () => {
  for (const rest of restCases()) {
    const method = rest.method ?? 'POST';
    const headers: Record<string, string> = {};
    if (rest.authorization !== null) headers.authorization = rest.authorization ?? guest.auth_token;
    if (rest.contentType) headers['content-type'] = rest.contentType;
    const body = method === 'GET' ? undefined : (rest.body ?? (method === 'POST' ? JSON.stringify(good) : undefined));
    const response = await storesNothing(env, rest.name, () =>
      fetch(`${env.url.replace(/\/$/, '')}${rest.path ?? '/put-record'}`, { method, headers, ...(body === undefined ? {} : { body }) }),
    );
    const answer = (await response.json()) as any;
    assert.is(response.status, rest.status, `${rest.name}: status (${JSON.stringify(answer).slice(0, 200)})`);
    assert.is(response.headers.get('access-control-allow-origin'), '*', `${rest.name}: CORS, so a browser game can read the error`);
    if (rest.answer !== undefined) {
      const shown = Array.isArray(answer?.rejected)
        ? { ...answer, rejected: answer.rejected.map(({ message, ...rest }: { message: unknown }) => (assert.type(message, 'string'), rest)) }
        : answer;
      assert.equal(shown, rest.answer, rest.name);
      if (typeof answer === 'string') produced.add(answer === 'Unauthorized' ? 'unauthorized' : answer);
      for (const rejected of answer?.rejected ?? []) produced.add(rejected.error);
    } else {
      assert.is(answer.error, rest.error, `${rest.name}: code`);
      assert.is(answer.field, rest.field, `${rest.name}: field`);
      assert.type(answer.message, 'string', `${rest.name}: message`);
      if (rest.message) assert.match(answer.message, rest.message, `${rest.name}: message`);
      produced.add(answer.error);
    }
  }
  assert.equal(await (await fetch(`${env.url}put-record`, { method: 'POST', headers: { authorization: guest.auth_token }, body: JSON.stringify(good) })).json(), 'Successfully added event', 'the same request with nothing wrong is stored');
});

// ---------------------------------------------------------------------------------------------------------------
// WebSocket frames

interface FrameCase {
  readonly name: string;
  readonly frame: unknown;
  readonly error?: ErrorCode;
  readonly id?: string;
  readonly field?: string;
  /** An ack whose every event was rejected, by index. */
  readonly rejected?: ReadonlyArray<readonly [number, ErrorCode]>;
}

const frameCases: FrameCase[] = [
  { name: 'not JSON', frame: 'not json at all', error: 'malformed_json' },
  { name: 'an empty frame', frame: '', error: 'malformed_json' },
  { name: 'null', frame: 'null', error: 'missing_field', field: 'action' },
  { name: 'a number', frame: '42', error: 'missing_field', field: 'action' },
  { name: 'an array', frame: [1, 2], error: 'missing_field', field: 'action' },
  { name: 'no action', frame: {}, error: 'missing_field', field: 'action' },
  { name: 'no action, with an id', frame: { id: 'x1' }, error: 'missing_field', id: 'x1', field: 'action' },
  { name: 'an unknown action', frame: { action: 'delete-everything', id: 'x2' }, error: 'unknown_action', id: 'x2', field: 'action' },
  { name: 'an action that is not a string', frame: { action: 7, id: 'x3' }, error: 'unknown_action', id: 'x3', field: 'action' },
  { name: 'an action in the wrong case', frame: { action: 'PUT-RECORDS', id: 'x4', events: [good] }, error: 'unknown_action', id: 'x4', field: 'action' },
  { name: 'ping with a bad id', frame: { action: 'ping', id: 7 }, error: 'invalid_value', field: 'id' },
  { name: 'put-records without an id', frame: { action: 'put-records', events: [good] }, error: 'missing_field', field: 'id' },
  { name: 'an id that is not a string', frame: { action: 'put-records', id: 7, events: [good] }, error: 'invalid_value', field: 'id' },
  { name: 'an empty id', frame: { action: 'put-records', id: '', events: [good] }, error: 'invalid_value', field: 'id' },
  { name: 'an id of 129 characters', frame: { action: 'put-records', id: 'i'.repeat(129), events: [good] }, error: 'invalid_value', field: 'id' },
  { name: 'no events', frame: { action: 'put-records', id: 'x5' }, error: 'missing_field', id: 'x5', field: 'events' },
  { name: 'events not an array', frame: { action: 'put-records', id: 'x6', events: 'all of them' }, error: 'wrong_type', id: 'x6', field: 'events' },
  { name: 'no event', frame: { action: 'put-records', id: 'x7', events: [] }, error: 'invalid_value', id: 'x7', field: 'events' },
  { name: '501 events', frame: { action: 'put-records', id: 'x8', events: Array(501).fill(good) }, error: 'too_many_events', id: 'x8', field: 'events' },
  {
    name: 'every event invalid (an ack, each one rejected by index)',
    frame: {
      action: 'put-records',
      id: 'x9',
      events: [{ ...good, player_id: 'forged' }, { ...good, event_data: 'd'.repeat(32 * KiB + 1) }, { ...good, event_type: '' }, null],
    },
    rejected: [[0, 'unknown_field'], [1, 'too_large'], [2, 'invalid_value'], [3, 'wrong_type']],
  },
];

test('WebSocket: every bad frame gets its error frame (with the batch id once known), stores nothing, and the socket stays open', async () => {
  const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
  try {
    for (const item of frameCases) {
      const reply = await storesNothing(env, item.name, () => socket.request(item.frame));
      if (item.rejected) {
        assert.equal([reply.type, reply.id, reply.accepted], ['ack', 'x9', 0], item.name);
        assert.equal(reply.rejected.map((r: { index: number; error: string }) => [r.index, r.error]), item.rejected, item.name);
        item.rejected.forEach(([, code]) => produced.add(code));
        continue;
      }
      assert.is(reply.type, 'error', `${item.name}: ${JSON.stringify(reply)}`);
      assert.is(reply.error, item.error, `${item.name}: code`);
      assert.is(reply.id, item.id, `${item.name}: id`);
      assert.is(reply.field, item.field, `${item.name}: field`);
      assert.type(reply.message, 'string');
      produced.add(reply.error);
    }
    assert.equal(await socket.request({ action: 'ping' }), { type: 'pong' }, 'still open');
    const ack = await socket.request({ action: 'put-records', id: 'fine', events: [good] });
    assert.equal([ack.type, ack.accepted], ['ack', 1], 'and it still stores a good batch');
  } finally {
    await socket.close();
  }
});

test('WebSocket: a frame over 128 KiB closes with 1009 and invalid UTF-8 with 1007; nothing stored', async () => {
  const cases: Array<[string, (ws: WebSocket) => void, number]> = [
    ['a frame over 128 KiB', (ws) => ws.send(JSON.stringify({ action: 'put-records', id: 'huge', events: [{ ...good, event_data: 'x'.repeat(128 * KiB) }] })), 1009],
    ['a text frame that is not UTF-8', (ws) => ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false }), 1007],
  ];
  for (const [name, send, code] of cases) {
    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    const closed = await storesNothing(env, name, async () => {
      send(socket.ws);
      return socket.closed;
    });
    assert.is(closed.code, code, name);
  }
});

test('WebSocket upgrade: a missing or bad token is refused with 401, another path with 404; nothing stored', async () => {
  const refused = async (name: string, url: string, headers: Record<string, string> = {}) => {
    const status = await storesNothing(env, name, () => upgradeStatus(url, headers));
    return status;
  };
  const withToken = (token: string) => `${env.wsUrl}?auth_token=${encodeURIComponent(token)}`;
  const cases: Array<[string, string, Record<string, string>?]> = [
    ['no auth_token', env.wsUrl],
    ['an empty auth_token', withToken('')],
    ['the token in another parameter', `${env.wsUrl}?token=${guest.auth_token}`],
    ['the token in an Authorization header only', env.wsUrl, { authorization: `Bearer ${guest.auth_token}` }],
    ['a Bearer prefix inside auth_token', withToken(`Bearer ${guest.auth_token}`)],
    ...Object.entries(tokens).map(([name, token]): [string, string] => [name, withToken(token)]),
  ];
  for (const [name, url, headers] of cases) {
    assert.is(await refused(name, url, headers), 401, name);
    produced.add('unauthorized');
  }
  assert.is(await refused('another path', `${env.wsUrl}socket?auth_token=${guest.auth_token}`), 404);
  assert.is(await upgradeStatus(withToken(guest.auth_token)), 101, 'the good token is let in');
});

/** The HTTP status of an upgrade request: 101 when it was let in (and the socket is closed again at once). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.close();
    });
    ws.once('error', (error) => reject(error));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The stream cannot commit

test('the stream cannot commit: REST 500 "Failed", WebSocket stream_unavailable; nothing stored', async () => {
  const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
  // Another process holds the write lock past the stream's busy timeout.
  const lock = new Database(dataPaths(env.dataDir).stream);
  const logged = silenceConsoleError();
  try {
    lock.exec('BEGIN IMMEDIATE');
    const rest = await storesNothing(env, 'REST while the stream is locked', () =>
      fetch(`${env.url}put-record`, { method: 'POST', headers: { authorization: guest.auth_token }, body: JSON.stringify(good) }),
    );
    assert.equal([rest.status, await rest.json()], [500, 'Failed']);
    const frame = await storesNothing(env, 'WebSocket while the stream is locked', () =>
      socket.request({ action: 'put-records', id: 'locked', events: [good] }),
    );
    assert.equal([frame.type, frame.id, frame.error], ['error', 'locked', 'stream_unavailable']);
    produced.add(frame.error);
    assert.ok(logged.some((line) => /could not commit/.test(line)), 'the cause is logged for the operator');
  } finally {
    lock.exec('ROLLBACK');
    lock.close();
    logged.restore();
    await socket.close();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Limits

test('limits: 429 with Retry-After and rate_limited frames, 429 upgrades past the connection limits; nothing stored', async () => {
  const limited = await startTestPipeline({ intakeOnly: true, rateLimitPerSecond: 1, rateBurst: 5, maxConnectionsPerPlayer: 1, maxConnections: 2 });
  try {
    const [first, second, third] = [await loginAsGuest(limited.url), await loginAsGuest(limited.url), await loginAsGuest(limited.url)];
    const socket = await TestSocket.open(limited.wsUrl, first.auth_token);
    const post = (body: unknown) =>
      fetch(`${limited.url}put-records`, { method: 'POST', headers: { authorization: first.auth_token }, body: JSON.stringify(body) });
    assert.is((await post({ events: Array.from({ length: 5 }, (_, i) => ({ ...good, event_id: `burst-${i}` })) })).status, 200, 'the burst');

    const rest = await storesNothing(limited, 'REST past the rate', () => post({ events: [good] }));
    assert.is(rest.status, 429);
    assert.is(rest.headers.get('retry-after'), '1');
    assert.is(rest.headers.get('access-control-allow-origin'), '*');
    const body = (await rest.json()) as { error: string; retry_after_ms: number; message: string };
    assert.is(body.error, 'rate_limited');
    assert.ok(body.retry_after_ms > 0 && body.retry_after_ms <= 1000, String(body.retry_after_ms));
    produced.add(body.error);
    // Invalid events count against the rate too: a refused request is refused whole, before validation.
    const invalid = await storesNothing(limited, 'an invalid request past the rate', () => post({ events: [{ bad: true }] }));
    assert.is(invalid.status, 429);

    const frame = await storesNothing(limited, 'WebSocket past the rate', () =>
      socket.request({ action: 'put-records', id: 'too-fast', events: [good] }),
    );
    assert.equal([frame.type, frame.id, frame.error], ['error', 'too-fast', 'rate_limited']);
    assert.ok(frame.retry_after_ms > 0 && frame.retry_after_ms <= 1000, String(frame.retry_after_ms));
    assert.equal(await socket.request({ action: 'ping' }), { type: 'pong' }, 'the socket stays open');

    const withToken = (token: string) => `${limited.wsUrl}?auth_token=${encodeURIComponent(token)}`;
    assert.is(await storesNothing(limited, 'a second socket of one player', () => upgradeStatus(withToken(first.auth_token))), 429, 'per player');
    const other = await TestSocket.open(limited.wsUrl, second.auth_token);
    assert.is(await storesNothing(limited, 'a socket past the total', () => upgradeStatus(withToken(third.auth_token))), 429, 'in total');
    await other.close();
    await socket.close();
  } finally {
    await limited.stop();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// The gateway's own limits under races and stalled clients.

test('upgrades racing each other must not pass the per-player connection limit', async () => {
  // Upgrades whose token checks finish together (here all of them wait for the first JWKS fetch of a fresh server,
  // as after a restart) must each see the slots the others took, though $connect has not finished for any of them.
  const fresh = await startTestPipeline({ intakeOnly: true, maxConnectionsPerPlayer: 1 });
  try {
    const player = await loginAsGuest(fresh.url);
    const attempts = await Promise.allSettled(Array.from({ length: 20 }, () => TestSocket.open(fresh.wsUrl, player.auth_token)));
    const open = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
    const refused = attempts.filter((attempt) => attempt.status === 'rejected' && (attempt.reason as { status?: number }).status === 429);
    const counts = { open: open.length, gatewayConnections: fresh.pipeline.gateway.connections(), refused: refused.length };
    await Promise.all(open.map((socket) => socket.close()));
    assert.equal(counts, { open: 1, gatewayConnections: 1, refused: 19 });
  } finally {
    await fresh.stop();
  }
});

test('a body past 10 MiB is refused with 413 as soon as it passes the limit, not when the client stops sending', async () => {
  // A client that keeps streaming must not be read until Node's 300 s requestTimeout. API Gateway cuts it at 10 MiB.
  const { request } = await import('node:http');
  const logged = silenceConsoleError();
  const answer = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => resolve('no answer 2 s after 11 MiB were sent'), 2000);
    const req = request(`${env.url}put-records`, { method: 'POST', headers: { authorization: guest.auth_token, 'transfer-encoding': 'chunked' } }, (res) => {
      clearTimeout(timer);
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    req.on('error', () => {});
    for (let i = 0; i < 11; i++) req.write(Buffer.alloc(MiB, 0x20));
    // The client never ends the body; the request is torn down after the check either way.
    void new Promise((done) => setTimeout(done, 2100)).then(() => req.destroy());
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  logged.restore();
  assert.is(answer, 413);
});

test('a client that stops sending its request body does not hold up shutdown', async () => {
  // A request whose body never completes would stay in flight until Node's 300 s requestTimeout: one stalled client
  // must not hold up a graceful stop (SIGTERM).
  const target = await startTestPipeline({ intakeOnly: true });
  const { request } = await import('node:http');
  const player = await loginAsGuest(target.url);
  const req = request(`${target.url}put-record`, { method: 'POST', headers: { authorization: player.auth_token, 'content-length': '100' } });
  req.on('error', () => {});
  req.write('{"event_id":');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const logged = silenceConsoleError();
  const stopping = target.stop();
  try {
    const outcome = await Promise.race([stopping.then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('still stopping after 3 s'), 3000))]);
    assert.is(outcome, 'stopped');
  } finally {
    req.destroy();
    await stopping;
    logged.restore();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Paths the local gateway never reaches, through the handlers with the pipeline's stream as the sink

const restFixture = JSON.parse(readFileSync(new URL('./fixtures/apigw/http-put-record.json', import.meta.url), 'utf8')) as APIGatewayProxyEventV2;
const wsFixture = JSON.parse(readFileSync(new URL('./fixtures/apigw/ws-message.json', import.meta.url), 'utf8')) as WsEvent;

test('handler-only paths: 405 method_not_allowed, 404 not_found, a socket without a player is unauthorized, an unexpected failure is 500 "Failed" or stream_unavailable; nothing stored', async () => {
  const sink = env.pipeline.stream;
  const logged: unknown[] = [];
  const logError = (_message: string, error: unknown) => logged.push(error);
  const rest = createRestHandler({ verifier: fakeVerifier, sink, logError });
  const restEvent = (routeKey: string, token = 'good-player-1') => {
    const copy = structuredClone(restFixture);
    copy.routeKey = routeKey;
    copy.rawPath = routeKey.split(' ')[1]!;
    copy.requestContext.http.method = routeKey.split(' ')[0]!;
    copy.headers.authorization = token;
    return copy;
  };
  // API Gateway matches method and path before invoking the Lambda (so does the local gateway, answering 404): these
  // guard a route wired to the wrong integration.
  const cases: Array<[string, APIGatewayProxyEventV2, number, ErrorCode]> = [
    ['GET routed to the handler', restEvent('GET /put-record'), 405, 'method_not_allowed'],
    ['an unknown route routed to the handler', restEvent('POST /put-everything'), 404, 'not_found'],
  ];
  for (const [name, input, status, code] of cases) {
    const result = await storesNothing(env, name, () => rest(input));
    assert.is(result.statusCode, status, name);
    assert.is(JSON.parse(result.body!).error, code, name);
    produced.add(code);
  }

  // A failure that is not a TelemetryError (a bug, a broken dependency) is a 500 the client may retry, and logged.
  const broken = createRestHandler({ verifier: { verify: () => Promise.reject(new TypeError('boom')) }, sink, logError });
  const failed = await storesNothing(env, 'an unexpected failure', () => broken(restEvent('POST /put-record')));
  assert.equal([failed.statusCode, JSON.parse(failed.body!)], [500, 'Failed']);
  assert.ok(logged.some((error) => error instanceof TypeError), 'the failure is logged');

  // API Gateway routes no message of a connection its authorizer refused; this guards a stage without the authorizer.
  const ws = createWsMessageHandler({ verifier: fakeVerifier, sink, logError });
  const message = structuredClone(wsFixture);
  message.requestContext.routeKey = 'put-records';
  delete message.requestContext.authorizer;
  message.body = JSON.stringify({ action: 'put-records', id: 'no-player', events: [good] });
  const reply = JSON.parse((await storesNothing(env, 'a socket without a player', () => ws(message))).body!);
  assert.equal([reply.type, reply.id, reply.error], ['error', 'no-player', 'unauthorized']);
  produced.add(reply.error);

  // The WebSocket side of an unexpected failure (here a broken rate limiter): a retryable error frame, and logged.
  const brokenWs = createWsMessageHandler({
    verifier: fakeVerifier,
    sink,
    logError,
    rateLimiter: { take: () => { throw new TypeError('limiter down'); } } as unknown as RateLimiter,
  });
  const withPlayer = structuredClone(wsFixture);
  withPlayer.requestContext.routeKey = 'put-records';
  withPlayer.requestContext.authorizer = { playerId: 'player-1', scope: 'guest' };
  withPlayer.body = JSON.stringify({ action: 'put-records', id: 'internal', events: [good] });
  const internal = JSON.parse((await storesNothing(env, 'an unexpected WebSocket failure', () => brokenWs(withPlayer))).body!);
  assert.equal([internal.type, internal.id, internal.error], ['error', 'internal', 'stream_unavailable']);
  assert.ok(logged.some((error) => error instanceof TypeError && error.message === 'limiter down'), 'logged');
});

test('every error code of runtime/core/errors.ts was produced and checked by a case above', () => {
  assert.equal(ERROR_CODES.filter((code) => !produced.has(code)), [], 'codes without a rejection case');
});

/** Collects console.error lines (the handlers' logs of expected failures) instead of printing them. */
function silenceConsoleError() {
  const original = console.error;
  const lines: string[] = [];
  console.error = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  return Object.assign(lines, {
    restore() {
      console.error = original;
    },
  });
}

test.run();
