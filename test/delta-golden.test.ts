import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { duckdb } from '../runtime/delta/duckdb.ts';
import { DeltaLogError, DeltaProtocolError } from '../runtime/delta/errors.ts';
import { dataFilePath, latestVersion, loadSnapshot } from '../runtime/delta/snapshot.ts';
import type { Snapshot } from '../runtime/delta/snapshot.ts';

/**
 * Tables written by Spark (../shared/delta-golden, see its README): the reader must agree with Spark on
 * versions, live files, partition values and row counts. Rows are counted by two independent Parquet readers,
 * DuckDB and hyparquet, which must agree with each other and with the Delta stats where the table has them.
 */
const GOLDEN = fileURLToPath(new URL('../../shared/delta-golden/', import.meta.url));
const table = (name: string) => join(GOLDEN, name);

interface Expected {
  readonly version: number;
  readonly checkpointVersion: number | undefined;
  readonly files: number;
  readonly tombstones: number;
  /** Rows in the live files; undefined for tables whose add paths are placeholders without data files. */
  readonly rows: number | undefined;
  /** Sum of `numRecords` from the adds' stats; undefined when some add has no stats. */
  readonly numRecords: number | undefined;
}

const golden = (
  version: number,
  checkpointVersion: number | undefined,
  files: number,
  tombstones: number,
  rows: number | undefined,
  numRecords: number | undefined,
): Expected => ({ version, checkpointVersion, files, tombstones, rows, numRecords });

/**
 * The latest version of every golden table that loads (the two refused ones have their own tests below), read off
 * each table's _delta_log: version, checkpoint replay starts from, live files, tombstones, rows in the live files
 * (undefined: placeholder paths, log replay only), numRecords summed from stats (undefined: some add has no stats).
 */
const EXPECTED: Record<string, Expected> = {
  'basic-with-inserts-deletes-checkpoint':  golden(13, 10, 7, 7, 41, 41),
  'basic-with-inserts-overwrite-restore':   golden(3, 3, 4, 2, 200, 200),
  checkpoint:                               golden(14, 10, 1, 14, undefined, undefined),
  'corrupted-last-checkpoint':              golden(10, 10, 11, 0, undefined, undefined),
  'data-reader-escaped-chars':              golden(2, undefined, 3, 0, 3, undefined),
  'data-reader-partition-values':           golden(0, undefined, 3, 0, 3, undefined),
  'data-skipping-basic-stats-all-types':    golden(0, undefined, 1, 0, 1, 1),
  'kernel-timestamp-TIMESTAMP_MICROS':      golden(0, undefined, 5, 0, 5, 5),
  'kernel-timestamp-partition-col-ISO8601': golden(0, undefined, 2, 0, 2, 2),
  'log-replay-special-characters-a':        golden(1, undefined, 0, 1, 0, 0),
  'multi-part-checkpoint':                  golden(1, 1, 10, 0, 31, 31),
  'only-checkpoint-files':                  golden(2, 2, 7, 5, 25, 25),
  'snapshot-data3':                         golden(3, undefined, 4, 4, 30, undefined),
  'snapshot-vacuumed':                      golden(5, undefined, 2, 9, 20, undefined),
  'time-travel-start-start20-start40':      golden(2, undefined, 6, 0, 30, undefined),
};
const REFUSED = ['deltalog-invalid-protocol-version', 'versions-not-contiguous'];

/** Rows of one data file, by DuckDB and by hyparquet (footer count and decoded rows); all three must agree. */
async function countRows(path: string): Promise<number> {
  const connection = await duckdb();
  const reader = await connection.runAndReadAll('SELECT count(*) AS n FROM read_parquet($path)', { path });
  const byDuckDb = Number(reader.getRows()[0]?.[0]);
  const file = await asyncBufferFromFile(path);
  const byFooter = Number((await parquetMetadataAsync(file)).num_rows);
  const byHyparquet = (await parquetReadObjects({ file })).length;
  assert.is(byFooter, byDuckDb, `hyparquet footer vs DuckDB for ${path}`);
  assert.is(byHyparquet, byDuckDb, `hyparquet rows vs DuckDB for ${path}`);
  return byDuckDb;
}

