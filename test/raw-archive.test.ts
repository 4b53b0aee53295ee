import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StoredRow } from '../runtime/core/event.ts';
import { packRows } from '../runtime/core/hub-record.ts';
import { archiveFileName, rawArchiveDir } from '../runtime/local/archive/archive-layout.ts';
import { findResumePoint } from '../runtime/local/archive/archive-scan.ts';
import type { RawArchiver, RawArchiverOptions } from '../runtime/local/archive/raw-archiver.ts';
import { RAW_ARCHIVE_CONSUMER, startRawArchiver } from '../runtime/local/archive/raw-archiver.ts';
import type { ArchivedFile } from '../runtime/local/archive/read-archive.ts';
import { readArchive } from '../runtime/local/archive/read-archive.ts';
import { dataPaths } from '../runtime/local/data-paths.ts';
import { HubStream } from '../runtime/local/stream/hub-stream.ts';
import type { HubStreamOptions } from '../runtime/local/stream/hub-stream.ts';

const HOUR = 60 * 60 * 1000;
const tempDirs: string[] = [];
const open: HubStream[] = [];
const running: RawArchiver[] = [];

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'raw-archive-'));
  tempDirs.push(dir);
  return dir;
}

function openStream(dir: string, options: Partial<HubStreamOptions> = {}): HubStream {
  const stream = HubStream.open({ path: dataPaths(dir).stream, trimIntervalMs: 0, ...options });
  open.push(stream);
  return stream;
}

/** The archiver with quiet logs and fast retries unless a test says otherwise. */
async function archive(stream: HubStream, dir: string, options: Partial<RawArchiverOptions> = {}) {
  const archiver = await startRawArchiver({
    stream,
    dataDir: dir,
    pollMs: 5,
    retryMinMs: 5,
    retryMaxMs: 40,
    logError: () => {},
    ...options,
  });
  running.push(archiver);
  return archiver;
}

/** One NDJSON record of roughly `size` bytes. */
function line(i: number, size = 40): { partitionKey: string; data: Buffer } {
  const head = `{"i":${i},"pad":"`;
  const pad = 'x'.repeat(Math.max(0, size - head.length - 3));
  return { partitionKey: `player-${i % 7}`, data: Buffer.from(`${head}${pad}"}\n`) };
}

async function archiveFiles(dir: string): Promise<ArchivedFile[]> {
  const files: ArchivedFile[] = [];
  for await (const file of readArchive(dir)) files.push(file);
  return files;
}

/** Every retained stream record is in exactly one file, in order, byte for byte, and the ranges tile the stream. */
async function assertExactlyOnce(dir: string, stream: HubStream): Promise<ArchivedFile[]> {
  const files = await archiveFiles(dir);
  const records = stream.read(0, 10_000_000);
  assert.ok(records.length > 0, 'the stream holds records');
  let next = records[0]!.position;
  for (const file of files) {
    assert.is(file.first, next, `${relative(dir, file.file)} starts where the previous file ended`);
    next = file.last + 1;
  }
  assert.is(next - 1, stream.lastPosition(), 'the archive reaches the end of the stream');
  const expected = Buffer.concat(records.map((record) => record.data));
  const actual = Buffer.concat(files.map((file) => file.data));
  assert.is(actual.byteLength, expected.byteLength);
  assert.ok(actual.equals(expected), 'the archive holds the records byte for byte');
  return files;
}

