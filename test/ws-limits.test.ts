import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { dataPaths } from '../runtime/local/data-paths.ts';
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

test('backpressure: a socket whose batches cannot be committed stops being read; other sockets go on; it catches up', async () => {
  const env = await startTestPipeline({ intakeOnly: true });
  const lock = new Database(dataPaths(env.dataDir).stream);
  try {
    const guest = await loginAsGuest(env.url);
    const flooder = await TestSocket.open(env.wsUrl, guest.auth_token);
    const other = await TestSocket.open(env.wsUrl, guest.auth_token);
    const acks: string[] = [];
    flooder.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'ack') acks.push(frame.id);
    });
    // Another writer holds the stream's write lock: nothing can be committed, so nothing can be acked.
    lock.exec('BEGIN IMMEDIATE');
    for (let b = 0; b < 2000; b++) flooder.send({ action: 'put-records', id: `f${b}`, events: [{ ...ORIGINAL_EXAMPLE, event_id: `f${b}` }] });
    let flow = env.pipeline.gateway.flow();
    for (let waited = 0; flow.paused === 0 && waited < 2000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      flow = env.pipeline.gateway.flow();
    }
    assert.is(flow.paused, 1, 'the flooding socket is paused');
    // Frames already read from the socket still arrive after the pause (at most one read's worth); the rest wait
    // in TCP buffers, not in the server's memory.
    await new Promise((resolve) => setTimeout(resolve, 200));
    flow = env.pipeline.gateway.flow();
    assert.ok(flow.inFlightMessages < 500, `in flight ${flow.inFlightMessages} of 2000`);
    assert.is(acks.length, 0);
    const started = Date.now();
    assert.equal(await other.request({ action: 'ping' }), { type: 'pong' });
    assert.ok(Date.now() - started < 500, 'the other socket is served meanwhile');
    lock.exec('COMMIT');
    for (let waited = 0; acks.length < 2000 && waited < 20_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.is(acks.length, 2000, 'every batch is acked once the stream commits again');
    assert.is(env.pipeline.gateway.flow().paused, 0);
    await flooder.close();
    await other.close();
  } finally {
    lock.close();
    await env.stop();
  }
});

test.run();