async function liveRows(snapshot: Snapshot): Promise<number> {
  let total = 0;
  for (const file of snapshot.files) total += await countRows(dataFilePath(snapshot.tablePath, file.path));
  return total;
}

/** One aggregate over all live files of a single-column `id` table, read by DuckDB. */
async function idSum(snapshot: Snapshot): Promise<{ count: number; sum: number; min: number; max: number }> {
  const connection = await duckdb();
  const paths = snapshot.files.map((file) => dataFilePath(snapshot.tablePath, file.path));
  const reader = await connection.runAndReadAll(
    'SELECT count(*), sum(id), min(id), max(id) FROM read_parquet($paths)',
    { paths: listValue(paths) },
    { paths: LIST(VARCHAR) },
  );
  const [count, sum, min, max] = (reader.getRows()[0] ?? []).map(Number);
  return { count: count as number, sum: sum as number, min: min as number, max: max as number };
}

const sortedPaths = (snapshot: Snapshot) => snapshot.files.map((file) => file.path).sort();
const numeric = (paths: readonly string[]) => [...paths].sort((a, b) => Number(a) - Number(b));

test('every golden table has an expectation here', async () => {
  const names = (await readdir(GOLDEN, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.equal(names.sort(), [...Object.keys(EXPECTED), ...REFUSED].sort());
});

for (const [name, expected] of Object.entries(EXPECTED)) {
  const title = `${name}: version ${expected.version}, ${expected.files} live files, ${expected.rows ?? 'no'} rows`;
  test(title, async () => {
    const snapshot = await loadSnapshot(table(name));
    assert.is(snapshot.version, expected.version);
    assert.is(await latestVersion(table(name)), expected.version);
    assert.is(snapshot.checkpointVersion, expected.checkpointVersion, 'checkpoint used');
    assert.is(snapshot.files.length, expected.files, 'live files');
    assert.is(snapshot.tombstones.length, expected.tombstones, 'tombstones');
    assert.equal(snapshot.protocol, { minReaderVersion: 1, minWriterVersion: 2 });
    if (expected.rows !== undefined) {
      assert.is(await liveRows(snapshot), expected.rows, 'rows read from the live data files');
    }
    assert.is(snapshot.numRecords, expected.numRecords, 'numRecords from stats');
  });
}

test('basic-with-inserts-deletes-checkpoint: checkpoint 10 + three commits, deleted ranges are gone', async () => {
  const snapshot = await loadSnapshot(table('basic-with-inserts-deletes-checkpoint'));
  // Live ids: 0-4, 10-14, 20-24, 30-34, 40-44 (deletes rewrote files), 50-59, 60-65 (v13 deleted id >= 66).
  assert.equal(await idSum(snapshot), { count: 41, sum: 1470, min: 0, max: 65 });
  assert.is(snapshot.numRecords, 41);
  assert.equal([...snapshot.commitTimestamps.keys()], [11, 12, 13], 'only commits after the checkpoint are read');
  assert.is(snapshot.commitTimestamps.get(13), 1691426743015);
  assert.equal(snapshot.schema.fields.map((field) => [field.name, field.type]), [['id', 'long']]);
  assert.is(
    snapshot.sizeInBytes,
    snapshot.files.reduce((sum, file) => sum + file.size, 0),
  );
  assert.is(snapshot.sizeInBytes, 500 + 503 * 4 + 527 + 510);

  const atCheckpoint = await loadSnapshot(table('basic-with-inserts-deletes-checkpoint'), { version: 10 });
  assert.is(atCheckpoint.checkpointVersion, 10);
  assert.is(atCheckpoint.commitTimestamps.size, 0, 'nothing after the checkpoint to replay');
  assert.equal(await idSum(atCheckpoint), { count: 35, sum: 550 + 545, min: 0, max: 59 });

  const beforeCheckpoint = await loadSnapshot(table('basic-with-inserts-deletes-checkpoint'), { version: 9 });
  assert.is(beforeCheckpoint.checkpointVersion, undefined, 'a later checkpoint cannot serve an earlier version');
  assert.is(beforeCheckpoint.files.length, 5);
  assert.equal(await idSum(beforeCheckpoint), { count: 25, sum: 550, min: 0, max: 44 });
});

test('basic-with-inserts-overwrite-restore: time travel across the overwrite and the restore', async () => {
  const name = 'basic-with-inserts-overwrite-restore';
  assert.equal(await idSum(await loadSnapshot(table(name))), { count: 200, sum: 19900, min: 0, max: 199 });
  const overwritten = await loadSnapshot(table(name), { version: 2 });
  assert.is(overwritten.checkpointVersion, undefined);
  assert.is(overwritten.files.length, 2);
  assert.equal(await idSum(overwritten), { count: 500, sum: 374750, min: 500, max: 999 });
  const atVersion = async (version: number) => idSum(await loadSnapshot(table(name), { version }));
  assert.equal(await atVersion(1), { count: 200, sum: 19900, min: 0, max: 199 });
  assert.equal(await atVersion(0), { count: 100, sum: 4950, min: 0, max: 99 });
});

test('checkpoint: placeholder paths, each commit replaces the file; time travel to and before it', async () => {
  const latest = await loadSnapshot(table('checkpoint'));
  assert.equal(sortedPaths(latest), ['15']);
  const removed = Array.from({ length: 14 }, (_, i) => `${i + 1}`);
  assert.equal(numeric(latest.tombstones.map((remove) => remove.path)), removed);
  assert.equal(latest.schema.fields.map((field) => field.name), ['intCol']);
  const atTen = await loadSnapshot(table('checkpoint'), { version: 10 });
  assert.is(atTen.checkpointVersion, 10);
  assert.equal(sortedPaths(atTen), ['11']);
  const atFive = await loadSnapshot(table('checkpoint'), { version: 5 });
  assert.is(atFive.checkpointVersion, undefined);
  assert.equal(sortedPaths(atFive), ['6']);
});

test('corrupted-last-checkpoint: reads the 11 adds; metaData without schemaString = empty schema', async () => {
  const snapshot = await loadSnapshot(table('corrupted-last-checkpoint'));
  assert.equal(numeric(sortedPaths(snapshot)), Array.from({ length: 11 }, (_, i) => `${i}`));
  assert.equal(snapshot.schema, { type: 'struct', fields: [] });
  assert.is(snapshot.metadata.id, '5756e7b1-4b09-4c4e-a3b8-da3c214613d0');
});

/** Copies of golden tables with a damaged `_last_checkpoint` or checkpoint, in a temp dir. */
const copies: string[] = [];
async function copyOf(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'delta-golden-'));
  copies.push(dir);
  const target = join(dir, name);
  await cp(table(name), target, { recursive: true });
  return target;
}

