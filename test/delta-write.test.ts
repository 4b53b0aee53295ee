import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commitFileName } from '../runtime/delta/actions.ts';
import type { Action, AddFile, StructType } from '../runtime/delta/actions.ts';
import { appendWithRetry, commitActions } from '../runtime/delta/commit.ts';
import { DeltaTableMismatchError, createTable } from '../runtime/delta/create-table.ts';
import { duckdb } from '../runtime/delta/duckdb.ts';
import {
  HIVE_DEFAULT_PARTITION,
  addPathFor,
  decodeAddPath,
  escapePathName,
  parsePartitionDirectory,
  partitionDirectory,
  unescapePathName,
} from '../runtime/delta/escaping.ts';
import { writeDataFiles } from '../runtime/delta/parquet-writer.ts';
import { loadSnapshot } from '../runtime/delta/snapshot.ts';
import { serializeStats, timestampStat, truncateMaxString, truncateMinString } from '../runtime/delta/stats.ts';

/** The write side of the Delta library against the product's stored-row table, checked file by file. */

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'event_id', type: 'string', nullable: false, metadata: {} },
    { name: 'event_type', type: 'string', nullable: false, metadata: {} },
    { name: 'updated_at', type: 'timestamp', nullable: false, metadata: {} },
    { name: 'event_data', type: 'string', nullable: true, metadata: {} },
    { name: 'player_id', type: 'string', nullable: false, metadata: {} },
    { name: 'received_at', type: 'timestamp', nullable: false, metadata: {} },
    { name: 'source', type: 'string', nullable: false, metadata: {} },
  ],
};
const PARTITIONS = ['event_type'];
const DATA_COLUMNS = ['event_id', 'updated_at', 'event_data', 'player_id', 'received_at', 'source'];

interface Row {
  event_id: string;
  event_type: string;
  updated_at: string;
  event_data: string | null;
  player_id: string;
  received_at: string;
  source: 'rest' | 'ws';
}

const EVENT_TYPES = ['Login', 'New Game', 'a/b', 'x=y', '%', '#', '?', '敵を倒した', 'Élan', '🎮 level up', 'a%2Fb', 'NullData'];

/** Deterministic rows with microsecond timestamps, long non-ASCII texts (truncated stats) and nulls. */
function makeRows(count: number, seed = 0): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < count; i++) {
    const n = seed * 100_000 + i;
    const type = EVENT_TYPES[i % EVENT_TYPES.length] as string;
    const ms = Date.UTC(2024, 1, 22, 3, 3, 2) + n * 1_234;
    const micros = String((n * 7919) % 1000).padStart(3, '0');
    const long = `${'é'.repeat(i % 40)}${'敵'.repeat(i % 3)}${String(n).padStart(8, '0')} – The only thing we have to fear is fear itself.`;
    rows.push({
      event_id: `ev-${String(n).padStart(6, '0')}-${type}`,
      event_type: type,
      updated_at: `${new Date(ms).toISOString().slice(0, 23)}${micros}Z`,
      event_data: type === 'NullData' || i % 4 === 1 ? null : long,
      player_id: `player-${n % 7}`,
      received_at: `${new Date(ms + 500).toISOString().slice(0, 23)}${String(n % 1000).padStart(3, '0')}Z`,
      source: n % 2 === 0 ? 'rest' : 'ws',
    });
  }
  return rows;
}

const tempDirs: string[] = [];
async function newTablePath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'delta-write-'));
  tempDirs.push(dir);
  return join(dir, 'delta_lake_events_db', 'events');
}

