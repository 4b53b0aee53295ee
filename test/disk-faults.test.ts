/**
 * Disk faults, for real: a small tmpfs filled to the last block (ENOSPC, SQLITE_FULL), plain files standing where a
 * directory must be created (EEXIST, ENOTDIR), a damaged file in the Delta log, and I/O errors (EIO) around a Delta
 * commit. Each fault must give the right error, acknowledge nothing that is not stored, show in GET /health,
 * and clear by itself once the fault does: same process, same sockets, nothing lost and nothing stored twice.
 */
import fs, { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeHubRecord } from '../runtime/core/stored-row.ts';
import { optimize } from '../runtime/delta/optimize.ts';
import { hourDir, hourKey, rawArchiveDir } from '../runtime/local/archive/archive-layout.ts';
import { readArchive } from '../runtime/local/archive/read-archive.ts';
import { dataPaths } from '../runtime/local/data-paths.ts';
import { startDeltaWriter } from '../runtime/local/delta-writer/delta-writer.ts';
import { eventsTablePath } from '../runtime/local/delta-writer/events-table.ts';
import { HubStream } from '../runtime/local/stream/hub-stream.ts';
import { health, waitForHealth } from './support/health.ts';
import type { GuestLogin } from './support/local.ts';
import { appendStoredEvents, loginAsGuest, ORIGINAL_EXAMPLE, startTestPipeline, storedRows, tempDir, TestSocket } from './support/local.ts';
import { checkTable, closeDuckDb, rowKey } from './support/table.ts';
import { withTmpfs } from './support/tmpfs.ts';
import { until } from './support/until.ts';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Env = Awaited<ReturnType<typeof startTestPipeline>>;

/**
 * A game client's traffic over one WebSocket and REST at once, several requests in flight, every event id unique.
 * It keeps what the server acknowledged (ack frame, 200) apart from what it refused (stream_unavailable, 500).
 */
async function startTraffic(env: Env, guest: GuestLogin) {
  const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
  const acked = new Set<string>();
  const refused = new Set<string>();
  const unexpected: string[] = [];
  const batches = new Map<string, string[]>();
  const rest = new Set<Promise<void>>();
  socket.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    const ids = batches.get(frame.id);
    if (!ids) return;
    batches.delete(frame.id);
    if (frame.type === 'ack' && frame.accepted === ids.length) ids.forEach((id) => acked.add(id));
    else if (frame.type === 'error' && frame.error === 'stream_unavailable') ids.forEach((id) => refused.add(id));
    else unexpected.push(JSON.stringify(frame));
  });
  let next = 0;
  let running = true;
  const events = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) => ({ ...ORIGINAL_EXAMPLE, event_id: `${prefix}-${i}` }));
  const loop = (async () => {
    while (running) {
      if (batches.size < 8) {
        const id = `ws${next++}`;
        const batch = events(id, 5);
        batches.set(id, batch.map((event) => event.event_id));
        socket.send({ action: 'put-records', id, events: batch });
      }
      if (rest.size < 4) {
        const batch = events(`rest${next++}`, 3);
        const request = (async () => {
          const response = await fetch(`${env.url}put-records`, {
            method: 'POST',
            headers: { authorization: guest.auth_token },
            body: JSON.stringify({ events: batch }),
          });
          const body = (await response.json()) as { accepted?: number } | string;
          if (response.status === 200 && typeof body === 'object' && body.accepted === batch.length) batch.forEach((event) => acked.add(event.event_id));
          else if (response.status === 500 && body === 'Failed') batch.forEach((event) => refused.add(event.event_id));
          else unexpected.push(`${response.status} ${JSON.stringify(body)}`);
        })().catch((error: Error) => {
          unexpected.push(`REST request failed: ${error.message}`);
        });
        rest.add(request);
        void request.finally(() => rest.delete(request));
      }
      await sleep(3);
    }
  })();
  let stopped: Promise<void> | undefined;
  return {
    acked,
    refused,
    unexpected,
    stop() {
      stopped ??= finish();
      return stopped;
    },
  };

  async function finish(): Promise<void> {
    running = false;
    await loop;
    await Promise.all([...rest]);
    for (let waited = 0; batches.size > 0 && waited < 10_000; waited += 10) await sleep(10);
    await socket.close();
    assert.is(batches.size, 0, 'every WebSocket batch was answered');
  }
}