test('corrupted-last-checkpoint: garbage, empty, or a pointer to a missing checkpoint are all ignored', async () => {
  for (const content of ['{"version":', '', 'null', '{"version":99,"size":13}', '{"version":10,"size":13,"parts":2}']) {
    const path = await copyOf('corrupted-last-checkpoint');
    await writeFile(join(path, '_delta_log', '_last_checkpoint'), content);
    const snapshot = await loadSnapshot(path);
    assert.is(snapshot.version, 10, content);
    assert.is(snapshot.checkpointVersion, 10, content);
    assert.is(snapshot.files.length, 11, content);
  }
});

test('multi-part-checkpoint: both parts read; configuration map comes from the checkpoint', async () => {
  const snapshot = await loadSnapshot(table('multi-part-checkpoint'));
  assert.is(snapshot.checkpointVersion, 1);
  assert.equal(snapshot.metadata.configuration, { 'delta.checkpointInterval': '1' });
  assert.equal(snapshot.metadata.format, { provider: 'parquet', options: {} });
  assert.equal(snapshot.partitionColumns, []);
  assert.is(snapshot.metadata.createdTime, 1692318898914);
  assert.equal(await idSum(snapshot), { count: 31, sum: 435, min: 0, max: 29 });
  // Checkpoint adds are normalised like commit adds: no null optional fields (tags, deletionVector…).
  for (const file of snapshot.files) {
    const keys = ['dataChange', 'modificationTime', 'partitionValues', 'path', 'size', 'stats'];
    assert.equal(Object.keys(file).sort(), keys);
  }
});