const micros = (iso: string): bigint => BigInt(Date.parse(`${iso.slice(0, 23)}Z`)) * 1000n + BigInt(iso.slice(23, 26));
const utf8Compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function expectedStats(rows: readonly Row[]): object {
  const minValues: Record<string, string> = {};
  const maxValues: Record<string, string> = {};
  const nullCount: Record<string, number> = {};
  for (const column of DATA_COLUMNS) {
    const values = rows.map((row) => row[column as keyof Row]).filter((value): value is string => value !== null);
    nullCount[column] = rows.length - values.length;
    if (values.length === 0) continue;
    if (column.endsWith('_at')) {
      const sorted = values.map(micros).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      minValues[column] = timestampStat(sorted[0] as bigint, 'min');
      maxValues[column] = timestampStat(sorted[sorted.length - 1] as bigint, 'max');
    } else {
      const sorted = [...values].sort(utf8Compare);
      minValues[column] = truncateMinString(sorted[0] as string);
      const max = truncateMaxString(sorted[sorted.length - 1] as string);
      if (max !== undefined) maxValues[column] = max;
    }
  }
  return { numRecords: rows.length, minValues, maxValues, nullCount };
}

async function readWithDuckDb(path: string): Promise<Record<string, unknown>[]> {
  const connection = await duckdb();
  const reader = await connection.runAndReadAll(
    `SELECT event_id, epoch_us(updated_at) AS updated_at, event_data, player_id, epoch_us(received_at) AS received_at, source
     FROM read_parquet($files, hive_partitioning = false) ORDER BY event_id`,
    { files: listValue([path]) },
    { files: LIST(VARCHAR) },
  );
  return reader.getRowObjects();
}

const asStored = (row: Row) => ({
  event_id: row.event_id,
  updated_at: micros(row.updated_at),
  event_data: row.event_data,
  player_id: row.player_id,
  received_at: micros(row.received_at),
  source: row.source,
});

test('Hive escaping matches Spark on its own examples and round-trips the event types', () => {
  // Spark golden tables and DELTA-FACTS 1.5.
  assert.is(partitionDirectory(['_2'], { _2: 'bar+%21' }), '_2=bar+%2521');
  assert.is(addPathFor('_2=bar+%2521/part-0.parquet'), '_2=bar+%252521/part-0.parquet');
  assert.is(partitionDirectory(['x'], { x: 'A/A' }), 'x=A%2FA');
  assert.is(addPathFor('x=A%2FA/f.parquet'), 'x=A%252FA/f.parquet');
  assert.is(escapePathName('2020-01-01 08:09:10.001'), '2020-01-01 08%3A09%3A10.001');
  assert.is(addPathFor('part=2020-01-01 08%3A09%3A10.001/f'), 'part=2020-01-01%2008%253A09%253A10.001/f');
  assert.is(addPathFor('special p@#h'), 'special%20p@%23h');
  assert.is(escapePathName('\u0001"#%\'*/:=?\\\u007f{[]^'), '%01%22%23%25%27%2A%2F%3A%3D%3F%5C%7F%7B%5B%5D%5E');
  assert.is(escapePathName('a b<c>d|e}f+g~h'), 'a b<c>d|e}f+g~h', 'only the non-Windows set is escaped');
  assert.is(partitionDirectory(['k'], { k: null }), `k=${HIVE_DEFAULT_PARTITION}`);
  assert.is(partitionDirectory(['k'], { k: '' }), `k=${HIVE_DEFAULT_PARTITION}`);
  assert.is(partitionDirectory(['a', 'b'], { a: '1', b: 'x/y' }), 'a=1/b=x%2Fy');
  assert.is(partitionDirectory([], {}), '');

  for (const value of [...EVENT_TYPES, 'tab\there', 'new\nline', '100%', '%25', 'ü/ß=?']) {
    const directory = partitionDirectory(['event_type'], { event_type: value });
    assert.equal(parsePartitionDirectory(directory), { event_type: value }, value);
    assert.is(unescapePathName(escapePathName(value)), value);
    const relative = `${directory}/part-00000-x-c000.snappy.parquet`;
    const addPath = addPathFor(relative);
    assert.is(decodeAddPath(addPath), relative, value);
    assert.ok(/^[\x21-\x7e]+$/.test(addPath), `add.path is plain ASCII: ${addPath}`);
  }
  assert.is(addPathFor('event_type=%25/f'), 'event_type=%2525/f');
  assert.is(addPathFor('event_type=敵/f'), 'event_type=%E6%95%B5/f');
});

