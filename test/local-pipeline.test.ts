import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignJWT } from 'jose';
import { loginAsGuest, ORIGINAL_EXAMPLE, startTestPipeline, storedRows, TestSocket } from './support/local.ts';

let env: Awaited<ReturnType<typeof startTestPipeline>>;

test.before(async () => {
  env = await startTestPipeline();
});
test.after(async () => {
  await env.stop();
});

const post = (path: string, body: string, authorization?: string) =>
  fetch(`${env.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body,
  });

test("a new user's first event: guest login, the original example with the raw token, 200 and the original body", async () => {
  const guest = await loginAsGuest(env.url);
  const before = env.pipeline.stream.lastPosition();
  const response = await post('put-record', JSON.stringify(ORIGINAL_EXAMPLE), guest.auth_token);
  assert.is(response.status, 200);
  assert.is(response.headers.get('access-control-allow-origin'), '*');
  assert.is(await response.json(), 'Successfully added event');
  const entries = env.pipeline.stream.read(before, 10);
  assert.is(entries.length, 1);
  assert.is(entries[0]!.partitionKey, guest.user_id);
  const text = entries[0]!.data.toString('utf8');
  assert.ok(text.endsWith('\n'));
  const row = JSON.parse(text);
  assert.equal(Object.keys(row), ['event_id', 'event_type', 'updated_at', 'event_data', 'player_id', 'received_at', 'source']);
  assert.equal(
    { ...row, received_at: undefined },
    { ...ORIGINAL_EXAMPLE, updated_at: '2024-02-22T03:03:02.000000Z', player_id: guest.user_id, received_at: undefined, source: 'rest' },
  );
  assert.match(row.received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.ok(Math.abs(Date.parse(row.received_at) - Date.now()) < 10_000);
});

test('REST: Bearer form, batches, and rejections with codes over real HTTP', async () => {
  const guest = await loginAsGuest(env.url);
  const ok = await post('put-records', JSON.stringify({ events: [ORIGINAL_EXAMPLE, { ...ORIGINAL_EXAMPLE, score: 1 }] }), `Bearer ${guest.auth_token}`);
  assert.is(ok.status, 200);
  const body = (await ok.json()) as { accepted: number; rejected: Array<{ index: number; error: string }> };
  assert.is(body.accepted, 1);
  assert.equal(body.rejected.map((r) => [r.index, r.error]), [[1, 'unknown_field']]);

  const before = env.pipeline.stream.lastPosition();
  const bad = await post('put-record', '{"event_id":', guest.auth_token);
  assert.is(bad.status, 400);
  assert.is(((await bad.json()) as { error: string }).error, 'malformed_json');
  const big = await post('put-records', JSON.stringify({ events: [{ ...ORIGINAL_EXAMPLE, event_data: 'x'.repeat(1024 * 1024) }] }), guest.auth_token);
  assert.is(big.status, 413);
  assert.is(env.pipeline.stream.lastPosition(), before, 'nothing stored');
});

test('REST: missing, garbage, forged-player and foreign-signed tokens get 401 "Unauthorized"', async () => {
  const { privateKey } = await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
  const guest = await loginAsGuest(env.url);
  const kid = JSON.parse(Buffer.from(guest.auth_token.split('.')[0]!, 'base64url').toString()).kid;
  const forged = await new SignJWT({ scope: 'guest' })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setSubject('someone-else')
    .setIssuer(env.pipeline.issuer)
    .setAudience('gamebackend')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
  const before = env.pipeline.stream.lastPosition();
  for (const authorization of [undefined, 'garbage', forged, `Bearer ${forged}`]) {
    const response = await post('put-record', JSON.stringify(ORIGINAL_EXAMPLE), authorization);
    assert.is(response.status, 401, String(authorization).slice(0, 20));
    assert.is(await response.json(), 'Unauthorized');
  }
  assert.is(env.pipeline.stream.lastPosition(), before);
});

test('WebSocket: an ack arrives only once the batch is in the stream; ping gets pong', async () => {
  const guest = await loginAsGuest(env.url);
  const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
  const events = Array.from({ length: 100 }, (_, i) => ({ ...ORIGINAL_EXAMPLE, event_id: `ws-${i}`, event_type: i % 2 ? 'New Game' : 'End Game' }));
  const ack = await socket.request({ action: 'put-records', id: 'batch-1', events });
  assert.equal(ack, { type: 'ack', id: 'batch-1', accepted: 100, rejected: [] });
  const mine = storedRows(env.pipeline.stream).filter((row) => row.player_id === guest.user_id);
  assert.equal(mine.map((row) => row.event_id), events.map((e) => e.event_id));
  assert.ok(mine.every((row) => row.source === 'ws'));
  assert.equal(await socket.request({ action: 'ping' }), { type: 'pong' });
  await socket.close();
});

test('WebSocket: bad frames get error frames with codes and the socket stays open', async () => {
  const guest = await loginAsGuest(env.url);
  const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
  const before = env.pipeline.stream.lastPosition();
  const cases: Array<[unknown, string]> = [
    ['not json at all', 'malformed_json'],
    [{ action: 'launch-missiles', id: 'm1' }, 'unknown_action'],
    [{ action: 'put-records', id: 'm2', events: Array(501).fill(ORIGINAL_EXAMPLE) }, 'too_many_events'],
    [{ action: 'put-records', id: 'm3', events: [{ ...ORIGINAL_EXAMPLE, player_id: 'forged' }] }, 'ack'],
  ];
  for (const [message, code] of cases) {
    const reply = await socket.request(message);
    if (code === 'ack') {
      assert.is(reply.accepted, 0);
      assert.is(reply.rejected[0].error, 'unknown_field');
    } else {
      assert.is(reply.type, 'error');
      assert.is(reply.error, code);
    }
  }
  assert.equal(await socket.request({ action: 'ping' }), { type: 'pong' }, 'still open');
  assert.is(env.pipeline.stream.lastPosition(), before, 'nothing stored');
  await socket.close();
});

test('WebSocket: a message over 128 KiB closes the socket with 1009, like API Gateway', async () => {
  const guest = await loginAsGuest(env.url);
  const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
  const before = env.pipeline.stream.lastPosition();
  socket.send({ action: 'put-records', id: 'huge', events: [{ ...ORIGINAL_EXAMPLE, event_data: 'x'.repeat(130 * 1024) }] });
  assert.is((await socket.closed).code, 1009);
  assert.is(env.pipeline.stream.lastPosition(), before);
});

test('WebSocket: a missing, garbage or expired token refuses the upgrade with 401', async () => {
  const guest = await loginAsGuest(env.url);
  const [header, payload, signature] = guest.auth_token.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'other' })).toString('base64url')}.${signature}`;
  for (const token of [undefined, '', 'garbage', tampered]) {
    try {
      await TestSocket.open(env.wsUrl, token);
      assert.unreachable(`accepted ${token}`);
    } catch (error) {
      assert.is((error as { status?: number }).status, 401, String(token).slice(0, 20));
    }
  }
});

test('CORS preflight and health', async () => {
  const preflight = await fetch(`${env.url}put-record`, { method: 'OPTIONS' });
  assert.is(preflight.status, 204);
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
  const health = await fetch(`${env.url}health`);
  assert.is(health.status, 200);
  const status = (await health.json()) as { status: string; stream: { lastPosition: number } };
  assert.is(status.status, 'ok');
  assert.type(status.stream.lastPosition, 'number');
  assert.is((await fetch(`${env.url}nothing-here`)).status, 404);
});

test.run();
