import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parquetReadObjects } from 'hyparquet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { optimize } from '../runtime/delta/optimize.ts';
import { loadSnapshot, dataFilePath } from '../runtime/delta/snapshot.ts';
import { vacuum } from '../runtime/delta/vacuum.ts';
import { dataPaths } from '../runtime/local/data-paths.ts';
import { startDeltaWriter } from '../runtime/local/delta-writer/delta-writer.ts';
import { eventsTablePath } from '../runtime/local/delta-writer/events-table.ts';
import { HubStream } from '../runtime/local/stream/hub-stream.ts';
import { appendStoredEvents, loginAsGuest, startTestPipeline, tempDir, TestSocket } from './support/local.ts';
import { closeDuckDb, rowKey, tableRows } from './support/table.ts';
import { until } from './support/until.ts';

const EVENT_TYPES = ['Login', 'Logout', 'New Game', 'Resume Game', 'End Game'];

/** The original test client's events: only 20 event ids, reused by every player. */
function originalClientEvents(player: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    event_id: String((i % 20) + 1).padStart(5, '0'),
    event_type: EVENT_TYPES[(i + player) % 5]!,
    updated_at: `2024-02-22 03:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${String(player).padStart(6, '0')}`,
    event_data: `player ${player} event ${i}`,
  }));
}

test('the table holds exactly the distinct acked events: re-sends once, reused ids across players all kept', async () => {
  const env = await startTestPipeline();
  try {
    const expected = new Map<string, unknown>();
    for (let p = 0; p < 3; p++) {
      const guest = await loginAsGuest(env.url);
      const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
      const events = originalClientEvents(p, 60);
      for (let b = 0; b < 3; b++) {
        const batch = events.slice(b * 20, b * 20 + 20);
        const ack = await socket.request({ action: 'put-records', id: `p${p}-b${b}`, events: batch });
        assert.is(ack.accepted, 20);
        // The client "lost" the ack of batch 1 and re-sends it, same id, same events.
        if (b === 1) assert.is((await socket.request({ action: 'put-records', id: `p${p}-b${b}`, events: batch })).accepted, 20);
      }
      // Near-duplicates are different events: same id and time but another type, or another time.
      const near = [
        { ...events[0]!, event_type: 'CollectedItem' },
        { ...events[0]!, updated_at: '2024-02-22 04:00:00' },
      ];
      assert.is((await socket.request({ action: 'put-records', id: `p${p}-near`, events: near })).accepted, 2);
      for (const e of [...events, ...near]) {
        const updated = e.updated_at.includes('.') ? `${e.updated_at.replace(' ', 'T')}Z` : `${e.updated_at.replace(' ', 'T')}.000000Z`;
        expected.set(rowKey({ player_id: guest.user_id, event_id: e.event_id, event_type: e.event_type, updated_at: updated }), e.event_data);
      }
      await socket.close();
    }
    await env.pipeline.deltaWriter!.drain();
    const rows = await tableRows(env.dataDir);
    assert.is(rows.length, expected.size, 'one row per distinct event');
    for (const row of rows) assert.is(expected.get(rowKey(row)), row.event_data, rowKey(row));
    assert.is(new Set(rows.map(rowKey)).size, rows.length, 'no key twice');
    assert.is(new Set(rows.map((r) => r.event_id)).size, 20, 'only the 20 reused ids, all kept for every player');
    const status = env.pipeline.deltaWriter!.status();
    assert.is(status.duplicatesDropped, 60, 'the three re-sent batches');
    assert.is(status.lag, 0);
  } finally {
    await closeDuckDb();
    await env.stop();
  }
});