test('string stats truncate like Spark and keep max ≥ the real max', () => {
  const long = 'a'.repeat(40);
  assert.is(truncateMinString(long), 'a'.repeat(32));
  assert.is(truncateMaxString(long), `${'a'.repeat(32)}\u007f`);
  assert.is(truncateMaxString('a'.repeat(32)), 'a'.repeat(32));
  const wide = 'é'.repeat(40);
  assert.is(truncateMaxString(wide), `${'é'.repeat(32)}\u{10ffff}`);
  // A surrogate pair is never split.
  const emoji = `${'x'.repeat(31)}🎮🎮`;
  assert.is(truncateMinString(emoji), `${'x'.repeat(31)}🎮`);
  // A run of U+10FFFF cannot be bounded within 2× the prefix: no max at all.
  assert.is(truncateMaxString('\u{10ffff}'.repeat(40)), undefined);
  for (const value of [long, wide, emoji, `${'z'.repeat(32)}\u007f\u007f`, `${'é'.repeat(31)}\u{10ffff}\u{10ffff}b`]) {
    const max = truncateMaxString(value);
    if (max !== undefined) assert.ok(utf8Compare(max, value) >= 0, `max bound of ${value}`);
    assert.ok(utf8Compare(truncateMinString(value), value) <= 0);
  }
});

test('timestamp stats are UTC ms: min floored, max rounded up when it has sub-ms digits', () => {
  assert.is(timestampStat(1_708_570_982_123_456n, 'min'), '2024-02-22T03:03:02.123Z');
  assert.is(timestampStat(1_708_570_982_123_456n, 'max'), '2024-02-22T03:03:02.124Z');
  assert.is(timestampStat(1_708_570_982_123_000n, 'max'), '2024-02-22T03:03:02.123Z');
  assert.is(timestampStat(-1_500n, 'min'), '1969-12-31T23:59:59.998Z');
  assert.is(timestampStat(-1_500n, 'max'), '1969-12-31T23:59:59.999Z');
  const text = serializeStats({
    numRecords: 1,
    minValues: { big: { json: '9007199254740993' }, s: 'x' },
    maxValues: { big: { json: '9007199254740993' }, s: 'x' },
    nullCount: { big: 0, s: 0 },
  });
  assert.is(text, '{"numRecords":1,"minValues":{"big":9007199254740993,"s":"x"},"maxValues":{"big":9007199254740993,"s":"x"},"nullCount":{"big":0,"s":0}}');
});