/**
 * Collects what is written to stderr (the main thread's console and the Delta writer thread's, which is piped
 * through it) instead of printing it: the failures are expected, and the writer's retries are counted from it.
 */
function captureStderr() {
  const original = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stderr.write;
  return {
    text: () => text,
    /** Failed Delta writer batches logged so far (one line per attempt). */
    writerRetries: () => text.split('the Delta writer could not commit a batch; retrying').length - 1,
    restore() {
      process.stderr.write = original;
    },
  };
}

/**
 * Once the stream is quiet: both consumers reach its end by themselves and report healthy; the table is sound, its
 * txn covers the whole stream and it holds every acknowledged event once and nothing else; the archive's files tile
 * positions 1..last and hold the stream's bytes, each record once. No stream position skipped by either.
 */
async function assertConsumersHoldExactly(env: Env, dataDir: string, acked: ReadonlySet<string>): Promise<void> {
  const last = env.pipeline.stream.lastPosition();
  const caughtUp = await waitForHealth(
    env.url,
    (h) => h.delta_writer.position === last && h.raw_archive.position === last && h.delta_writer.healthy && h.raw_archive.healthy,
    'both consumers to reach the end of the stream, healthy',
  );
  assert.is(caughtUp.raw_archive.missingPositions, 0);
  assert.is(caughtUp.raw_archive.retries, 0);

  const { problems, rows, snapshot, unreferenced } = await checkTable(dataDir);
  assert.equal(problems, [], 'the table is sound');
  assert.equal(unreferenced, [], 'no data file of a failed attempt is left behind');
  assert.equal([...snapshot.txns.values()].map((txn) => txn.version), [last], 'the txn covers the whole stream');
  assert.is(new Set(rows.map(rowKey)).size, rows.length, 'no event twice in the table');
  assert.equal(rows.map((row) => row.event_id).sort(), [...acked].sort(), 'the table holds exactly the acknowledged events');

  const records = env.pipeline.stream.read(0, 1_000_000);
  let next = 1;
  const archived: Buffer[] = [];
  for await (const file of readArchive(dataDir)) {
    assert.is(file.first, next, `archive file ${file.first}-${file.last} follows on from the previous one`);
    next = file.last + 1;
    archived.push(file.data);
  }
  assert.is(next - 1, last, 'the archive reaches the end of the stream');
  assert.ok(Buffer.concat(archived).equals(Buffer.concat(records.map((record) => record.data))), 'archive = stream, byte for byte');
}

interface ConsumerFault {
  readonly inject: () => void;
  readonly clear: () => void;
  /** What /health must show as the Delta writer's lastError. */
  readonly writerError: RegExp;
  /** The same for the archiver; when absent the fault is not the archiver's, and it must stay healthy throughout. */
  readonly archiveError?: RegExp;
  /** Inject before any traffic (the fault is in a place the first write creates), not once both have written. */
  readonly beforeFirstWrite?: boolean;
}

/**
 * The consumers against one fault: with traffic flowing, `inject` breaks their writes; /health must show each one hit
 * unhealthy with its error while its position stands still and the intake goes on acknowledging (the stream is
 * fine); they retry with backoff; after `clear` they catch up by themselves, and the table and the archive each hold
 * every acknowledged event exactly once, with no stream position skipped.
 */
