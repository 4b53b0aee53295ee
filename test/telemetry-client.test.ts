// The client library against the real local pipeline (gateway, identity, hub stream, Delta writer) on loopback,
// through a TCP proxy the tests cut and take down: what a game on a flaky network relies on.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DROPPED_EVENT_TYPE, type TelemetryClient, TelemetryError } from '../clients/telemetry-client/index.ts';
import { type NodeClientOptions, startNodeClient } from '../clients/telemetry-client/node.ts';
import { Outbox } from '../clients/telemetry-client/outbox.ts';
import { utf8Length } from '../clients/telemetry-client/protocol.ts';
import { startTestPipeline, tempDir } from './support/local.ts';
import { type TableRow, closeDuckDb, rowKey, tableRows } from './support/table.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { until } from './support/until.ts';

type Pipeline = Awaited<ReturnType<typeof startTestPipeline>>;

/** Short timers, so that reconnects and fallbacks happen within a test's time. */
const FAST = {
  flushIntervalMs: 50,
  backoffBaseMs: 50,
  backoffMaxMs: 400,
  ackTimeoutMs: 3000,
  saveDelayMs: 20,
  requestTimeoutMs: 3000,
} as const;

interface GameEvents extends Record<string, unknown> {
  Login: { level: number };
  CollectedItem: { item: string; count: number };
  'Killed Enemy': string;
  Logout: undefined;
}

function client(endpoint: string, options: Partial<NodeClientOptions> = {}): Promise<TelemetryClient<GameEvents>> {
  return startNodeClient<GameEvents>({ endpoint, ...FAST, ...options });
}

/** The table's rows for one player, once the writer has committed everything the stream holds. */
async function rowsOf(env: Pipeline, playerId: string | undefined): Promise<TableRow[]> {
  await env.pipeline.deltaWriter!.drain();
  return (await tableRows(env.dataDir)).filter((row) => row.player_id === playerId);
}

function assertExactlyOnce(rows: TableRow[], eventIds: string[]): void {
  const keys = rows.map(rowKey);
  assert.is(new Set(keys).size, keys.length, 'no event is stored twice');
  const stored = new Set(rows.map((row) => row.event_id));
  const missing = eventIds.filter((id) => !stored.has(id));
  assert.equal(missing, [], 'every tracked event is stored');
  assert.is(rows.length, eventIds.length);
}

test('a session: typed events are batched, acked and stored once under the token’s player, with their data', async () => {
  const env = await startTestPipeline();
  const game = await client(env.url);
  try {
    const ids = [game.track('Login', { level: 3 })];
    for (let i = 0; i < 248; i++) ids.push(game.track('CollectedItem', { item: `gem-${i}`, count: i }));
    ids.push(game.track('Killed Enemy', 'a goblin, with ünïcödé'));
    assert.ok(await game.flush(), 'flush resolves once everything is acked');
    const stats = game.stats();
    assert.is(stats.acked, 250);
    assert.is(stats.queued + stats.unacked, 0);
    const rows = await rowsOf(env, game.userId);
    assertExactlyOnce(rows, ids);
    const login = rows.find((row) => row.event_type === 'Login')!;
    assert.is(login.event_data, '{"level":3}', 'non-string data is stored as its JSON text');
    assert.is(rows.find((row) => row.event_type === 'Killed Enemy')!.event_data, 'a goblin, with ünïcödé');
    assert.ok(rows.every((row) => row.source === 'ws'));
  } finally {
    await game.close();
    await env.stop();
  }
});

test('a connection cut mid-batch, again and again: nothing lost, nothing stored twice', async () => {
  const env = await startTestPipeline();
  const proxy = await TcpProxy.start(env.url);
  const game = await client(proxy.url, { batchMaxEvents: 20 });
  try {
    const ids: string[] = [];
    for (let round = 0; round < 5; round++) {
      await until(() => game.connected, 'the client to reconnect');
      for (let i = 0; i < 200; i++) ids.push(game.track('CollectedItem', { item: `round-${round}`, count: i }));
      // Batches are on the wire, some acked, some not: cut the network under them.
      await until(() => game.stats().acked > round * 200, 'some acks of this round');
      proxy.cut();
    }
    assert.ok(await game.flush(15_000), 'everything is acked in the end');
    const stats = game.stats();
    assert.ok(stats.connections >= 5, `it reconnected (${stats.connections} connections)`);
    assert.ok(stats.resentBatches > 0, 'unacked batches were re-sent');
    assertExactlyOnce(await rowsOf(env, game.userId), ids);
  } finally {
    await game.close();
    await proxy.close();
    await env.stop();
  }
});