test('createTable writes version 0 once; a matching re-create returns it, a different one is refused', async () => {
  const table = await newTablePath();
  const first = await createTable(table, { schema: SCHEMA, partitionColumns: PARTITIONS, name: 'events' });
  assert.is(first.created, true);
  assert.is(first.version, 0);
  const lines = (await readFile(join(table, '_delta_log', commitFileName(0)), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(Object.keys(lines[0]), ['commitInfo']);
  assert.is(lines[0].commitInfo.operation, 'CREATE TABLE');
  assert.is(lines[0].commitInfo.operationParameters.partitionBy, '["event_type"]');
  assert.match(lines[0].commitInfo.engineInfo, /^delta-lake-game-telemetry\/\d+\.\d+\.\d+/);
  assert.equal(lines[1], { protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
  assert.is(lines[2].metaData.id, first.metadata.id);
  assert.equal(JSON.parse(lines[2].metaData.schemaString), SCHEMA);
  assert.equal(lines[2].metaData.partitionColumns, ['event_type']);
  assert.equal(lines[2].metaData.format, { provider: 'parquet', options: {} });
  assert.type(lines[2].metaData.createdTime, 'number');

  const again = await createTable(table, { schema: SCHEMA, partitionColumns: PARTITIONS });
  assert.is(again.created, false);
  assert.is(again.metadata.id, first.metadata.id);

  const other = { ...SCHEMA, fields: SCHEMA.fields.slice(0, 3) };
  try {
    await createTable(table, { schema: other, partitionColumns: PARTITIONS });
    assert.unreachable('a different schema must be refused');
  } catch (error) {
    assert.instance(error, DeltaTableMismatchError);
    assert.match((error as Error).message, /schema/);
  }
  try {
    await createTable(table, { schema: SCHEMA, partitionColumns: ['source'] });
    assert.unreachable('a different partitioning must be refused');
  } catch (error) {
    assert.instance(error, DeltaTableMismatchError);
  }
  // Two creators racing: both succeed, exactly one created it.
  const raced = await newTablePath();
  const results = await Promise.all([1, 2, 3].map(() => createTable(raced, { schema: SCHEMA, partitionColumns: PARTITIONS })));
  assert.is(results.filter((result) => result.created).length, 1);
  assert.is(new Set(results.map((result) => result.metadata.id)).size, 1);
});

test('written files: escaped paths, exact sizes, partition values, exact stats, Parquet types, data read back two ways', async () => {
  const table = await newTablePath();
  await createTable(table, { schema: SCHEMA, partitionColumns: PARTITIONS });
  const rows = makeRows(600);
  const adds = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows });
  assert.is(adds.length, EVENT_TYPES.length);
  await commitActions(table, 1, [...adds.map((add) => ({ add })), { txn: { appId: 'writer-1', version: 41, lastUpdated: Date.now() } }], {
    operation: 'WRITE',
    operationParameters: { mode: 'Append', partitionBy: PARTITIONS },
    readVersion: 0,
    isBlindAppend: true,
  });

  const expectedDirectories: Record<string, string> = {
    'New Game': 'event_type=New Game',
    'a/b': 'event_type=a%2Fb',
    'x=y': 'event_type=x%3Dy',
    '%': 'event_type=%25',
    '#': 'event_type=%23',
    '?': 'event_type=%3F',
    '敵を倒した': 'event_type=敵を倒した',
    'a%2Fb': 'event_type=a%252Fb',
  };
  const connection = await duckdb();
  for (const add of adds) {
    const type = add.partitionValues['event_type'] as string;
    const group = rows.filter((row) => row.event_type === type);
    assert.equal(Object.keys(add.partitionValues), ['event_type']);
    assert.is(add.dataChange, true);

    const relative = decodeAddPath(add.path);
    const [directory, name] = [relative.slice(0, relative.lastIndexOf('/')), relative.slice(relative.lastIndexOf('/') + 1)];
    assert.match(name as string, /^part-\d{5}-[0-9a-f-]{36}-c000\.snappy\.parquet$/);
    assert.is(directory, partitionDirectory(PARTITIONS, { event_type: type }));
    if (expectedDirectories[type] !== undefined) assert.is(directory, expectedDirectories[type], type);
    assert.equal(parsePartitionDirectory(directory as string), { event_type: type });
    const file = join(table, relative);
    assert.is(add.size, (await stat(file)).size, `size of ${relative}`);

    assert.equal(JSON.parse(add.stats as string), expectedStats(group), `stats of ${type}`);

    const schemaRows = (
      await connection.runAndReadAll(
        `SELECT name, type, converted_type, logical_type::VARCHAR AS logical_type FROM parquet_schema($files) WHERE name <> 'duckdb_schema'`,
        { files: listValue([file]) },
        { files: LIST(VARCHAR) },
      )
    ).getRowObjects();
    assert.equal(schemaRows.map((row) => row['name']), DATA_COLUMNS, 'no partition column in the file, schema order kept');
    for (const row of schemaRows) {
      if (String(row['name']).endsWith('_at')) {
        assert.is(row['type'], 'INT64');
        assert.match(String(row['logical_type']), /TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS=<null>, MICROS=MicroSeconds\(\)/);
      } else {
        assert.is(row['type'], 'BYTE_ARRAY');
        assert.is(row['converted_type'], 'UTF8');
      }
    }

    const expected = group.map(asStored).sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
    assert.equal(await readWithDuckDb(file), expected, `DuckDB read of ${type}`);
    const viaHyparquet = await parquetReadObjects({
      file: await asyncBufferFromFile(file),
      parsers: { timestampFromMicroseconds: (value: bigint) => value },
    });
    viaHyparquet.sort((a, b) => (String(a['event_id']) < String(b['event_id']) ? -1 : 1));
    assert.equal(viaHyparquet, expected, `hyparquet read of ${type}`);
  }

  // The all-null column of one partition appears only in nullCount.
  const nullData = JSON.parse(adds.find((add) => add.partitionValues['event_type'] === 'NullData')?.stats as string);
  assert.not.ok('event_data' in nullData.minValues);
  assert.not.ok('event_data' in nullData.maxValues);
  assert.is(nullData.nullCount.event_data, nullData.numRecords);

  // The reader sees what was committed.
  const snapshot = await loadSnapshot(table);
  assert.is(snapshot.version, 1);
  assert.is(snapshot.files.length, adds.length);
  assert.equal(
    snapshot.files.map((add) => add.path).sort(),
    adds.map((add) => add.path).sort(),
  );
  assert.is(snapshot.txns.get('writer-1')?.version, 41);
  assert.is(snapshot.numRecords, rows.length);
  const v0 = await loadSnapshot(table, { version: 0 });
  assert.is(v0.files.length, 0);
});

test('the writer refuses a null in a non-nullable column and splits big partitions', async () => {
  const table = await newTablePath();
  const rows = makeRows(10);
  const bad = rows.map((row, index) => (index === 3 ? { ...row, player_id: null } : row));
  try {
    await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: bad });
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, /Row 3: column "player_id" is not nullable/);
  }
  const badTime = rows.map((row, index) => (index === 5 ? { ...row, updated_at: 'yesterday' } : row));
  try {
    await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: badTime });
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, /Cannot write column "updated_at" value "yesterday"/);
  }
  // Neither failure left a file behind.
  const leftovers = await readdir(table, { recursive: true }).catch(() => []);
  assert.equal(leftovers.filter((name) => String(name).endsWith('.parquet') || String(name).endsWith('.tmp')), []);

  const many = makeRows(50).map((row) => ({ ...row, event_type: 'Login' }));
  const adds = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: many, targetFileRows: 20 });
  assert.equal(adds.map((add) => JSON.parse(add.stats as string).numRecords), [20, 20, 10], 'files fill up to targetFileRows');
  assert.is(new Set(adds.map((add) => add.path)).size, 3);
});

