import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StreamUnavailableError } from '../runtime/core/errors.ts';
import { LIMITS } from '../runtime/core/limits.ts';
import { HubStream } from '../runtime/local/stream/hub-stream.ts';
import type { HubStreamOptions } from '../runtime/local/stream/hub-stream.ts';
import { appenderRecord } from './fixtures/hub-stream-appender.ts';
import { sinkContract } from './sink-contract.ts';

const HOUR = 60 * 60 * 1000;
const tempDirs: string[] = [];

async function tempPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hub-stream-'));
  tempDirs.push(dir);
  // A directory that does not exist yet: open creates it.
  return join(dir, 'data', 'hub.sqlite');
}

function openStream(path: string, options: Partial<HubStreamOptions> = {}): HubStream {
  return HubStream.open({ path, trimIntervalMs: 0, ...options });
}

const record = (text: string, partitionKey = 'player-1') => ({ partitionKey, data: Buffer.from(text) });

sinkContract('HubStream', async () => {
  const stream = openStream(await tempPath());
  return {
    sink: stream,
    stored: async () => stream.read(0, 1_000_000).map(({ partitionKey, data }) => ({ partitionKey, data })),
    close: () => stream.close(),
  };
});

test('positions increase across reopen and after trim, and are never reused', async () => {
  const path = await tempPath();
  let clock = 0;
  let stream = openStream(path, { now: () => clock, retentionMs: HOUR });
  const first = await stream.append([record('a'), record('b'), record('c')]);
  assert.equal(first.positions, [1, 2, 3]);
  assert.equal([stream.stats().records, stream.stats().oldestPosition], [3, 1]);
  clock = 2 * HOUR;
  assert.is(stream.trim(), 3);
  assert.is(stream.stats().records, 0);
  assert.is(stream.lastPosition(), 3, 'the last position survives trimming every record');
  await stream.close();

  stream = openStream(path, { now: () => clock });
  assert.is(stream.lastPosition(), 3);
  const second = await stream.append([record('d')]);
  assert.equal(second.positions, [4]);
  assert.equal([stream.stats().records, stream.stats().oldestPosition], [1, 4], 'only what is retained counts');
  assert.equal(
    stream.read(0, 10).map((e) => [e.position, e.data.toString()]),
    [[4, 'd']],
  );
  await stream.close();
});

test('group commit: concurrent appends share one transaction, each caller gets its own positions', async () => {
  const stream = openStream(await tempPath());
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => stream.append([record(`r${i}-0`), record(`r${i}-1`)])),
  );
  assert.is(stream.stats().commits, 1, '200 calls in one tick commit once');
  results.forEach((result, i) => {
    assert.equal(result.failed, []);
    assert.equal(result.positions, [2 * i + 1, 2 * i + 2]);
  });
  // Sequential callers each get their own commit: grouping adds no latency when there is nothing to group.
  await stream.putRecords([record('x')]);
  await stream.putRecords([record('y')]);
  assert.is(stream.stats().commits, 3);
  assert.is(stream.lastPosition(), 402);
  await stream.close();
});

test('read honours limit and maxBytes but always returns at least one record', async () => {
  const stream = openStream(await tempPath());
  await stream.append(Array.from({ length: 10 }, (_, i) => record(String(i).repeat(100))));
  assert.equal(
    stream.read(0, 3).map((e) => e.position),
    [1, 2, 3],
  );
  assert.equal(
    stream.read(3, 100, 250).map((e) => e.position),
    [4, 5],
  );
  assert.equal(
    stream.read(3, 100, 10).map((e) => e.position),
    [4],
  );
  assert.equal(stream.read(10, 100), []);
  assert.equal(stream.read(0, 0), []);
  const [entry] = stream.read(6, 1);
  assert.is(entry!.partitionKey, 'player-1');
  assert.is(entry!.data.toString(), '6'.repeat(100));
  assert.type(entry!.appendedAt, 'number');
  await stream.close();
});