test('event types that need escaping round-trip exactly, and a second Parquet reader agrees', async () => {
  const env = await startTestPipeline();
  try {
    const types = ['New Game', 'a/b', 'x=y', '%', '#', '?', '敵を倒した', 'Élan vital', '🎮 Play', 'quote"s', 'back\\slash', 'a%2Fb'];
    const guest = await loginAsGuest(env.url);
    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    const events = types.map((event_type, i) => ({ event_id: `e${i}`, event_type, updated_at: '2024-02-22T03:03:02.123456Z', event_data: { i } }));
    assert.is((await socket.request({ action: 'put-records', id: 'esc', events })).accepted, types.length);
    await socket.close();
    await env.pipeline.deltaWriter!.drain();

    const rows = await tableRows(env.dataDir);
    assert.equal(rows.map((r) => r.event_type).sort(), [...types].sort());
    const tablePath = eventsTablePath(env.dataDir);
    const snapshot = await loadSnapshot(tablePath);
    assert.is(snapshot.files.length, types.length, 'one partition per type');
    for (const add of snapshot.files) {
      const path = dataFilePath(tablePath, add.path);
      assert.ok(existsSync(path), path);
      // No partition directory may escape the table or nest: '/' in a value is escaped.
      assert.is(path.slice(tablePath.length + 1).split('/').length, 2, path);
      const buffer = (await import('node:fs')).readFileSync(path);
      const arrayBuffer = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
      const fileRows = (await parquetReadObjects({ file: arrayBuffer })) as Array<Record<string, unknown>>;
      assert.is(fileRows.length, 1);
      assert.not.ok('event_type' in fileRows[0]!, 'the partition column is not stored in the file');
      const row = rows.find((r) => r.event_type === add.partitionValues.event_type)!;
      assert.is(fileRows[0]!.event_id, row.event_id);
      assert.is(fileRows[0]!.event_data, row.event_data);
      assert.is(JSON.parse(add.stats!).numRecords, 1);
    }
  } finally {
    await closeDuckDb();
    await env.stop();
  }
});