async function allNames(root: string): Promise<string[]> {
  try {
    return (await readdir(root, { recursive: true })).map(String).sort();
  } catch {
    return [];
  }
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.after.each(async () => {
  // A failed assertion must not leave a consumer loop running (and the test process alive).
  for (const archiver of running.splice(0)) await archiver.close().catch(() => {});
  for (const stream of open.splice(0)) await stream.close();
});

test.after(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

test('the archive is every record, unchanged and in order, as gzip NDJSON files of at most bufferBytes', async () => {
  const dir = await dataDir();
  const stream = openStream(dir);
  const rows: StoredRow[] = Array.from({ length: 600 }, (_, i) => ({
    event_id: `e-${i}`,
    event_type: i % 3 === 0 ? 'Login' : 'Level Up/ü',
    updated_at: '2024-02-22T03:03:02.000000Z',
    event_data: i % 5 === 0 ? null : `data ${'z'.repeat(i % 90)}`,
    player_id: `player-${i % 4}`,
    received_at: '2024-02-22T03:03:03.123456Z',
    source: i % 2 ? 'rest' : 'ws',
  }));
  // Small records (a few rows each) so files hold many records and size limits are hit mid-stream.
  for (let i = 0; i < rows.length; i += 6) await stream.append(packRows(rows.slice(i, i + 6), 1200));
  const archiver = await archive(stream, dir, { bufferBytes: 4096, flushIntervalMs: HOUR });
  await archiver.flush();

  const files = await assertExactlyOnce(dir, stream);
  assert.ok(files.length > 5, `several files (${files.length})`);
  const lines = Buffer.concat(files.map((file) => file.data)).toString('utf8').split('\n');
  assert.is(lines.pop(), '', 'NDJSON: every line ends in a newline');
  assert.equal(lines.map((text) => (JSON.parse(text) as StoredRow).event_id), rows.map((row) => row.event_id));

  for (const [index, file] of files.entries()) {
    assert.ok(file.data.byteLength <= 4096, `${file.first}-${file.last} holds at most bufferBytes`);
    if (index < files.length - 1) {
      // A file is written when the next record would not fit: it is as full as the buffer allows.
      const next = stream.read(file.last, 1)[0]!;
      assert.ok(file.data.byteLength + next.data.byteLength > 4096, 'the next record did not fit');
    }
    assert.is((await stat(file.file)).mode & 0o777, 0o644);
  }
  const status = archiver.status();
  assert.is(status.position, stream.lastPosition());
  assert.is(status.lag, 0);
  assert.is(status.files, files.length);
  assert.is(status.bytes, Buffer.concat(files.map((file) => file.data)).byteLength);
  assert.ok(status.healthy);
  assert.ok(status.lastFlushAt !== undefined);
  assert.is(stream.stats().consumers[RAW_ARCHIVE_CONSUMER], stream.lastPosition(), 'the retention hint follows');
  await archiver.close();
});

test('files go into raw/YYYY/MM/DD/HH/ of their first record (UTC), never an older hour than before', async () => {
  const dir = await dataDir();
  let clock = Date.UTC(2024, 1, 22, 3, 59, 59, 500);
  const stream = openStream(dir, { now: () => clock });
  const archiver = await archive(stream, dir, { flushIntervalMs: HOUR });

  await stream.append([line(1)]);
  clock = Date.UTC(2024, 1, 22, 4, 0, 0, 100);
  await stream.append([line(2)]);
  await archiver.flush(); // one file spanning two hours: it belongs to its first record's hour
  clock = Date.UTC(2025, 0, 1, 0, 30);
  await stream.append([line(3)]);
  await archiver.flush();
  clock = Date.UTC(2024, 5, 1, 12); // the clock steps back
  await stream.append([line(4)]);
  await archiver.flush();
  await archiver.close();

  const names = (await allNames(rawArchiveDir(dir))).filter((name) => name.endsWith('.gz'));
  assert.equal(names, [
    join('2024', '02', '22', '03', archiveFileName(1, 2)),
    join('2025', '01', '01', '00', archiveFileName(3, 3)),
    join('2025', '01', '01', '00', archiveFileName(4, 4)),
  ]);
  assert.is(archiveFileName(1, 2), 'hub-00000000000000000001-00000000000000000002.ndjson.gz');
  await assertExactlyOnce(dir, stream);
});

test('a file is written when its buffer fills, without waiting for the interval; close writes the rest', async () => {
  const dir = await dataDir();
  const stream = openStream(dir);
  const archiver = await archive(stream, dir, { bufferBytes: 1000, flushIntervalMs: HOUR });
  await stream.append(Array.from({ length: 25 }, (_, i) => line(i, 100)));
  await waitFor(() => archiver.status().files === 2, 'two full files');
  await sleep(50);
  const status = archiver.status();
  assert.is(status.files, 2, 'the rest waits for the interval');
  assert.equal(status.buffered, { records: 5, bytes: 500 });
  assert.is(status.position, 20);
  assert.is(status.lag, 5);
  await archiver.close();
  const files = await assertExactlyOnce(dir, stream);
  assert.equal(files.map((file) => [file.first, file.last]), [[1, 10], [11, 20], [21, 25]]);
});

test('a file is written flushIntervalMs after its first record', async () => {
  const dir = await dataDir();
  const stream = openStream(dir);
  let clock = 1_000_000;
  const archiver = await archive(stream, dir, { flushIntervalMs: 60_000, now: () => clock });
  await stream.append([line(1)]);
  await waitFor(() => archiver.status().buffered.records === 1, 'the record to be buffered');
  clock += 59_000;
  await stream.append([line(2)]);
  await sleep(50);
  assert.is(archiver.status().files, 0, 'not before the interval');
  clock += 1000;
  await waitFor(() => archiver.status().files === 1, 'the interval flush');
  assert.is(archiver.status().lastFlushAt, clock);
  await archiver.close();
  const files = await assertExactlyOnce(dir, stream);
  assert.equal(files.map((file) => [file.first, file.last]), [[1, 2]]);
});

test('a restart resumes after the last file, from the files and not from the consumer row', async () => {
  const dir = await dataDir();
  const stream = openStream(dir);
  let next = 0;
  const appendSome = (count: number) =>
    stream.append(Array.from({ length: count }, () => line(next, 30 + (next++ % 50))));

  await appendSome(40);
  let archiver = await archive(stream, dir, { bufferBytes: 500, flushIntervalMs: HOUR });
  await archiver.flush();
  await archiver.close();
  const first = archiver.status().position;
  assert.is(first, 40);

  await appendSome(30);
  archiver = await archive(stream, dir, { bufferBytes: 500, flushIntervalMs: HOUR });
  assert.is(archiver.status().position, 40, 'resumes at the last archived position');
  await archiver.flush();
  await archiver.close();

  // As after a crash between rename and the consumer commit: the stream's hint lags (here: is gone).
  stream.removeConsumer(RAW_ARCHIVE_CONSUMER);
  await appendSome(20);
  archiver = await archive(stream, dir, { bufferBytes: 500, flushIntervalMs: HOUR });
  assert.is(archiver.status().position, 70);
  assert.is(stream.consumerPosition(RAW_ARCHIVE_CONSUMER), 70, 'the hint is repaired from the files');
  await archiver.flush();
  await archiver.close();
  await assertExactlyOnce(dir, stream);
});

test('leftover temp files are deleted at start and do not count as archived', async () => {
  const dir = await dataDir();
  const clock = Date.UTC(2024, 1, 22, 3);
  const stream = openStream(dir, { now: () => clock });
  await stream.append(Array.from({ length: 10 }, (_, i) => line(i)));
  let archiver = await archive(stream, dir, { bufferBytes: 200, flushIntervalMs: HOUR });
  await archiver.flush();
  await archiver.close();
  const before = await allNames(rawArchiveDir(dir));

  await stream.append(Array.from({ length: 10 }, (_, i) => line(10 + i)));
  // A crash mid-write: a half-written temp in the current hour, and one in a newer hour made just before.
  const hour = join(rawArchiveDir(dir), '2024', '02', '22', '03');
  const newer = join(rawArchiveDir(dir), '2024', '02', '22', '04');
  await mkdir(newer, { recursive: true });
  await writeFile(join(hour, `.tmp-${archiveFileName(11, 15)}`), 'not gzip');
  await writeFile(join(newer, `.tmp-${archiveFileName(11, 20)}`), Buffer.alloc(10));

  const resume = await findResumePoint(rawArchiveDir(dir));
  assert.is(resume.last, 10, 'a temp file does not count as archived');
  assert.is(resume.hour, '2024/02/22/03');
  assert.is(resume.removedTemps.length, 2);
  await writeFile(join(newer, `.tmp-${archiveFileName(11, 20)}`), Buffer.alloc(10));

  archiver = await archive(stream, dir, { bufferBytes: 200, flushIntervalMs: HOUR });
  assert.is(archiver.status().position, 10);
  await archiver.flush();
  await archiver.close();
  const names = await allNames(rawArchiveDir(dir));
  assert.not.ok(names.some((name) => name.includes('.tmp-')), 'no temp file is left');
  assert.ok(before.every((name) => names.includes(name)), 'final files are kept');
  await assertExactlyOnce(dir, stream);
});

test('a resume point the stream has trimmed is logged, reported as a gap, and archiving goes on', async () => {
  const dir = await dataDir();
  let clock = Date.UTC(2024, 1, 22, 3);
  const stream = openStream(dir, { now: () => clock, retentionMs: HOUR });
  await stream.append([line(1), line(2), line(3)]);
  let archiver = await archive(stream, dir, { flushIntervalMs: HOUR });
  await archiver.flush();
  await archiver.close();
  // The archiver is away and unregistered, so retention does not wait for it.
  stream.removeConsumer(RAW_ARCHIVE_CONSUMER);
  await stream.append(Array.from({ length: 7 }, (_, i) => line(4 + i)));
  clock += 2 * HOUR;
  await stream.append([line(11), line(12)]);
  assert.is(stream.trim(), 10);

  const logged: string[] = [];
  archiver = await archive(stream, dir, { flushIntervalMs: HOUR, logError: (message) => logged.push(message) });
  await archiver.flush();
  const status = archiver.status();
  await archiver.close();
  assert.equal(status.gaps, [{ from: 4, to: 10 }]);
  assert.is(status.missingPositions, 7);
  assert.is(status.position, 12);
  assert.ok(logged.some((message) => message.includes('4-10')), logged.join('\n'));
  const files = await archiveFiles(dir);
  assert.equal(files.map((file) => [file.first, file.last]), [[1, 3], [11, 12]]);
  const expected = [1, 2, 3, 11, 12].map((i) => line(i).data.toString()).join('');
  assert.is(Buffer.concat(files.map((file) => file.data)).toString(), expected);
});

test('an archive ahead of the stream (the stream file was replaced) refuses to start', async () => {
  const dir = await dataDir();
  const stream = openStream(dir);
  await stream.append([line(1), line(2)]);
  const archiver = await archive(stream, dir);
  await archiver.flush();
  await archiver.close();
  const other = openStream(await dataDir());
  await other.append([line(1)]);
  try {
    await archive(other, dir);
    assert.unreachable('should refuse');
  } catch (error) {
    assert.match((error as Error).message, /holds stream positions up to 2, but the hub stream ends at 1/);
  }
});

test('a write failure is retried with backoff and reported; nothing is skipped', async () => {
  const dir = await dataDir();
  const clock = Date.UTC(2024, 1, 22, 3, 15);
  const stream = openStream(dir, { now: () => clock });
  // A file where the hour directory must go: fails for root too, unlike a read-only directory.
  const blocker = join(rawArchiveDir(dir), '2024', '02', '22', '03');
  await mkdir(join(blocker, '..'), { recursive: true });
  await writeFile(blocker, 'in the way');

  const logged: string[] = [];
  const archiver = await archive(stream, dir, {
    bufferBytes: 300,
    flushIntervalMs: 10,
    logError: (message) => logged.push(message),
  });
  await stream.append(Array.from({ length: 10 }, (_, i) => line(i, 100)));
  await waitFor(() => archiver.status().retries >= 3, 'several retries');
  await stream.append(Array.from({ length: 10 }, (_, i) => line(10 + i, 100)));
  let status = archiver.status();
  assert.not.ok(status.healthy);
  assert.match(status.lastError ?? '', /could not write an archive file/);
  assert.is(status.position, 0);
  assert.is(status.files, 0);
  assert.ok(logged.length >= 3);

  await rm(blocker);
  await archiver.flush();
  status = archiver.status();
  assert.ok(status.healthy, 'healthy again after a success');
  assert.is(status.retries, 0);
  assert.ok(status.lastError, 'the last error is kept for diagnosis');
  assert.is(status.position, 20);
  await archiver.close();
  await assertExactlyOnce(dir, stream);
});

test('SIGKILLed at random moments and restarted, the archiver ends with every record exactly once', async () => {
  const dir = await dataDir();
  const stream = openStream(dir);
  const fixture = fileURLToPath(new URL('./fixtures/raw-archiver-child.ts', import.meta.url));
  const cwd = fileURLToPath(new URL('..', import.meta.url));

  let appending = true;
  let next = 0;
  const appender = (async () => {
    while (appending) {
      const count = 1 + (next % 5);
      await stream.append(Array.from({ length: count }, () => line(next, 20 + ((next++ * 37) % 400))));
      await sleep(1);
    }
  })();

  const resumedAt: number[] = [];
  const leftovers: number[] = [];
  try {
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, '2000'], {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      try {
        await new Promise<void>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const match = /ready (\d+)\n/.exec(out);
            if (match) {
              resumedAt.push(Number(match[1]));
              resolve();
            }
          });
          void exited.then(() => reject(new Error(`archiver child exited early: ${stderr}`)));
        });
        // A random moment while it writes files every few milliseconds.
        await sleep(20 + Math.random() * 300);
      } finally {
        child.kill('SIGKILL');
      }
      assert.is(await exited, 'SIGKILL');
      assert.is(stderr, '', 'the child logged no error');
      leftovers.push((await allNames(rawArchiveDir(dir))).filter((name) => name.includes('.tmp-')).length);
    }
  } finally {
    appending = false;
    await appender;
  }

  assert.ok(resumedAt.at(-1)! > 0, `the children archived something (resumed at ${resumedAt.join(', ')})`);
  for (let i = 1; i < resumedAt.length; i++) assert.ok(resumedAt[i]! >= resumedAt[i - 1]!, 'never goes back');

  const archiver = await archive(stream, dir, { bufferBytes: 2000, flushIntervalMs: HOUR });
  assert.is(archiver.status().position, (await archiveFiles(dir)).at(-1)!.last);
  await archiver.flush();
  await archiver.close();
  assert.not.ok((await allNames(rawArchiveDir(dir))).some((name) => name.includes('.tmp-')), 'temps are cleaned up');
  const files = await assertExactlyOnce(dir, stream);
  assert.ok(stream.lastPosition() > 100, `enough records (${stream.lastPosition()}) in ${files.length} files`);
  // Informational: how often a kill landed mid-write (left a temp file).
  if (process.env.RAW_ARCHIVE_VERBOSE) console.log({ resumedAt, leftovers, files: files.length, records: next });
});

test.run();