test('consumer positions start at 0, never move backwards and cannot pass the end', async () => {
  const stream = openStream(await tempPath());
  await stream.append(Array.from({ length: 10 }, (_, i) => record(`r${i}`)));
  assert.is(stream.consumerPosition('delta'), undefined);
  assert.is(stream.registerConsumer('delta'), 0);
  assert.is(stream.commitConsumer('delta', 5), 5);
  assert.is(stream.commitConsumer('delta', 3), 5, 'a late, older commit is ignored');
  assert.is(stream.registerConsumer('delta'), 5, 're-registering keeps the position');
  assert.throws(() => stream.commitConsumer('delta', 11), (error: unknown) => error instanceof RangeError);
  assert.throws(() => stream.commitConsumer('delta', -1), (error: unknown) => error instanceof RangeError);
  assert.is(stream.commitConsumer('archive', 2), 2, 'committing registers an unknown consumer');
  assert.equal(stream.stats().consumers, { archive: 2, delta: 5 });
  assert.ok(stream.removeConsumer('archive'));
  assert.equal(stream.stats().consumers, { delta: 5 });
  await stream.close();
});

test('retention deletes old records every consumer has read, never unread ones', async () => {
  const path = await tempPath();
  let clock = 0;
  const stream = openStream(path, { now: () => clock, retentionMs: 24 * HOUR });
  await stream.append([1, 2, 3, 4, 5].map((i) => record(`old ${i}`)));
  clock = 10 * HOUR;
  await stream.append([6, 7, 8, 9, 10].map((i) => record(`young ${i}`)));
  stream.registerConsumer('archive');
  stream.registerConsumer('delta');

  clock = 25 * HOUR; // 1-5 are past retention, 6-10 are not
  assert.is(stream.trim(), 0, 'nobody has read anything yet');

  stream.commitConsumer('archive', 7);
  stream.commitConsumer('delta', 3);
  assert.is(stream.trim(), 3, 'old and read by both');
  assert.is(stream.stats().oldestPosition, 4);

  stream.commitConsumer('delta', 10);
  assert.is(stream.trim(), 2, 'read by both, but 6-10 are still young');
  assert.is(stream.stats().oldestPosition, 6);

  clock = 35 * HOUR; // everything is old now
  assert.is(stream.trim(), 2, 'only what the slowest consumer (archive, at 7) has read');
  assert.equal(
    stream.read(0, 100).map((e) => e.position),
    [8, 9, 10],
  );

  // A consumer that joins late starts at the oldest retained record.
  assert.is(stream.registerConsumer('late'), 0);
  assert.is(stream.read(stream.consumerPosition('late')!, 1)[0]!.position, 8);
  assert.is(stream.trim(), 0, 'the new consumer holds everything');

  for (const name of ['archive', 'delta', 'late']) stream.removeConsumer(name);
  assert.is(stream.trim(), 3, 'with no consumer, age alone decides');
  assert.equal(stream.stats(), {
    lastPosition: 10,
    oldestPosition: null,
    records: 0,
    consumers: {},
    commits: 2,
    failedCommits: 0,
  });
  await stream.close();
});