test('multi-part-checkpoint: with a part missing the checkpoint is incomplete; replay uses the commits', async () => {
  const path = await copyOf('multi-part-checkpoint');
  await rm(join(path, '_delta_log', '00000000000000000001.checkpoint.0000000002.0000000002.parquet'));
  const snapshot = await loadSnapshot(path); // _last_checkpoint still says parts: 2
  assert.is(snapshot.checkpointVersion, undefined);
  assert.is(snapshot.files.length, 10);
  assert.equal(await idSum(snapshot), { count: 31, sum: 435, min: 0, max: 29 });
});

test('only-checkpoint-files: every version from its own checkpoint', async () => {
  const name = 'only-checkpoint-files';
  const v1 = await loadSnapshot(table(name), { version: 1 });
  assert.is(v1.checkpointVersion, 1);
  assert.equal(await idSum(v1), { count: 5, sum: 5 + 6 + 7 + 8 + 9, min: 5, max: 9 });
  const v0 = await loadSnapshot(table(name), { version: 0 });
  assert.is(v0.checkpointVersion, undefined);
  assert.equal(await idSum(v0), { count: 10, sum: 45, min: 0, max: 9 });
  assert.equal(await idSum(await loadSnapshot(table(name))), { count: 25, sum: 35 + 190, min: 0, max: 19 });
});

test('data-reader-escaped-chars: add.path decodes once to the directory Spark wrote', async () => {
  const snapshot = await loadSnapshot(table('data-reader-escaped-chars'));
  assert.equal(snapshot.partitionColumns, ['_2']);
  assert.equal(snapshot.files.map((file) => file.partitionValues['_2']).sort(), ['bar+%21', 'bar+%22', 'bar+%23']);
  for (const file of snapshot.files) {
    const local = dataFilePath(snapshot.tablePath, file.path);
    const value = file.partitionValues['_2'] as string;
    // The directory escapes '%' once (Hive), add.path escapes it again (URI); '+' stays '+'.
    assert.ok(relative(snapshot.tablePath, local).startsWith(`_2=${value.replace('%', '%25')}/`), local);
    assert.ok(existsSync(local), local);
  }
  // Each file holds the row Spark wrote with that partition value (_1 = foo1 for bar+%21, …).
  const connection = await duckdb();
  const rows: string[] = [];
  for (const file of snapshot.files) {
    const reader = await connection.runAndReadAll('SELECT _1 FROM read_parquet($path, hive_partitioning = false)', {
      path: dataFilePath(snapshot.tablePath, file.path),
    });
    rows.push(`${String(reader.getRows()[0]?.[0])}:${file.partitionValues['_2']}`);
  }
  assert.equal(rows.sort(), ['foo1:bar+%21', 'foo2:bar+%22', 'foo3:bar+%23']);
});

test('data-reader-partition-values: every partition type, with an all-null partition', async () => {
  const snapshot = await loadSnapshot(table('data-reader-partition-values'));
  assert.is(snapshot.partitionColumns.length, 12);
  const byInt = new Map(snapshot.files.map((file) => [file.partitionValues['as_int'], file.partitionValues]));
  assert.equal(byInt.get('0'), {
    as_big_decimal: '0', as_int: '0', as_byte: '0', as_long: '0', as_date: '2021-09-08', as_string: '0',
    as_timestamp: '2021-09-08 11:11:11', as_float: '0.0', as_short: '0', as_boolean: 'true',
    as_string_lit_null: 'null', as_double: '0.0',
  });
  assert.is(byInt.get('1')?.['as_boolean'], 'false');
  assert.is(byInt.get('1')?.['as_string_lit_null'], 'null', 'the string "null" is a value, not a null');
  const nulls = byInt.get(null);
  assert.ok(nulls, 'the null partition is present');
  assert.equal(Object.keys(nulls).sort(), [...snapshot.partitionColumns].sort());
  assert.ok(Object.values(nulls).every((value) => value === null), 'every partition value is JSON null');
  const nullFile = snapshot.files.find((file) => file.partitionValues['as_int'] === null);
  assert.ok(nullFile, 'a file with null partition values');
  assert.ok(nullFile.path.startsWith('as_int=__HIVE_DEFAULT_PARTITION__/'));
  assert.ok(existsSync(dataFilePath(snapshot.tablePath, nullFile.path)));
});