async function consumersSurvive(env: Env, dataDir: string, fault: ConsumerFault): Promise<void> {
  const log = captureStderr();
  let traffic: Awaited<ReturnType<typeof startTraffic>> | undefined;
  try {
    const guest = await loginAsGuest(env.url);
    if (fault.beforeFirstWrite) fault.inject();
    const running = await startTraffic(env, guest);
    traffic = running;
    await until(() => running.acked.size >= 50, 'traffic before the fault');
    if (!fault.beforeFirstWrite) {
      await waitForHealth(env.url, (h) => h.delta_writer.commits > 0 && h.raw_archive.files > 0, 'both consumers writing');
      fault.inject();
    }
    const archiveHit = fault.archiveError !== undefined;
    const failing = await waitForHealth(
      env.url,
      (h) => !h.delta_writer.healthy && (!archiveHit || !h.raw_archive.healthy),
      'the consumers to report the fault',
    );
    assert.match(failing.delta_writer.lastError, fault.writerError);
    if (fault.archiveError) {
      assert.match(failing.raw_archive.lastError, /could not write an archive file/);
      assert.match(failing.raw_archive.lastError, fault.archiveError);
    }
    const ackedAtFault = running.acked.size;
    const retriesAtFault = { writer: log.writerRetries(), archive: failing.raw_archive.retries as number };
    await sleep(2000);

    const stuck = await health(env.url);
    assert.ok(running.acked.size >= ackedAtFault + 50, 'the intake goes on acknowledging: the stream has room');
    assert.is(stuck.delta_writer.position, failing.delta_writer.position, 'the writer does not move past what it could not write');
    assert.ok(stuck.delta_writer.lag > 0, 'the writer reports its growing lag');
    assert.not.ok(stuck.delta_writer.healthy, 'the writer is still reported unhealthy');
    // Backoff: 2 s of a persistent fault costs a handful of attempts (100 ms doubling), not a busy loop.
    const writerRetries = log.writerRetries() - retriesAtFault.writer;
    assert.ok(writerRetries >= 1 && writerRetries <= 6, `Delta writer retries in 2 s: ${writerRetries}`);
    if (archiveHit) {
      // Space can come back for a moment on a full disk (a rollback journal of the dedup index on the same disk is
      // truncated after each failed attempt) and the archiver may then write a file: its position moves only with one.
      if (stuck.raw_archive.position !== failing.raw_archive.position) {
        assert.ok(stuck.raw_archive.files > failing.raw_archive.files, 'the archiver does not move past what it could not write');
      }
      assert.ok(stuck.raw_archive.lag > 0, 'the archiver reports its growing lag');
      assert.not.ok(stuck.raw_archive.healthy, 'the archiver is still reported unhealthy');
      const archiveRetries = stuck.raw_archive.retries - retriesAtFault.archive;
      assert.ok(archiveRetries >= 1 && archiveRetries <= 6, `archiver retries in 2 s: ${archiveRetries}`);
    } else {
      assert.ok(stuck.raw_archive.healthy && stuck.raw_archive.retries === 0, 'the archiver is not affected');
      assert.ok(stuck.raw_archive.position > failing.raw_archive.position, 'the archiver goes on');
    }

    fault.clear();
    await waitForHealth(
      env.url,
      (h) =>
        h.delta_writer.healthy &&
        h.raw_archive.healthy &&
        h.delta_writer.position > stuck.delta_writer.position &&
        h.raw_archive.position > stuck.raw_archive.position,
      'the consumers to recover by themselves',
    );
    const ackedAtRecovery = running.acked.size;
    await until(() => running.acked.size >= ackedAtRecovery + 50, 'traffic after the recovery');
    await running.stop();
    assert.equal(running.unexpected, []);
    assert.is(running.refused.size, 0, 'the intake never refused anything');

    await assertConsumersHoldExactly(env, dataDir, running.acked);
  } finally {
    await traffic?.stop().catch(() => {});
    log.restore();
    await closeDuckDb();
  }
}

