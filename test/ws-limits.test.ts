import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loginAsGuest, ORIGINAL_EXAMPLE, startTestPipeline, TestSocket } from './support/local.ts';

test('an idle socket is closed with 1001 after the idle limit; activity keeps it open', async () => {
  const env = await startTestPipeline({ wsIdleTimeoutMs: 300 });
  try {
    const guest = await loginAsGuest(env.url);
    const idle = await TestSocket.open(env.wsUrl, guest.auth_token);
    const busy = await TestSocket.open(env.wsUrl, guest.auth_token);
    const started = Date.now();
    const pinger = setInterval(() => busy.send({ action: 'ping' }), 100);
    const closed = await idle.closed;
    assert.is(closed.code, 1001);
    assert.match(closed.reason, /idle/);
    assert.ok(Date.now() - started >= 290, 'not before the limit');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.is(busy.ws.readyState, busy.ws.OPEN, 'a socket with traffic stays open');
    clearInterval(pinger);
    await busy.close();
  } finally {
    await env.stop();
  }
});

test('a socket is closed with 1001 at the connection time limit even while busy; a reconnect works', async () => {
  const env = await startTestPipeline({ wsMaxConnectionMs: 400 });
  try {
    const guest = await loginAsGuest(env.url);
    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    const pinger = setInterval(() => socket.send({ action: 'ping' }), 50);
    const closed = await socket.closed;
    clearInterval(pinger);
    assert.is(closed.code, 1001);
    assert.match(closed.reason, /time limit/);
    const again = await TestSocket.open(env.wsUrl, guest.auth_token);
    const ack = await again.request({ action: 'put-records', id: 'after-reconnect', events: [ORIGINAL_EXAMPLE] });
    assert.is(ack.accepted, 1);
    await again.close();
  } finally {
    await env.stop();
  }
});

test('shutdown lets in-flight batches finish and be acked before the sockets close', async () => {
  const env = await startTestPipeline();
  const guest = await loginAsGuest(env.url);
  const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
  const acks: unknown[] = [];
  socket.ws.on('message', (data) => acks.push(JSON.parse(data.toString())));
  for (let b = 0; b < 20; b++) {
    socket.send({ action: 'put-records', id: `s${b}`, events: Array.from({ length: 100 }, (_, i) => ({ ...ORIGINAL_EXAMPLE, event_id: `s${b}-${i}` })) });
  }
  // Wait until the server has received everything, then stop it while it is still committing.
  while (env.pipeline.gateway.connections() === 0) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  const stream = env.pipeline.stream;
  const stopping = env.pipeline.close();
  const closed = await socket.closed;
  await stopping;
  assert.is(closed.code, 1001);
  const ackCount = (acks as Array<{ type: string }>).filter((frame) => frame.type === 'ack').length;
  assert.is(ackCount, 20, 'every batch received before shutdown is acked');
  assert.throws(() => stream.lastPosition(), /unavailable|closed/i, 'the stream is closed after shutdown');
  await env.stop().catch(() => {});
});

test.run();