test('kernel timestamp tables: timestamp partition values, the %253A paths and the null partition', async () => {
  const micros = await loadSnapshot(table('kernel-timestamp-TIMESTAMP_MICROS'));
  assert.equal(
    micros.files.map((file) => file.partitionValues['part'] ?? 'null').sort(),
    ['1969-01-01 00:00:00', '2020-01-01 08:09:10.001', '2021-10-01 08:09:20', '2021-10-01 08:09:20', 'null'],
  );
  const first = micros.files.find((file) => file.partitionValues['part'] === '2020-01-01 08:09:10.001');
  assert.ok(first);
  assert.is(
    relative(micros.tablePath, dataFilePath(micros.tablePath, first.path)),
    'part=2020-01-01 08%3A09%3A10.001/part-00000-3cac2575-d0b4-4647-a7a3-b4a9d910cb32.c000.snappy.parquet',
  );
  const iso = await loadSnapshot(table('kernel-timestamp-partition-col-ISO8601'));
  assert.equal(iso.files.map((file) => file.partitionValues['ts']).sort(), [
    '2024-01-01T10:00:00.000000Z',
    '2024-01-02T12:30:00.000000Z',
  ]);
});

test('log-replay-special-characters-a: added then removed, with an encoded name', async () => {
  const latest = await loadSnapshot(table('log-replay-special-characters-a'));
  assert.is(latest.files.length, 0);
  assert.equal(latest.tombstones.map((remove) => remove.path), ['special%20p@%23h']);
  assert.is(dataFilePath(latest.tablePath, 'special%20p@%23h'), join(latest.tablePath, 'special p@#h'));
  const before = await loadSnapshot(table('log-replay-special-characters-a'), { version: 0 });
  assert.equal(sortedPaths(before), ['special%20p@%23h']);
  assert.is(before.tombstones.length, 0);
});

test('snapshot-data3, snapshot-vacuumed, time-travel: live files and rows at every version', async () => {
  // [version, live files, rows (undefined: files were vacuumed, log replay only)]
  const cases: Record<string, [number, number, number | undefined][]> = {
    'snapshot-data3': [[0, 2, 10], [1, 4, 20], [2, 2, 10], [3, 4, 30]],
    'snapshot-vacuumed': [
      [0, 2, undefined],
      [1, 4, undefined],
      [2, 2, undefined],
      [3, 4, undefined],
      [4, 3, undefined],
      [5, 2, 20],
    ],
    'time-travel-start-start20-start40': [[0, 2, 10], [1, 4, 20], [2, 6, 30]],
  };
  for (const [name, versions] of Object.entries(cases)) {
    for (const [version, files, rows] of versions) {
      const snapshot = await loadSnapshot(table(name), { version });
      assert.is(snapshot.version, version);
      assert.is(snapshot.files.length, files, `${name}@${version} files`);
      if (rows !== undefined) assert.is(await liveRows(snapshot), rows, `${name}@${version} rows`);
    }
  }
  const vacuumed = await loadSnapshot(table('snapshot-vacuumed'));
  assert.ok(vacuumed.files.every((file) => file.dataChange === false), 'the v5 rewrite has dataChange=false');
});

test('versions-not-contiguous: refused, naming the missing version; versions before the gap still load', async () => {
  for (const version of [undefined, 2, 1]) {
    try {
      await loadSnapshot(table('versions-not-contiguous'), version === undefined ? {} : { version });
      assert.unreachable('a log with a gap must be refused');
    } catch (error) {
      assert.instance(error, DeltaLogError);
      assert.is((error as DeltaLogError).code, 'corrupt_log');
      assert.match((error as Error).message, /not contiguous: commit 1 is missing/);
    }
  }
  const v0 = await loadSnapshot(table('versions-not-contiguous'), { version: 0 });
  assert.equal(sortedPaths(v0), ['foo']);
});

test('deltalog-invalid-protocol-version: minReaderVersion 99 is refused by name', async () => {
  try {
    await loadSnapshot(table('deltalog-invalid-protocol-version'));
    assert.unreachable('reader version 99 must be refused');
  } catch (error) {
    assert.instance(error, DeltaProtocolError);
    assert.is((error as DeltaProtocolError).code, 'unsupported_protocol');
    assert.match((error as Error).message, /reader version 99/);
  }
});

test.after(async () => {
  await Promise.all(copies.map((dir) => rm(dir, { recursive: true, force: true })));
});

test.run();