test('disk full under the whole data directory: 500 "Failed" and stream_unavailable, nothing unacked stored, nothing acked lost, recovery without a restart', async () => {
  await withTmpfs('disk full under the whole data directory', 8 * MiB, async (disk) => {
    // All of npm start's files on the small disk: the stream, the consumers' files, the identity service's.
    const dataDir = join(disk.path, 'data');
    const env = await startTestPipeline({ dataDir, deltaWindowMs: 100, archiveFlushMs: 100 });
    const log = captureStderr();
    let traffic: Awaited<ReturnType<typeof startTraffic>> | undefined;
    let closed = false;
    try {
      const guest = await loginAsGuest(env.url);
      const socket = await TestSocket.open(env.wsUrl, guest.auth_token);
      const post = (path: string, body: unknown) =>
        fetch(`${env.url}${path}`, { method: 'POST', headers: { authorization: guest.auth_token }, body: JSON.stringify(body) });
      assert.is((await post('put-record', { ...ORIGINAL_EXAMPLE, event_id: 'before' })).status, 200);
      const running = await startTraffic(env, guest);
      traffic = running;
      await until(() => running.acked.size >= 50, 'traffic before the fault');

      disk.fill();
      assert.is(disk.freeBytes(), 0, 'the disk is full');
      await until(() => running.refused.size >= 30, 'refusals while the disk is full');
      const stalled = env.pipeline.stream.lastPosition();
      const failedCommits = env.pipeline.stream.stats().failedCommits;

      // Each intake answers with its own error while the stream cannot commit, and stores nothing.
      const single = await post('put-record', { ...ORIGINAL_EXAMPLE, event_id: 'full-rest' });
      assert.equal([single.status, await single.json()], [500, 'Failed']);
      const batch = await post('put-records', { events: [{ ...ORIGINAL_EXAMPLE, event_id: 'full-batch' }] });
      assert.equal([batch.status, await batch.json()], [500, 'Failed']);
      const frame = await socket.request({ action: 'put-records', id: 'full-ws', events: [{ ...ORIGINAL_EXAMPLE, event_id: 'full-ws' }] });
      assert.equal([frame.type, frame.id, frame.error], ['error', 'full-ws', 'stream_unavailable']);
      assert.is(env.pipeline.stream.lastPosition(), stalled, 'nothing committed while the disk is full');
      const during = await health(env.url);
      assert.is(during.status, 'ok', 'health still answers');
      assert.ok(during.stream.failedCommits > failedCommits, `failed commits are counted: ${JSON.stringify(during.stream)}`);
      // The client sees a stable code only; the operator's log has the cause.
      assert.match(log.text(), /The hub stream could not commit: database or disk is full/);
      // A new guest cannot be stored either: refused with a retryable 500, not handed credentials that would be lost.
      const login = await fetch(`${env.url}login-as-guest`);
      assert.equal([login.status, ((await login.json()) as { error: string }).error], [500, 'internal_error']);

      // Space comes back: the same server and the same socket take events again.
      disk.free();
      const refusedAtFree = running.refused.size;
      const ackedAtFree = running.acked.size;
      assert.is((await post('put-record', { ...ORIGINAL_EXAMPLE, event_id: 'after-rest' })).status, 200);
      const ack = await socket.request({ action: 'put-records', id: 'after-ws', events: [{ ...ORIGINAL_EXAMPLE, event_id: 'after-ws' }] });
      assert.equal([ack.type, ack.id, ack.accepted], ['ack', 'after-ws', 1]);
      assert.ok((await loginAsGuest(env.url)).auth_token, 'guests can log in again');
      await until(() => running.acked.size >= ackedAtFree + 50, 'traffic after the fault');
      await running.stop();
      await socket.close();
      assert.equal(running.unexpected, [], 'only acks, 200s, stream_unavailable and 500 "Failed"');
      assert.ok(running.refused.size - refusedAtFree < 200, 'refusals stop once space is back');
      assert.equal([...running.refused].filter((id) => running.acked.has(id)), [], 'no event both refused and acknowledged');

      const expected = new Set([...running.acked, 'before', 'after-rest', 'after-ws']);
      const checkStored = (entries: ReturnType<HubStream['read']>, where: string) => {
        const ids = entries.flatMap((entry) => decodeHubRecord(entry.data).rows.map((row) => row.event_id));
        assert.is(ids.length, new Set(ids).size, `${where}: no event twice`);
        // Every refused event is absent and every acknowledged one present: the refusals stored nothing at all.
        assert.equal([...ids].sort(), [...expected].sort(), `${where}: exactly the acknowledged events`);
        // A failed group commit must not burn positions: consumers would take the hole for records lost to retention.
        assert.equal(entries.map((entry) => entry.position), entries.map((_, index) => index + 1), `${where}: positions 1..n without holes`);
      };
      checkStored(env.pipeline.stream.read(0, 1_000_000), 'the running stream');
      assert.ok(storedRows(env.pipeline.stream).every((row) => row.player_id === guest.user_id));
      // The consumers, which hit the full disk too, end with exactly what was acknowledged.
      await assertConsumersHoldExactly(env, dataDir, expected);
      await closeDuckDb();

      // Durable, not just visible: the file read afresh after shutdown holds the same, and SQLite finds it sound.
      await env.pipeline.close();
      closed = true;
      const path = dataPaths(dataDir).stream;
      const reopened = HubStream.open({ path, trimIntervalMs: 0 });
      try {
        checkStored(reopened.read(0, 1_000_000), 'the stream file after a restart');
      } finally {
        await reopened.close();
      }
      const check = new Database(path, { readonly: true });
      try {
        assert.is(check.pragma('integrity_check', { simple: true }), 'ok');
      } finally {
        check.close();
      }
    } finally {
      await traffic?.stop().catch(() => {});
      log.restore();
      await closeDuckDb();
      if (!closed) await env.pipeline.close();
      await env.stop().catch(() => {});
    }
  });
});

