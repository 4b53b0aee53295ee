import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeHubRecord } from '../runtime/core/stored-row.ts';
import { readArchive } from '../runtime/local/archive/read-archive.ts';
import { dataPaths } from '../runtime/local/data-paths.ts';
import { type Failpoint, FAILPOINTS } from '../runtime/local/failpoint.ts';
import { HubStream } from '../runtime/local/stream/hub-stream.ts';
import { ORIGINAL_EXAMPLE, tempDir, TestSocket } from './support/local.ts';
import { exited, startServerProcess } from './support/server-process.ts';
import { closeDuckDb, tableRows } from './support/table.ts';

/**
 * What ends each round: a SIGKILL from outside at a random moment, or the process killing itself at a failpoint, the
 * worst moment for one consumer (runtime/local/failpoint.ts). A last, clean round drains and stops with SIGTERM.
 */
const ROUNDS: readonly ('random' | Failpoint)[] = [
  'random',
  'delta-writer:before-commit',
  'raw-archive:before-rename',
  'random',
  'delta-writer:after-commit',
  'raw-archive:after-rename',
  'random',
];
const BATCH = 50;

interface Batch {
  id: string;
  events: Array<typeof ORIGINAL_EXAMPLE>;
}

async function guestToken(url: string, guest?: { user_id: string; guest_secret: string }) {
  const query = guest ? `?user_id=${guest.user_id}&guest_secret=${guest.guest_secret}` : '';
  const response = await fetch(`${url}login-as-guest${query}`);
  return (await response.json()) as { user_id: string; guest_secret: string; auth_token: string };
}

const sleep = (ms: number) => new Promise<false>((resolve) => setTimeout(() => resolve(false), ms));

async function waitForHealth(url: string, done: (health: any) => boolean, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = await (await fetch(`${url}health`)).json();
    if (done(health)) return health;
    if (Date.now() > deadline) throw new Error(`health never settled: ${JSON.stringify(health)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('SIGKILL at random moments and at each consumer failpoint, restart each time: no acked event lost or stored twice, in the table or the archive', async () => {
  assert.equal(new Set(ROUNDS.filter((end) => end !== 'random')), new Set(FAILPOINTS), 'every failpoint gets a round');
  const dir = tempDir();
  const args = ['--port', '0', '--data-dir', dir.path, '--delta-window', '0.15', '--archive-flush', '0.1', '--rate-limit', '0'];
  const acked = new Set<string>();
  const unacked = new Map<string, Batch>();
  let guest: { user_id: string; guest_secret: string } | undefined;
  let next = 0;
  try {
    for (let round = 0; round <= ROUNDS.length; round++) {
      const end = ROUNDS[round];
      const failpoint = end !== undefined && end !== 'random';
      const server = await startServerProcess(args, failpoint ? { TELEMETRY_FAILPOINT: end } : {}).catch((error: Error) => {
        // The consumers resume the last round's leftovers at once: a failpoint may fire before the server is up.
        if (failpoint && error.message.startsWith('server exited with SIGKILL')) return undefined;
        throw error;
      });
      if (!server) continue;
      const gone = exited(server.child);
      let died = false;
      void gone.then(() => (died = true));
      let socket: TestSocket | undefined;
      try {
        const login = await guestToken(server.url, guest);
        guest ??= { user_id: login.user_id, guest_secret: login.guest_secret };
        assert.is(login.user_id, guest.user_id, 'the returning guest keeps its player id');
        socket = await TestSocket.open(server.url.replace(/^http/, 'ws'), login.auth_token);
      } catch (error) {
        // A failpoint may fire before the client is in: the consumers resume the last round's leftovers at once.
        if (end === undefined || end === 'random' || !(await Promise.race([gone.then(() => true), sleep(2000)]))) throw error;
      }
      socket?.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        const batch = unacked.get(frame.id);
        if (frame.type !== 'ack' || !batch) return;
        unacked.delete(frame.id);
        for (const event of batch.events) acked.add(event.event_id);
      });
      // What the previous process never acked is sent again first, as the client library does.
      for (const batch of unacked.values()) socket?.send({ action: 'put-records', ...batch });

      if (end === undefined) {
        await waitForHealth(server.url, () => unacked.size === 0);
        const health = await waitForHealth(server.url, (h) => h.delta_writer.lag === 0 && h.raw_archive.lag === 0 && h.stream.lastPosition > 0);
        assert.ok(health.delta_writer.healthy);
        server.child.kill('SIGTERM');
        assert.is((await exited(server.child)).code, 0);
        break;
      }
      // A random round ends at a random moment; a failpoint round when the process reaches its point and dies.
      const killAt = end === 'random' ? Date.now() + 150 + Math.random() * 1200 : Date.now() + 30_000;
      while (socket && Date.now() < killAt && !died) {
        if (unacked.size < 16) {
          const id = `b${next++}`;
          const batch = { id, events: Array.from({ length: BATCH }, (_, i) => ({ ...ORIGINAL_EXAMPLE, event_id: `${id}-${i}` })) };
          unacked.set(id, batch);
          socket.send({ action: 'put-records', ...batch });
          // Now and then the "lost ack" case: an acked batch is sent again.
          if (next % 7 === 0 && next > 7) socket.send({ action: 'put-records', id: `b${next - 7}`, events: Array.from({ length: BATCH }, (_, i) => ({ ...ORIGINAL_EXAMPLE, event_id: `b${next - 7}-${i}` })) });
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      if (end !== 'random') assert.ok(died, `the process reached ${end} within 30 s`);
      server.child.kill('SIGKILL');
      assert.is((await gone).signal, 'SIGKILL', `round ${round} (${end}) ended in a SIGKILL`);
      socket?.ws.terminate();
    }

    const rows = await tableRows(dir.path);
    const ids = rows.map((row) => row.event_id);
    assert.is(new Set(ids).size, ids.length, 'no event stored twice');
    const stored = new Set(ids);
    const lost = [...acked].filter((id) => !stored.has(id));
    assert.equal(lost, [], 'no acked event lost');
    assert.ok(rows.every((row) => row.player_id === guest!.user_id));
    // Everything sent was acked in the end (the last round re-sent the rest), so the table is exactly that.
    assert.is(stored.size, acked.size);
    assert.ok(acked.size >= BATCH * ROUNDS.length, `enough traffic: ${acked.size}`);

    // The raw archive holds every stream record exactly once, byte for byte, in position order.
    const stream = HubStream.open({ path: dataPaths(dir.path).stream, trimIntervalMs: 0 });
    const records = stream.read(0, 1_000_000);
    await stream.close();
    const archived: Buffer[] = [];
    let expectedFirst = 1;
    for await (const file of readArchive(dir.path)) {
      assert.is(file.first, expectedFirst, 'archive files follow on from each other');
      expectedFirst = file.last + 1;
      archived.push(file.data);
    }
    assert.is(expectedFirst - 1, records.at(-1)!.position, 'the archive reaches the last stream position');
    assert.ok(Buffer.concat(archived).equals(Buffer.concat(records.map((r) => r.data))), 'archive = stream, byte for byte');
    const archivedIds = new Set(decodeHubRecord(Buffer.concat(archived)).rows.map((row) => row.event_id));
    assert.equal([...acked].filter((id) => !archivedIds.has(id)), [], 'every acked event is in the archive');
  } finally {
    await closeDuckDb();
    dir.remove();
  }
});

test.run();