test('a checkpoint exists after 10 commits, and a restart resumes from the table txn without writing twice', async () => {
  const env = await startTestPipeline();
  let dataDir = env.dataDir;
  try {
    const guest = await loginAsGuest(env.url);
    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    for (let b = 0; b < 11; b++) {
      const events = [{ event_id: `c${b}`, event_type: 'Login', updated_at: '2024-02-22 03:03:02' }];
      assert.is((await socket.request({ action: 'put-records', id: `c${b}`, events })).accepted, 1);
      await env.pipeline.deltaWriter!.drain();
    }
    await socket.close();
    const log = join(eventsTablePath(env.dataDir), '_delta_log');
    assert.ok(readdirSync(log).includes('00000000000000000010.checkpoint.parquet'), readdirSync(log).join(' '));
    assert.is(JSON.parse((await import('node:fs')).readFileSync(join(log, '_last_checkpoint'), 'utf8')).version, 10);
    const before = await loadSnapshot(eventsTablePath(env.dataDir));
    assert.is(before.version, 11);
    assert.is([...before.txns.values()][0]!.version, env.pipeline.stream.lastPosition());
    dataDir = env.dataDir;
  } finally {
    await env.pipeline.close();
  }
  // Same data directory, new process-level pipeline: nothing new, so nothing is committed again.
  const again = await startTestPipeline({ dataDir });
  try {
    await again.pipeline.deltaWriter!.drain();
    const after = await loadSnapshot(eventsTablePath(dataDir));
    assert.is(after.version, 11, 'no empty or repeated commit after a restart');
    assert.is((await tableRows(dataDir)).length, 11);
  } finally {
    await closeDuckDb();
    await again.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the checkpoints the writer builds from its own snapshot hold the table its log holds, OPTIMIZE by another writer included', async () => {
  const env = await startTestPipeline();
  const replayDir = tempDir('telemetry-replay-');
  try {
    const guest = await loginAsGuest(env.url);
    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    const tablePath = eventsTablePath(env.dataDir);
    for (let b = 0; b < 20; b++) {
      const events = [{ event_id: `k${b}`, event_type: EVENT_TYPES[b % 2]!, updated_at: '2024-02-22 03:03:02' }];
      assert.is((await socket.request({ action: 'put-records', id: `k${b}`, events })).accepted, 1);
      await env.pipeline.deltaWriter!.drain();
      // Between the two checkpoints, another writer compacts: its removes and adds must reach checkpoint 20.
      if (b === 12) assert.ok((await optimize(tablePath, {})).version !== null);
    }
    await socket.close();
    const log = join(tablePath, '_delta_log');
    assert.ok(readdirSync(log).includes('00000000000000000020.checkpoint.parquet'), readdirSync(log).join(' '));

    // The same log without its checkpoints: replayed from the JSON commits alone.
    const replayLog = join(replayDir.path, 'events', '_delta_log');
    mkdirSync(replayLog, { recursive: true });
    for (const name of readdirSync(log).filter((file) => /^\d{20}\.json$/.test(file))) copyFileSync(join(log, name), join(replayLog, name));
    const fromCheckpoint = await loadSnapshot(tablePath);
    const fromCommits = await loadSnapshot(join(replayDir.path, 'events'));
    assert.is(fromCheckpoint.checkpointVersion, 20);
    assert.is(fromCommits.checkpointVersion, undefined);
    const paths = (files: readonly { path: string }[]) => files.map((file) => file.path).sort();
    assert.equal(paths(fromCheckpoint.files), paths(fromCommits.files));
    assert.equal(paths(fromCheckpoint.tombstones), paths(fromCommits.tombstones));
    assert.ok(fromCheckpoint.tombstones.length >= 2, 'the compacted files are tombstones');
    assert.equal(fromCheckpoint.txns, fromCommits.txns);
    assert.is(fromCheckpoint.numRecords, 20);
    assert.is((await tableRows(env.dataDir)).length, 20);
  } finally {
    replayDir.remove();
    await closeDuckDb();
    await env.stop();
  }
});

test('a batch is committed as soon as it holds maxBatchRows rows; below that, the window decides', async () => {
  const dir = tempDir('telemetry-batch-cap-');
  const stream = HubStream.open({ path: dataPaths(dir.path).stream, trimIntervalMs: 0 });
  // A window far longer than the test: only the cap can commit.
  const writer = await startDeltaWriter({ stream, dataDir: dir.path, windowMs: 600_000, maxBatchRows: 100, dedupWindowMs: 86_400_000, idlePollMs: 10 });
  const append = (from: number, count: number) => appendStoredEvents(stream, Array.from({ length: count }, (_, i) => `e${from + i}`));
  try {
    await append(0, 60);
    await append(60, 60);
    await until(() => writer.status().commits === 1, 'the full batch to be committed');
    assert.is(writer.status().rowsWritten, 120, 'the whole read that reached the cap');
    assert.is((await loadSnapshot(eventsTablePath(dir.path))).version, 1);
    await append(120, 50);
    await sleep(300);
    assert.is(writer.status().commits, 1, 'a batch under the cap waits for its window');
    assert.is(writer.status().lag, 1);
    await writer.drain();
    assert.is(writer.status().rowsWritten, 170);
  } finally {
    await writer.close();
    await stream.close();
    await closeDuckDb();
    dir.remove();
  }
});

test('the dedup index is bounded by its window: a re-send after the window is a new event', async () => {
  const env = await startTestPipeline({ dedupWindowMs: 300 });
  try {
    const guest = await loginAsGuest(env.url);
    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    const event = { event_id: 'late', event_type: 'Login', updated_at: '2024-02-22 03:03:02' };
    await socket.request({ action: 'put-records', id: 'first', events: [event] });
    await socket.request({ action: 'put-records', id: 'again', events: [event] });
    await env.pipeline.deltaWriter!.drain();
    assert.is((await tableRows(env.dataDir)).length, 1, 'within the window: stored once');
    await new Promise((resolve) => setTimeout(resolve, 400));
    await socket.request({ action: 'put-records', id: 'much-later', events: [event] });
    await env.pipeline.deltaWriter!.drain();
    assert.is((await tableRows(env.dataDir)).length, 2, 'after the window: stored again');
    await socket.close();
  } finally {
    await closeDuckDb();
    await env.stop();
  }
});

test('another writer committing meanwhile (VACUUM, OPTIMIZE) costs the writer a re-read, never a lost or doubled batch', async () => {
  const env = await startTestPipeline();
  try {
    const guest = await loginAsGuest(env.url);
    const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
    const send = async (id: string) => {
      const events = [{ event_id: id, event_type: 'Login', updated_at: '2024-02-22 03:03:02' }];
      assert.is((await socket.request({ action: 'put-records', id, events })).accepted, 1);
      await env.pipeline.deltaWriter!.drain();
    };
    await send('before');
    const tablePath = eventsTablePath(env.dataDir);
    const vacuumed = await vacuum(tablePath, {});
    await send('after-vacuum');
    await optimize(tablePath, {});
    await send('after-optimize');
    const snapshot = await loadSnapshot(tablePath);
    assert.ok(snapshot.version > vacuumed.version + 2, 'the VACUUM and OPTIMIZE commits are in between');
    assert.is([...snapshot.txns.values()][0]!.version, env.pipeline.stream.lastPosition());
    assert.equal((await tableRows(env.dataDir)).map((row) => row.event_id).sort(), ['after-optimize', 'after-vacuum', 'before']);
    await socket.close();
  } finally {
    await closeDuckDb();
    await env.stop();
  }
});

test.run();