test('an access token that expires during a session is refreshed at the reconnect; no event is lost', async () => {
  const env = await startTestPipeline({ accessTokenTtlS: 2 });
  const proxy = await TcpProxy.start(env.url);
  const game = await client(proxy.url);
  try {
    const ids = [game.track('Login', { level: 1 })];
    assert.ok(await game.flush());
    // The socket outlives its token (the server checks the token only at connect), then the network drops.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (let i = 0; i < 50; i++) ids.push(game.track('CollectedItem', { item: 'coin', count: i }));
    proxy.cut();
    for (let i = 0; i < 50; i++) ids.push(game.track('Killed Enemy', `enemy ${i}`));
    assert.ok(await game.flush(10_000), 'delivered on a new connection with a fresh token');
    assert.ok(game.stats().connections >= 2);
    assertExactlyOnce(await rowsOf(env, game.userId), ids);
  } finally {
    await game.close();
    await proxy.close();
    await env.stop();
  }
});

test('offline: events wait in the queue, and the queue drains once the server is back', async () => {
  const env = await startTestPipeline();
  const proxy = await TcpProxy.start(env.url);
  const game = await client(proxy.url, { restFallbackAfterFailures: 0 });
  try {
    await until(() => game.connected, 'the first connection');
    proxy.down();
    await until(() => !game.connected, 'the client to notice');
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push(game.track('CollectedItem', { item: 'offline', count: i }));
    assert.not.ok(await game.flush(300), 'nothing can be delivered while offline');
    assert.is(game.stats().transport, 'offline');
    assert.is(game.stats().queued + game.stats().unacked, 300);
    proxy.pointAt(env.url);
    assert.ok(await game.flush(10_000), 'the queue drains after the server comes back');
    assertExactlyOnce(await rowsOf(env, game.userId), ids);
  } finally {
    await game.close();
    await proxy.close();
    await env.stop();
  }
});

test('a full queue drops by its policy, counts the drops, and reports them on the next connection', async () => {
  const env = await startTestPipeline();
  const proxy = await TcpProxy.start();
  const game = await client(proxy.url, { maxQueuedEvents: 100, batchMaxEvents: 25, maxInFlightBatches: 4, restFallbackAfterFailures: 0 });
  const dropped: number[] = [];
  game.on('dropped', ({ count }) => dropped.push(count));
  try {
    const ids: string[] = [];
    for (let i = 0; i < 130; i++) ids.push(game.track('CollectedItem', { item: 'loot', count: i }));
    assert.is(game.stats().dropped, 30);
    assert.is(game.stats().queued, 100);
    proxy.pointAt(env.url);
    assert.ok(await game.flush(10_000));
    const rows = await rowsOf(env, game.userId);
    // drop-oldest keeps the latest 100.
    assertExactlyOnce(
      rows.filter((row) => row.event_type !== DROPPED_EVENT_TYPE),
      ids.slice(30),
    );
    const report = rows.filter((row) => row.event_type === DROPPED_EVENT_TYPE);
    assert.is(report.length, 1);
    assert.is(report[0]!.event_data, '{"dropped":30}');
  } finally {
    await game.close();
    await proxy.close();
    await env.stop();
  }
});

test('Node: undelivered events persist to the state file and are delivered by the next run, as the same guest', async () => {
  const env = await startTestPipeline();
  const proxy = await TcpProxy.start(env.url);
  const dir = tempDir();
  const stateFile = join(dir.path, 'telemetry-state.json');
  try {
    const first = await client(proxy.url, { stateFile, restFallbackAfterFailures: 0 });
    await until(() => first.connected, 'the first connection');
    const playerId = first.userId;
    proxy.down();
    await until(() => !first.connected, 'the client to notice');
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push(first.track('Killed Enemy', `enemy ${i}`));
    assert.not.ok(await first.close(200), 'close() says not everything was delivered');
    assert.ok(existsSync(stateFile));
    const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
    assert.is(saved.state.guest.userId, playerId);

    proxy.pointAt(env.url);
    const second = await client(proxy.url, { stateFile });
    assert.ok(await second.flush(10_000));
    assert.is(second.userId, playerId, 'the returning guest is the same player');
    await second.close();
    assertExactlyOnce(await rowsOf(env, playerId), ids);
  } finally {
    await proxy.close();
    await env.stop();
    dir.remove();
  }
});

test('when WebSocket keeps failing, batches go over REST until the socket is back', async () => {
  // The server refuses every WebSocket upgrade (429, no room), as a proxy that blocks WebSocket would.
  const env = await startTestPipeline({ maxConnections: 0 });
  const game = await client(env.url, { restFallbackAfterFailures: 2 });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) ids.push(game.track('CollectedItem', { item: 'rest', count: i }));
    assert.ok(await game.flush(10_000));
    assert.is(game.stats().connections, 0);
    const rows = await rowsOf(env, game.userId);
    assertExactlyOnce(rows, ids);
    assert.ok(rows.every((row) => row.source === 'rest'));
  } finally {
    await game.close();
    await env.stop();
  }
});