test('commits are exclusive: the same version twice is a commit_conflict and leaves no temp files', async () => {
  const table = await newTablePath();
  await createTable(table, { schema: SCHEMA, partitionColumns: PARTITIONS });
  const adds = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: makeRows(5) });
  await commitActions(table, 1, adds.map((add) => ({ add })), { operation: 'WRITE', readVersion: 0, isBlindAppend: true });
  const before = await readFile(join(table, '_delta_log', commitFileName(1)), 'utf8');
  try {
    await commitActions(table, 1, [], { operation: 'WRITE', readVersion: 0 });
    assert.unreachable('the second commit of version 1 must fail');
  } catch (error) {
    assert.is((error as { code?: string }).code, 'commit_conflict');
  }
  assert.is(await readFile(join(table, '_delta_log', commitFileName(1)), 'utf8'), before, 'the winner is untouched');
  try {
    await commitActions(table, 5, [], { operation: 'WRITE' });
    assert.unreachable('a gap in versions must be refused');
  } catch (error) {
    assert.match((error as Error).message, /version 4 does not exist/);
  }
  const lines = before.trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(Object.keys(lines[0].commitInfo).slice(0, 3), ['timestamp', 'operation', 'operationParameters']);
  assert.is(lines[0].commitInfo.readVersion, 0);
  assert.is(lines[0].commitInfo.isBlindAppend, true);
  const logFiles = await readdir(join(table, '_delta_log'));
  assert.equal(logFiles.sort(), [commitFileName(0), commitFileName(1)]);
});

