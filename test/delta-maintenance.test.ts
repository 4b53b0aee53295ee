import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkpointFileName, commitFileName } from '../runtime/delta/actions.ts';
import type { AddFile, RemoveFile, StructType } from '../runtime/delta/actions.ts';
import { CHECKPOINT_COLUMNS, maybeCheckpoint, readLastCheckpointText, writeCheckpoint } from '../runtime/delta/checkpoint-writer.ts';
import { appendWithRetry } from '../runtime/delta/commit.ts';
import { createTable } from '../runtime/delta/create-table.ts';
import { duckdb } from '../runtime/delta/duckdb.ts';
import { decodeAddPath } from '../runtime/delta/escaping.ts';
import { optimize } from '../runtime/delta/optimize.ts';
import { writeDataFiles } from '../runtime/delta/parquet-writer.ts';
import { dataFilePath, loadSnapshot } from '../runtime/delta/snapshot.ts';
import type { Snapshot } from '../runtime/delta/snapshot.ts';
import { parseIntervalMs, vacuum } from '../runtime/delta/vacuum.ts';

/**
 * Checkpoints, OPTIMIZE and VACUUM on one table that grows through the suite: 12 appends (checkpoint at 10),
 * compaction, then VACUUM of what compaction removed plus orphans.
 */

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
const TYPES = ['Login', 'a/b', '敵を倒した'];
const DAY = 24 * 60 * 60 * 1000;

function batch(position: number, count = 4): object[] {
  return Array.from({ length: count }, (_, i) => {
    const n = position * 100 + i;
    const ms = Date.UTC(2024, 5, 1) + n * 61_001;
    return {
      event_id: `e${n}`,
      event_type: TYPES[n % TYPES.length],
      updated_at: `${new Date(ms).toISOString().slice(0, 23)}${String(n % 1000).padStart(3, '0')}Z`,
      event_data: n % 3 === 0 ? null : `{"n":${n}}`,
      player_id: `p${n % 5}`,
      received_at: `${new Date(ms + 1).toISOString().slice(0, 23)}789Z`,
      source: n % 2 ? 'ws' : 'rest',
    };
  });
}

/** Writes one batch and commits it with the stream position as txn, like the local writer does. */
async function append(table: string, position: number): Promise<number> {
  const adds = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: batch(position) });
  const result = await appendWithRetry(table, {
    operation: 'STREAMING UPDATE',
    isBlindAppend: true,
    buildActions: (snapshot) =>
      (snapshot.txns.get('hub')?.version ?? -1) >= position
        ? null
        : [...adds.map((add) => ({ add })), { txn: { appId: 'hub', version: position, lastUpdated: Date.now() } }],
  });
  assert.ok(result.committed);
  if (!result.committed) throw new Error('not committed');
  await maybeCheckpoint(table, result.version);
  return result.version;
}

/** Every row of the table at its latest version, partition value included, timestamps as epoch µs, sorted. */
async function tableRows(table: string): Promise<string[]> {
  const snapshot = await loadSnapshot(table);
  const connection = await duckdb();
  const rows: string[] = [];
  for (const add of snapshot.files) {
    const reader = await connection.runAndReadAll(
      `SELECT event_id, epoch_us(updated_at)::VARCHAR AS updated_at, event_data, player_id,
              epoch_us(received_at)::VARCHAR AS received_at, source
       FROM read_parquet($files, hive_partitioning = false)`,
      { files: listValue([dataFilePath(table, add.path)]) },
      { files: LIST(VARCHAR) },
    );
    for (const row of reader.getRowObjects()) rows.push(JSON.stringify({ ...row, event_type: add.partitionValues['event_type'] }));
  }
  return rows.sort();
}

const comparable = (snapshot: Snapshot) => ({
  version: snapshot.version,
  protocol: snapshot.protocol,
  metadata: snapshot.metadata,
  files: [...snapshot.files]
    .map((add: AddFile) => ({
      path: add.path,
      partitionValues: add.partitionValues,
      size: add.size,
      modificationTime: add.modificationTime,
      dataChange: add.dataChange,
      stats: add.stats,
    }))
    .sort((a, b) => (a.path < b.path ? -1 : 1)),
  tombstones: [...snapshot.tombstones]
    .map((remove: RemoveFile) => ({
      path: remove.path,
      deletionTimestamp: remove.deletionTimestamp,
      dataChange: remove.dataChange,
      size: remove.size,
      partitionValues: remove.partitionValues,
    }))
    .sort((a, b) => (a.path < b.path ? -1 : 1)),
  txns: [...snapshot.txns.values()].map((txn) => ({ appId: txn.appId, version: txn.version, lastUpdated: txn.lastUpdated })),
});