test('send(): a one-off event over REST; bad events throw the server’s code where they are made', async () => {
  const env = await startTestPipeline();
  const game = await client(env.url);
  try {
    const id = await game.send('Logout');
    assert.equal((await rowsOf(env, game.userId)).map((row) => [row.event_id, row.source]), [[id, 'rest']]);
    const codeOf = (run: () => unknown): string | undefined => {
      try {
        run();
      } catch (error) {
        assert.instance(error, TelemetryError);
        return (error as TelemetryError).code;
      }
      return undefined;
    };
    assert.is(codeOf(() => game.track('' as 'Login', { level: 1 })), 'invalid_value');
    assert.is(codeOf(() => game.track('Killed Enemy', 'x'.repeat(40_000))), 'too_large');
    assert.is(codeOf(() => game.track('Login', { level: 1 }, { updatedAt: 'yesterday' })), 'invalid_timestamp');
    assert.is(game.stats().tracked, 0, 'nothing invalid was queued');
  } finally {
    await game.close();
    await env.stop();
  }
});

test('pings keep a quiet session inside the idle limit, and it renews its connection before the age limit', async () => {
  const env = await startTestPipeline({ wsIdleTimeoutMs: 400 });
  const pinging = await client(env.url, { pingIntervalMs: 100 });
  const ageing = await client(env.url, { pingIntervalMs: 100, maxConnectionAgeMs: 300 });
  const closedBy: number[] = [];
  pinging.on('disconnected', ({ code }) => closedBy.push(code));
  try {
    await until(() => pinging.connected && ageing.connected, 'both connected');
    const ids = [pinging.track('Login', { level: 1 }), ageing.track('Login', { level: 2 })];
    await new Promise((resolve) => setTimeout(resolve, 1200)); // three idle limits, four connection ages
    ids.push(pinging.track('Logout'), ageing.track('Logout'));
    assert.ok((await pinging.flush()) && (await ageing.flush()));
    assert.equal(closedBy, [], 'the server never closed the pinging socket for idleness');
    assert.is(pinging.stats().connections, 1);
    assert.ok(ageing.stats().connections >= 3, `renewed before its age limit (${ageing.stats().connections} connections)`);
    const rows = [...(await rowsOf(env, pinging.userId)), ...(await rowsOf(env, ageing.userId))];
    assertExactlyOnce(rows, ids);
  } finally {
    await pinging.close();
    await ageing.close();
    await env.stop();
  }
});

test('close() during a WebSocket handshake that never completes ends at once, and the process lives on', async () => {
  const env = await startTestPipeline();
  const hung = await TcpProxy.start();
  hung.hold();
  const game = await client(env.url, { websocketEndpoint: hung.url.replace(/^http/, 'ws'), restFallbackAfterFailures: 0, requestTimeoutMs: 10_000 });
  try {
    game.track('Login', { level: 1 });
    await until(() => hung.sockets > 0, 'the handshake to start');
    const started = Date.now();
    assert.not.ok(await game.close(100), 'nothing could be delivered');
    assert.ok(Date.now() - started < 2000, `close() did not wait for the handshake timeout (${Date.now() - started} ms)`);
    // An unhandled 'error' from the socket would have ended this process before the next line.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    await hung.close();
    await env.stop();
  }
});

test('batches stay under the byte limit with multi-byte text, and restored batches keep their ids', () => {
  const outbox = new Outbox({ maxEvents: 1000, batchMaxEvents: 500, batchMaxBytes: 4096, dropPolicy: 'drop-oldest' }, 'p');
  for (let i = 0; i < 100; i++) {
    outbox.push({ event_id: `e${i}`, event_type: 'Chat', updated_at: '2024-02-22T03:03:02Z', event_data: '😀ü'.repeat(20) });
  }
  const batches = [];
  for (let batch = outbox.takeBatch(); batch; batch = outbox.takeBatch()) batches.push(batch);
  assert.ok(batches.length > 1);
  for (const batch of batches) assert.ok(utf8Length(batch.frame) <= 4096, `frame of ${utf8Length(batch.frame)} bytes`);
  assert.is(batches.reduce((sum, batch) => sum + batch.events.length, 0), 100);

  const again = new Outbox({ maxEvents: 1000, batchMaxEvents: 500, batchMaxBytes: 4096, dropPolicy: 'drop-oldest' }, 'q');
  again.restore(outbox.snapshot());
  assert.equal([...again.batches.keys()], batches.map((batch) => batch.id));
  assert.equal([...again.batches.values()].map((batch) => batch.frame), batches.map((batch) => batch.frame));
});

test.after(async () => {
  await closeDuckDb();
});

test.run();