test('appendWithRetry: a writer that loses the race re-reads the log and commits next; a seen txn is skipped', async () => {
  const table = await newTablePath();
  await createTable(table, { schema: SCHEMA, partitionColumns: PARTITIONS });
  const ours = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: makeRows(6, 1) });
  const theirs = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: makeRows(6, 2) });
  const seen: number[] = [];
  const result = await appendWithRetry(table, {
    operation: 'STREAMING UPDATE',
    isBlindAppend: true,
    buildActions: async (snapshot) => {
      seen.push(snapshot.version);
      if (seen.length === 1) {
        // Another writer commits the version we are about to take.
        await commitActions(table, snapshot.version + 1, [...theirs.map((add) => ({ add })), { txn: { appId: 'other', version: 7 } }], {
          operation: 'WRITE',
          readVersion: snapshot.version,
        });
      }
      return [...ours.map((add) => ({ add })), { txn: { appId: 'ours', version: 3 } }];
    },
  });
  assert.equal(seen, [0, 1]);
  assert.ok(result.committed);
  if (result.committed) {
    assert.is(result.version, 2);
    assert.is(result.attempts, 2);
  }
  const snapshot = await loadSnapshot(table);
  assert.is(snapshot.version, 2);
  assert.equal(snapshot.files.map((add) => add.path).sort(), [...ours, ...theirs].map((add) => add.path).sort());
  assert.is(snapshot.txns.get('ours')?.version, 3);
  assert.is(snapshot.txns.get('other')?.version, 7);

  // A restart that replays position 3 sees it in the table and commits nothing.
  const again = await appendWithRetry(table, {
    operation: 'STREAMING UPDATE',
    buildActions: (current) => ((current.txns.get('ours')?.version ?? -1) >= 3 ? null : [{ txn: { appId: 'ours', version: 3 } }]),
  });
  assert.is(again.committed, false);
  assert.is((await loadSnapshot(table)).version, 2);
});

test('appendWithRetry: concurrent writers all land, each in its own version', async () => {
  const table = await newTablePath();
  await createTable(table, { schema: SCHEMA, partitionColumns: PARTITIONS });
  const batches = await Promise.all(
    [1, 2, 3, 4, 5].map((seed) => writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: makeRows(3, seed) })),
  );
  const results = await Promise.all(
    batches.map((adds, index) =>
      appendWithRetry(table, {
        operation: 'WRITE',
        isBlindAppend: true,
        maxAttempts: 20,
        buildActions: (): Action[] => [...adds.map((add) => ({ add })), { txn: { appId: `w${index}`, version: index } }],
      }),
    ),
  );
  const versions = results.map((result) => (result.committed ? result.version : -1)).sort();
  assert.equal(versions, [1, 2, 3, 4, 5]);
  const snapshot = await loadSnapshot(table);
  assert.is(snapshot.files.length, batches.flat().length);
  assert.is(snapshot.txns.size, 5);
  assert.is(snapshot.numRecords, 15);
});

test('throughput: 100k stored rows through writeDataFiles (Parquet + stats)', async () => {
  const table = await newTablePath();
  const rows = makeRows(100_000, 3);
  await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: rows.slice(0, 1000) }); // warm-up
  const started = performance.now();
  const adds: AddFile[] = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows });
  const seconds = (performance.now() - started) / 1000;
  const total = adds.reduce((sum, add) => sum + JSON.parse(add.stats as string).numRecords, 0);
  assert.is(total, rows.length);
  console.log(`    writeDataFiles: ${rows.length} rows in ${seconds.toFixed(2)} s = ${Math.round(rows.length / seconds)} rows/s`);
});

test.after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

test.run();