async function parquetColumns(path: string): Promise<{ name: string; children: number | null }[]> {
  const connection = await duckdb();
  const reader = await connection.runAndReadAll(`SELECT name, num_children FROM parquet_schema($files)`, { files: listValue([path]) }, {
    files: LIST(VARCHAR),
  });
  return reader.getRowObjects().map((row) => ({ name: String(row['name']), children: row['num_children'] === null ? null : Number(row['num_children']) }));
}

/** Top-level columns and each one's direct children, from a flattened parquet_schema listing. */
function topLevel(columns: { name: string; children: number | null }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let index = 1; // skip the root
  const skip = (): void => {
    const node = columns[index++] as { children: number | null };
    for (let child = 0; child < (node.children ?? 0); child++) skip();
  };
  while (index < columns.length) {
    const node = columns[index++] as { name: string; children: number | null };
    const children: string[] = [];
    for (let child = 0; child < (node.children ?? 0); child++) {
      children.push((columns[index] as { name: string }).name);
      skip();
    }
    out[node.name] = children;
  }
  return out;
}

let root = '';
let table = '';
let rowsBeforeOptimize: string[] = [];
let removedByOptimize: string[] = [];

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'delta-maintenance-'));
  table = join(root, 'delta_lake_events_db', 'events');
  await createTable(table, { schema: SCHEMA, partitionColumns: PARTITIONS });
});

test('after 12 commits there is a checkpoint at version 10 and _last_checkpoint says so', async () => {
  for (let position = 1; position <= 12; position++) assert.is(await append(table, position), position);
  const log = await readdir(join(table, '_delta_log'));
  assert.equal(log.filter((name) => name.includes('checkpoint.parquet')), [checkpointFileName(10)]);
  assert.equal(log.filter((name) => name.endsWith('.tmp')), []);
  const last = JSON.parse(await readLastCheckpointText(table));
  const snapshot10 = await loadSnapshot(table, { version: 10 });
  assert.equal(last, {
    version: 10,
    size: 2 + snapshot10.files.length + 1, // protocol, metaData, adds, one txn
    sizeInBytes: (await stat(join(table, '_delta_log', checkpointFileName(10)))).size,
    numOfAddFiles: snapshot10.files.length,
  });
  assert.not.ok('parts' in last);
  // A replayed position is skipped: no version 13.
  const adds = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: batch(12) });
  const replay = await appendWithRetry(table, {
    operation: 'STREAMING UPDATE',
    buildActions: (snapshot) => ((snapshot.txns.get('hub')?.version ?? -1) >= 12 ? null : adds.map((add) => ({ add }))),
  });
  assert.is(replay.committed, false);
  await rm(join(table, decodeAddPath((adds[0] as AddFile).path)), { force: true }); // not an orphan for later tests
  for (const add of adds.slice(1)) await rm(join(table, decodeAddPath(add.path)), { force: true });
});

test('the checkpoint gives the same state as replaying the JSON commits alone', async () => {
  const viaCheckpoint = await loadSnapshot(table);
  assert.is(viaCheckpoint.checkpointVersion, 10);
  const logPath = join(table, '_delta_log');
  const hidden = join(root, 'hidden-checkpoint');
  await rename(join(logPath, checkpointFileName(10)), hidden);
  await rename(join(logPath, '_last_checkpoint'), `${hidden}-last`);
  let jsonOnly: Snapshot;
  try {
    jsonOnly = await loadSnapshot(table);
    assert.is(jsonOnly.checkpointVersion, undefined);
  } finally {
    await rename(hidden, join(logPath, checkpointFileName(10)));
    await rename(`${hidden}-last`, join(logPath, '_last_checkpoint'));
  }
  assert.equal(comparable(viaCheckpoint), comparable(jsonOnly));
  assert.is(viaCheckpoint.txns.get('hub')?.version, 12);
  // And time travel to the checkpoint version itself.
  const at10 = await loadSnapshot(table, { version: 10 });
  assert.is(at10.checkpointVersion, 10);
  assert.is(at10.txns.get('hub')?.version, 10);
});

test("the checkpoint's Parquet schema has Spark's column order and nesting", async () => {
  const ours = topLevel(await parquetColumns(join(table, '_delta_log', checkpointFileName(10))));
  assert.equal(Object.keys(ours), ['txn', 'add', 'remove', 'metaData', 'protocol', 'domainMetadata']);
  assert.equal(Object.keys(ours), CHECKPOINT_COLUMNS.map(([name]) => name));
  assert.equal(ours['add'], ['path', 'partitionValues', 'size', 'modificationTime', 'dataChange', 'tags', 'deletionVector', 'baseRowId', 'defaultRowCommitVersion', 'stats']);
  assert.equal(ours['metaData'], ['id', 'name', 'description', 'format', 'schemaString', 'partitionColumns', 'configuration', 'createdTime']);
  // The same layout as a checkpoint Spark wrote (golden table from delta-io/delta).
  const golden = join(process.cwd(), '..', 'shared', 'delta-golden', 'basic-with-inserts-deletes-checkpoint', '_delta_log', checkpointFileName(10));
  const spark = await stat(golden).then(
    async () => topLevel(await parquetColumns(golden)),
    () => undefined,
  );
  if (spark !== undefined) assert.equal(ours, spark);
  const all = await parquetColumns(join(table, '_delta_log', checkpointFileName(10)));
  assert.ok(all.some((column) => column.name === 'key_value'), 'maps are 3-level key_value groups');
  assert.ok(all.some((column) => column.name === 'element'), 'lists are 3-level list/element groups');
});