/**
 * The consumers' files on a small disk that fills up, the hub stream on one with room (so the intake keeps
 * acknowledging). `onSmallDisk` are the data directory's entries placed there; the rest stay on the big disk.
 */
async function consumersOnFullDisk(what: string, onSmallDisk: readonly string[], writerError: RegExp): Promise<void> {
  await withTmpfs(what, 16 * MiB, async (disk) => {
    const data = tempDir('telemetry-disk-faults-');
    for (const name of onSmallDisk) {
      mkdirSync(join(disk.path, name));
      symlinkSync(join(disk.path, name), join(data.path, name));
    }
    const env = await startTestPipeline({ dataDir: data.path, deltaWindowMs: 100, archiveFlushMs: 100 });
    try {
      await consumersSurvive(env, data.path, {
        inject: () => {
          disk.fill();
          assert.is(disk.freeBytes(), 0, 'the disk is full');
        },
        clear: () => disk.free(),
        writerError,
        archiveError: /ENOSPC: no space left on device/,
      });
    } finally {
      await env.pipeline.close();
      await env.stop().catch(() => {});
      data.remove();
    }
  });
}

test('disk full under the table and the raw archive: /health reports both, they back off, catch up by themselves, nothing lost or doubled', async () => {
  // The Parquet files (DuckDB's COPY) and the Delta log cannot be written; the writer's dedup index still can.
  await consumersOnFullDisk('disk full under the table and the archive', ['delta_lake_events_db', 'raw'], /no space left|ENOSPC/i);
});

test("disk full under every consumer file, the writer's dedup index included (SQLITE_FULL): same recovery", async () => {
  await consumersOnFullDisk(
    'disk full under every consumer file',
    ['delta_lake_events_db', 'delta-writer', 'raw'],
    /database or disk is full|no space left|ENOSPC/i,
  );
});