test('trim runs on its own timer', async () => {
  let clock = 0;
  const stream = openStream(await tempPath(), { now: () => clock, retentionMs: 1000, trimIntervalMs: 10 });
  await stream.append([record('a'), record('b')]);
  clock = 5000;
  for (let i = 0; i < 100 && stream.stats().records > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(stream.stats().records, 0);
  await stream.close();
});

test('close lets queued appends commit, then refuses new ones', async () => {
  const path = await tempPath();
  const stream = openStream(path);
  const pending = [stream.putRecords([record('a')]), stream.putRecords([record('b'), record('c')])];
  const closed = stream.close();
  const late = await stream.putRecords([record('late')]).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.instance(late, StreamUnavailableError);
  const results = await Promise.all(pending);
  await closed;
  for (const result of results) assert.equal(result.failed, []);
  await stream.close(); // idempotent
  assert.throws(() => stream.read(0, 10), (error: unknown) => error instanceof StreamUnavailableError);

  const reopened = openStream(path);
  assert.equal(
    reopened.read(0, 10).map((e) => e.data.toString()),
    ['a', 'b', 'c'],
  );
  await reopened.close();
});

test('a commit that fails fails its whole group, and the stream recovers once the fault clears', async () => {
  const path = await tempPath();
  const stream = openStream(path, { busyTimeoutMs: 20 });
  await stream.putRecords([record('before')]);

  // A real fault: another process holds the write lock longer than the busy timeout (SQLITE_BUSY).
  const locker = new Database(path);
  locker.exec('BEGIN IMMEDIATE');
  const results = await Promise.all([
    stream.putRecords([record('a'), record('b')]),
    stream.putRecords([record('c'), { partitionKey: 'p', data: Buffer.alloc(LIMITS.recordMaxBytes + 1) }]),
  ]);
  assert.equal(
    results[0]!.failed.map((f) => [f.index, f.code]),
    [
      [0, 'stream_unavailable'],
      [1, 'stream_unavailable'],
    ],
  );
  assert.equal(
    results[1]!.failed.map((f) => [f.index, f.code]),
    [
      [0, 'stream_unavailable'],
      [1, 'too_large'],
    ],
  );
  assert.match(results[0]!.failed[0]!.message, /locked|busy/i);
  assert.is(stream.stats().failedCommits, 1);

  locker.exec('ROLLBACK');
  locker.close();
  const after = await stream.append([record('after')]);
  assert.equal(after.failed, []);
  assert.equal(
    stream.read(0, 10).map((e) => [e.position, e.data.toString()]),
    [
      [1, 'before'],
      [2, 'after'],
    ],
  );
  await stream.close();
});

test('waitForData wakes on an append, on timeout, on abort, and at once when data is there', async () => {
  const stream = openStream(await tempPath());
  let woke = false;
  const waiting = stream.waitForData(0, { timeoutMs: 5000 }).then(() => {
    woke = true;
  });
  await new Promise((r) => setTimeout(r, 5));
  assert.not.ok(woke);
  await stream.putRecords([record('a')]);
  await waiting;
  assert.ok(woke);

  await stream.waitForData(0, { timeoutMs: 5000 }); // position 1 exists: immediate
  const started = Date.now();
  await stream.waitForData(1, { timeoutMs: 30 });
  assert.ok(Date.now() - started >= 25, 'timed out');

  const controller = new AbortController();
  const aborted = stream.waitForData(1, { timeoutMs: 5000, signal: controller.signal });
  controller.abort();
  await aborted;

  const atClose = stream.waitForData(1, { timeoutMs: 5000 });
  await stream.close();
  await atClose;
});

test('every append acknowledged before a SIGKILL is on disk after reopening', async () => {
  const path = await tempPath();
  const fixture = fileURLToPath(new URL('./fixtures/hub-stream-appender.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, path], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked = new Map<number, number>();
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`appender too slow; stderr: ${stderr}`));
    }, 20_000);
    child.on('exit', () => reject(new Error(`appender exited early; stderr: ${stderr}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [i, position] = line.split(' ').map(Number);
        acked.set(i!, position!);
      }
      if (acked.size >= 400) {
        clearTimeout(timer);
        // Mid-stream: the child keeps appending until the signal lands.
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  assert.is(await exited, 'SIGKILL');

  const stream = openStream(path);
  const byPosition = new Map(stream.read(0, 1_000_000).map((e) => [e.position, e]));
  assert.is(new Set(acked.values()).size, acked.size, 'positions are unique');
  for (const [i, position] of acked) {
    const entry = byPosition.get(position);
    assert.ok(entry, `acknowledged record ${i} at position ${position} is missing`);
    assert.ok(entry.data.equals(appenderRecord(i)), `record ${i} bytes differ`);
    assert.is(entry.partitionKey, `player-${i % 5}`);
  }
  // The stream goes on from where the killed writer stopped.
  const { positions } = await stream.append([record('after restart')]);
  assert.ok(positions[0]! > Math.max(...acked.values()));
  await stream.close();
});

test.after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

test.run();
