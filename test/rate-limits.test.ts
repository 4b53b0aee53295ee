import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRateLimiter } from '../runtime/core/rate-limiter.ts';
import { loginAsGuest, ORIGINAL_EXAMPLE, startTestPipeline, TestSocket } from './support/local.ts';

test('token bucket: a burst, then the rate; the retry hint says when enough is back; keys are bounded', () => {
  let now = 0;
  const limiter = createRateLimiter({ ratePerSecond: 10, burst: 20, maxKeys: 2, now: () => now });
  assert.equal(limiter.take('a', 20), { allowed: true });
  assert.equal(limiter.take('a', 5), { allowed: false, retryAfterMs: 500 });
  now += 500;
  assert.equal(limiter.take('a', 5), { allowed: true });
  assert.equal(limiter.take('b', 20), { allowed: true }, 'each player has its own bucket');
  // A request bigger than the bucket passes when the bucket is full, and leaves it in debt.
  now += 10_000;
  assert.equal(limiter.take('a', 50), { allowed: true });
  assert.is(limiter.take('a', 1).allowed, false);
  // At most maxKeys buckets are kept; the least recently used is forgotten and starts again full.
  assert.equal(limiter.take('x', 20), { allowed: true });
  assert.is(limiter.take('x', 20).allowed, false, 'x is empty');
  limiter.take('y', 1);
  limiter.take('z', 1);
  assert.equal(limiter.take('x', 20), { allowed: true }, 'x was forgotten: memory stays bounded');
});

test('REST answers 429 with Retry-After and stores nothing; WebSocket answers rate_limited and stays open', async () => {
  const env = await startTestPipeline({ rateLimitPerSecond: 5, rateBurst: 10 });
  try {
    const guest = await loginAsGuest(env.url);
    const post = (events: unknown[]) =>
      fetch(`${env.url}put-records`, { method: 'POST', headers: { authorization: guest.auth_token }, body: JSON.stringify({ events }) });
    const events = Array.from({ length: 10 }, (_, i) => ({ ...ORIGINAL_EXAMPLE, event_id: `r${i}` }));
    assert.is((await post(events)).status, 200);
    const before = env.pipeline.stream.lastPosition();
    const limited = await post(events.slice(0, 3));
    assert.is(limited.status, 429);
    assert.is(limited.headers.get('retry-after'), '1');
    const body = (await limited.json()) as { error: string; retry_after_ms: number };
    assert.is(body.error, 'rate_limited');
    assert.ok(body.retry_after_ms > 0 && body.retry_after_ms <= 600, String(body.retry_after_ms));
    assert.is(env.pipeline.stream.lastPosition(), before, 'nothing stored');

    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    const reply = await socket.request({ action: 'put-records', id: 'w1', events: events.slice(0, 3) });
    assert.equal([reply.type, reply.id, reply.error], ['error', 'w1', 'rate_limited']);
    assert.type(reply.retry_after_ms, 'number');
    await new Promise((resolve) => setTimeout(resolve, reply.retry_after_ms + 50));
    assert.is((await socket.request({ action: 'put-records', id: 'w1', events: events.slice(0, 3) })).accepted, 3, 'the retry passes');
    await socket.close();
  } finally {
    await env.stop();
  }
});

test('connection limits: per player and in total, an upgrade past the limit gets 429', async () => {
  const env = await startTestPipeline({ maxConnectionsPerPlayer: 2, maxConnections: 3 });
  try {
    const first = await loginAsGuest(env.url);
    const second = await loginAsGuest(env.url);
    const open = [await TestSocket.open(env.wsUrl, first.auth_token), await TestSocket.open(env.wsUrl, first.auth_token)];
    const refused = await TestSocket.open(env.wsUrl, first.auth_token).catch((error) => error as { status?: number });
    assert.is((refused as { status?: number }).status, 429, 'a third socket for one player');
    open.push(await TestSocket.open(env.wsUrl, second.auth_token));
    const full = await TestSocket.open(env.wsUrl, second.auth_token).catch((error) => error as { status?: number });
    assert.is((full as { status?: number }).status, 429, 'a fourth socket in total');
    await open[0]!.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    open.push(await TestSocket.open(env.wsUrl, first.auth_token));
    for (const socket of open.slice(1)) await socket.close();
  } finally {
    await env.stop();
  }
});

test.run();