test('a file where the writer and the archiver must create a directory (EEXIST, ENOTDIR): reported, retried, recovered once removed', async () => {
  const env = await startTestPipeline({ deltaWindowMs: 100, archiveFlushMs: 100 });
  // Before anything is written, plain files stand where the Login partition directory must go (mkdir: EEXIST) and
  // where the archive's day directory must go (mkdir of the hour below it: ENOTDIR), for now and a minute ahead in
  // case the day turns during the test.
  const blockers = [
    join(eventsTablePath(env.dataDir), 'event_type=Login'),
    ...new Set([Date.now(), Date.now() + 60_000].map((time) => dirname(hourDir(rawArchiveDir(env.dataDir), hourKey(time))))),
  ];
  try {
    await consumersSurvive(env, env.dataDir, {
      inject: () => {
        for (const blocker of blockers) {
          mkdirSync(dirname(blocker), { recursive: true });
          writeFileSync(blocker, 'in the way');
        }
      },
      clear: () => blockers.forEach((blocker) => rmSync(blocker)),
      writerError: /EEXIST: file already exists, mkdir .*event_type=Login/,
      archiveError: /ENOTDIR: not a directory, mkdir/,
      beforeFirstWrite: true,
    });
  } finally {
    await env.stop();
  }
});

test('a damaged file where the next commit must go: /health shows the corrupt log, the writer backs off, recovers once it is removed, and leaves no copy of the batch per retry', async () => {
  const env = await startTestPipeline({ deltaWindowMs: 100, archiveFlushMs: 100 });
  // Half a commit, as a crashed foreign writer without atomic renames might leave it, at the version the writer's
  // first commit needs (the table is at version 0 once created).
  const damaged = join(eventsTablePath(env.dataDir), '_delta_log', `${'1'.padStart(20, '0')}.json`);
  try {
    await consumersSurvive(env, env.dataDir, {
      inject: () => writeFileSync(damaged, '{"add":{"path":"part-'),
      clear: () => rmSync(damaged),
      writerError: /00000000000000000001\.json line 1 is not valid JSON/,
      beforeFirstWrite: true,
    });
  } finally {
    await env.stop();
  }
});

/** A Delta writer in this process (not its thread), so the file system under it can be made to fail. */
async function inProcessWriter() {
  const dir = tempDir('telemetry-commit-faults-');
  const stream = HubStream.open({ path: dataPaths(dir.path).stream, trimIntervalMs: 0 });
  const logged: string[] = [];
  const writer = await startDeltaWriter({
    stream,
    dataDir: dir.path,
    windowMs: 50,
    dedupWindowMs: 24 * 60 * 60 * 1000,
    idlePollMs: 10,
    logError: (message, error) => logged.push(`${message}: ${(error as Error).message}`),
  });
  return {
    dir: dir.path,
    stream,
    writer,
    logged,
    tablePath: eventsTablePath(dir.path),
    logPath: join(eventsTablePath(dir.path), '_delta_log'),
    append: (ids: string[]) => appendStoredEvents(stream, ids),
    async close() {
      await writer.close();
      await stream.close();
      await closeDuckDb();
      dir.remove();
    },
  };
}