test('OPTIMIZE compacts each partition into one file, keeps every row, and marks the commit dataChange=false', async () => {
  const before = await loadSnapshot(table);
  rowsBeforeOptimize = await tableRows(table);
  const perPartition = (snapshot: Snapshot) => {
    const counts: Record<string, number> = {};
    for (const add of snapshot.files) counts[add.partitionValues['event_type'] as string] = (counts[add.partitionValues['event_type'] as string] ?? 0) + 1;
    return counts;
  };
  const countsBefore = perPartition(before);
  for (const type of TYPES) assert.ok((countsBefore[type] ?? 0) > 1, `${type} has several small files`);

  const result = await optimize(table);
  assert.is(result.version, before.version + 1);
  assert.is(result.filesRemoved, before.files.length);
  assert.is(result.filesAdded, TYPES.length);
  const after = await loadSnapshot(table);
  assert.equal(perPartition(after), Object.fromEntries(TYPES.map((type) => [type, 1])));
  assert.equal(await tableRows(table), rowsBeforeOptimize);
  assert.is(after.numRecords, before.numRecords);
  assert.is(after.txns.get('hub')?.version, 12, 'txns survive');

  const lines = (await readFile(join(table, '_delta_log', commitFileName(result.version as number)), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.is(lines[0].commitInfo.operation, 'OPTIMIZE');
  assert.is(lines[0].commitInfo.readVersion, before.version);
  const removes = lines.filter((line) => 'remove' in line).map((line) => line.remove);
  const adds = lines.filter((line) => 'add' in line).map((line) => line.add);
  assert.is(removes.length, before.files.length);
  for (const remove of removes) {
    assert.is(remove.dataChange, false);
    assert.is(remove.extendedFileMetadata, true);
    assert.type(remove.deletionTimestamp, 'number');
    const old = before.files.find((add) => add.path === remove.path) as AddFile;
    assert.ok(old, 'removes only live files');
    assert.is(remove.size, old.size);
    assert.equal(remove.partitionValues, old.partitionValues);
  }
  for (const add of adds) {
    assert.is(add.dataChange, false);
    assert.is(add.size, (await stat(dataFilePath(table, add.path))).size);
    const stats = JSON.parse(add.stats);
    const type = add.partitionValues.event_type;
    assert.is(stats.numRecords, rowsBeforeOptimize.filter((row) => JSON.parse(row).event_type === type).length);
  }
  removedByOptimize = removes.map((remove) => remove.path as string);
  // Nothing left to do now.
  assert.is((await optimize(table)).version, null);
});

test('OPTIMIZE next to a concurrent append: both commits land, no row lost or duplicated', async () => {
  for (let position = 13; position <= 15; position++) await append(table, position);
  const expected = [...(await tableRows(table))];
  const adds = await writeDataFiles({ tablePath: table, schema: SCHEMA, partitionColumns: PARTITIONS, rows: batch(16) });
  const [optimized] = await Promise.all([
    optimize(table),
    appendWithRetry(table, {
      operation: 'STREAMING UPDATE',
      isBlindAppend: true,
      buildActions: () => [...adds.map((add) => ({ add })), { txn: { appId: 'hub', version: 16 } }],
    }),
  ]);
  assert.ok(optimized.version !== null);
  const extra = batch(16).map((row) => {
    const r = row as Record<string, string | null>;
    return JSON.stringify({
      event_id: r['event_id'],
      updated_at: String(BigInt(Date.parse(`${(r['updated_at'] as string).slice(0, 23)}Z`)) * 1000n + BigInt((r['updated_at'] as string).slice(23, 26))),
      event_data: r['event_data'],
      player_id: r['player_id'],
      received_at: String(BigInt(Date.parse(`${(r['received_at'] as string).slice(0, 23)}Z`)) * 1000n + 789n),
      source: r['source'],
      event_type: r['event_type'],
    });
  });
  assert.equal(await tableRows(table), [...expected, ...extra].sort());
  const snapshot = await loadSnapshot(table);
  assert.is(snapshot.txns.get('hub')?.version, 16);
  const tombstoned = new Set(snapshot.tombstones.map((remove) => remove.path));
  for (const path of removedByOptimize) assert.ok(tombstoned.has(path));
  removedByOptimize = [...tombstoned];
});

test('VACUUM deletes exactly the removed and orphaned files once past the retention; dry run deletes nothing', async () => {
  const snapshot = await loadSnapshot(table);
  const live = snapshot.files.map((add) => decodeAddPath(add.path)).sort();
  const removed = snapshot.tombstones.map((remove) => decodeAddPath(remove.path));
  assert.ok(removed.length > 0);
  // An orphan from a writer that crashed before committing, its temp debris, and files VACUUM must leave alone.
  const orphan = join('event_type=Login', 'part-00000-00000000-0000-4000-8000-000000000000-c000.snappy.parquet');
  const debris = join('event_type=a%2Fb', '.part-00001-00000000-0000-4000-8000-000000000001-c000.snappy.parquet.0badcafe.tmp');
  await writeFile(join(table, orphan), 'not really parquet');
  await writeFile(join(table, debris), 'half a file');
  await writeFile(join(table, '_SUCCESS'), '');
  await writeFile(join(table, 'event_type=Login', '.keep'), '');
  const logBefore = (await readdir(join(table, '_delta_log'))).sort();

  // Young files are protected by default.
  const early = await vacuum(table, { dryRun: true });
  assert.equal(early.deleted, []);
  assert.ok(early.keptRecent.length >= removed.length + 2);

  try {
    await vacuum(table, { retentionMs: DAY, dryRun: true });
    assert.unreachable('a retention below 7 days needs force');
  } catch (error) {
    assert.match((error as Error).message, /force: true/);
  }

  const later = Date.now() + 8 * DAY;
  const expected = [...removed, orphan, debris].map((path) => path.split('\\').join('/')).sort();
  const dry = await vacuum(table, { dryRun: true, now: later });
  assert.equal([...dry.deleted].sort(), expected);
  for (const path of expected) await stat(join(table, path)); // all still there
  assert.equal((await readdir(join(table, '_delta_log'))).sort(), logBefore, 'a dry run commits nothing');

  const forced = await vacuum(table, { retentionMs: DAY, dryRun: true, force: true, now: Date.now() + 2 * DAY });
  assert.equal([...forced.deleted].sort(), expected);

  const done = await vacuum(table, { now: later });
  assert.equal([...done.deleted].sort(), expected);
  assert.is(done.keptLive, live.length);
  for (const path of expected) {
    const gone = await stat(join(table, path)).then(() => false, () => true);
    assert.ok(gone, `${path} deleted`);
  }
  for (const path of live) await stat(join(table, path));
  await stat(join(table, '_SUCCESS'));
  await stat(join(table, 'event_type=Login', '.keep'));

  // _delta_log only grew, by the VACUUM START / END commits.
  const logAfter = (await readdir(join(table, '_delta_log'))).sort();
  for (const name of logBefore) assert.ok(logAfter.includes(name), `${name} kept`);
  const newCommits = logAfter.filter((name) => !logBefore.includes(name) && name.endsWith('.json'));
  assert.is(newCommits.length, 2);
  const operations = await Promise.all(
    newCommits.map(async (name) => JSON.parse((await readFile(join(table, '_delta_log', name), 'utf8')).split('\n')[0] as string).commitInfo.operation),
  );
  assert.equal(operations, ['VACUUM START', 'VACUUM END']);

  // The table still reads completely.
  const rows = await tableRows(table);
  assert.is(rows.length, rowsBeforeOptimize.length + 4 * 4);
  const again = await vacuum(table, { now: later, dryRun: true });
  assert.equal(again.deleted, []);
});

test('checkpoints keep only tombstones inside the retention; intervals parse like Spark', async () => {
  const snapshot = await loadSnapshot(table);
  assert.ok(snapshot.tombstones.length > 0);
  const fresh = await writeCheckpoint(snapshot);
  assert.is(fresh.size, 2 + snapshot.files.length + snapshot.txns.size + snapshot.tombstones.length);
  const expired = await writeCheckpoint(snapshot, { now: Date.now() + 8 * DAY });
  assert.is(expired.size, 2 + snapshot.files.length + snapshot.txns.size);
  const reread = await loadSnapshot(table);
  assert.is(reread.checkpointVersion, snapshot.version);
  assert.equal(comparable(reread).files, comparable(snapshot).files);
  assert.is(parseIntervalMs('interval 1 week'), 7 * DAY);
  assert.is(parseIntervalMs('interval 2 days 12 hours'), 2.5 * DAY);
  assert.is(parseIntervalMs('7 days'), 7 * DAY);
  assert.is(parseIntervalMs('interval 1 fortnight'), undefined);
});

test.after(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true });
});

test.run();