test('a commit whose outcome the file system leaves unknown (the link happened, an error came back): the writer retries without storing the batch twice', async () => {
  const env = await inProcessWriter();
  const fault = fsFaults();
  try {
    await env.append(['a1', 'a2']);
    await env.writer.drain();
    fault.failNextLinkAfterDoingIt(env.logPath);
    await env.append(['b1', 'b2']);
    await until(() => !env.writer.status().healthy, 'the writer to report the error');
    assert.match(env.writer.status().lastError ?? '', /EIO/);
    assert.is(env.writer.status().position, 1, 'as far as the writer knows, b1 and b2 are not in the table');
    // More records arrive before the retry, so its batch reaches further than the commit that did land.
    await env.append(['c1', 'c2']);
    await env.writer.drain();
    assert.is(fault.fired(), 1);

    const status = env.writer.status();
    assert.ok(status.healthy, 'healthy again');
    assert.is(status.position, env.stream.lastPosition());
    const { problems, rows, snapshot, unreferenced } = await checkTable(env.dir);
    assert.equal(problems, []);
    assert.equal(rows.map((row) => row.event_id).sort(), ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'], 'every event once');
    assert.equal([...snapshot.txns.values()].map((txn) => txn.version), [env.stream.lastPosition()]);
    assert.equal(unreferenced, [], 'the retry left none of its files behind');
    assert.ok(env.logged.some((line) => /EIO/.test(line)), 'the failure was logged');
  } finally {
    fault.restore();
    await env.close();
  }
});

test('an I/O error fsyncing _delta_log after a commit is linked: the commit counts as done, so neither the writer nor OPTIMIZE undoes it', async () => {
  const env = await inProcessWriter();
  const fault = fsFaults();
  try {
    for (const id of ['a1', 'b1', 'c1']) {
      if (id === 'b1') fault.failNextDirectoryFsync(env.logPath);
      await env.append([id]);
      await env.writer.drain();
    }
    assert.is(fault.fired(), 1);
    assert.ok(env.writer.status().healthy, 'the writer saw a committed version, not a failure');
    assert.is(env.logged.length, 0);

    // OPTIMIZE's commit lands, then the same fault: it must not delete the file its commit just added.
    fault.failNextDirectoryFsync(env.logPath);
    const optimized = await optimize(env.tablePath, {});
    assert.is(fault.fired(), 2);
    assert.is(optimized.filesRemoved, 3);
    const { problems, rows, snapshot } = await checkTable(env.dir);
    assert.equal(problems, [], 'every file the table references is there');
    assert.is(snapshot.version, optimized.version);
    assert.equal(rows.map((row) => row.event_id).sort(), ['a1', 'b1', 'c1']);
  } finally {
    fault.restore();
    await env.close();
  }
});

/**
 * File system faults injected under this process's own code: `fs.promises` functions are wrapped, and
 * `syncBuiltinESMExports` carries the wrappers into modules that imported them by name. Each fault fires once.
 */
function fsFaults() {
  const promises = fs.promises;
  const real = { open: promises.open, link: promises.link };
  const eio = (what: string) => Object.assign(new Error(`EIO: i/o error, ${what}`), { code: 'EIO', errno: -5 });
  let fsyncDir: string | undefined;
  let linkDir: string | undefined;
  let fired = 0;
  promises.open = (async (...args: Parameters<typeof real.open>) => {
    const handle = await real.open(...args);
    if (fsyncDir !== undefined && String(args[0]) === fsyncDir) {
      fsyncDir = undefined;
      handle.sync = () => {
        fired++;
        return Promise.reject(eio(`fsync '${String(args[0])}'`));
      };
    }
    return handle;
  }) as typeof real.open;
  promises.link = (async (existing: fs.PathLike, target: fs.PathLike) => {
    await real.link(existing, target);
    if (linkDir !== undefined && dirname(String(target)) === linkDir) {
      linkDir = undefined;
      fired++;
      throw eio(`link '${String(existing)}' -> '${String(target)}'`);
    }
  }) as typeof real.link;
  syncBuiltinESMExports();
  return {
    /** The next fsync of directory `dir` fails (how a disk reports a write it lost). */
    failNextDirectoryFsync(dir: string) {
      fsyncDir = dir;
    },
    /** The next link into `dir` is made, then reports EIO: an operation whose outcome the caller cannot know. */
    failNextLinkAfterDoingIt(dir: string) {
      linkDir = dir;
    },
    /** How many faults fired so far. */
    fired: () => fired,
    restore() {
      Object.assign(promises, real);
      syncBuiltinESMExports();
    },
  };
}

test.run();
