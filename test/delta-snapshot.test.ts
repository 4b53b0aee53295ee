import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkpointFileName, commitFileName } from '../runtime/delta/actions.ts';
import { closeDuckDb, duckdb, openDuckDbConnection } from '../runtime/delta/duckdb.ts';
import {
  DeltaLogError,
  DeltaProtocolError,
  DeltaTableNotFoundError,
  DeltaVersionNotFoundError,
} from '../runtime/delta/errors.ts';
import {
  advanceSnapshot,
  assertWritable,
  dataFilePath,
  latestVersion,
  loadSnapshot,
  readCommit,
  txnVersion,
} from '../runtime/delta/snapshot.ts';
import type { Snapshot } from '../runtime/delta/snapshot.ts';

/** Small logs written by hand in temp directories: each test states the log and the state it must replay to. */

const tempDirs: string[] = [];

async function newTable(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'delta-snapshot-'));
  tempDirs.push(dir);
  const table = join(dir, 'events');
  await mkdir(join(table, '_delta_log'), { recursive: true });
  return table;
}

const logFile = (table: string, name: string) => join(table, '_delta_log', name);

async function commit(table: string, version: number, actions: readonly object[]): Promise<void> {
  const text = actions.map((action) => JSON.stringify(action)).join('\n') + '\n';
  await writeFile(logFile(table, commitFileName(version)), text, { flag: 'wx' });
}

const SCHEMA = {
  type: 'struct',
  fields: [
    { name: 'event_id', type: 'string', nullable: false, metadata: {} },
    { name: 'event_type', type: 'string', nullable: false, metadata: {} },
  ],
};

const protocol = (minReaderVersion = 1, minWriterVersion = 2, features: Record<string, string[]> = {}) => ({
  protocol: { minReaderVersion, minWriterVersion, ...features },
});
/** Table features listed as both reader and writer features (reader-writer features), or as writer features. */
const features = (...names: string[]) => ({ readerFeatures: names, writerFeatures: names });
const writerFeatures = (...names: string[]) => ({ writerFeatures: names });
const metaData = (options: { configuration?: Record<string, string>; schema?: object } = {}) => ({
  metaData: {
    id: 'f3b2a9c4-0000-4000-8000-000000000001',
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify(options.schema ?? SCHEMA),
    partitionColumns: ['event_type'],
    configuration: options.configuration ?? {},
    createdTime: 1700000000000,
  },
});
const add = (path: string, extra: Record<string, unknown> = {}) => ({
  add: {
    path,
    partitionValues: { event_type: 'Login' },
    size: 100,
    modificationTime: 1700000000000,
    dataChange: true,
    stats: '{"numRecords":10}',
    ...extra,
  },
});
const remove = (path: string, extra: Record<string, unknown> = {}) => ({
  remove: { path, deletionTimestamp: 1700000001000, dataChange: true, ...extra },
});
const txn = (appId: string, version: number) => ({ txn: { appId, version, lastUpdated: 1700000000000 } });
const commitInfo = (timestamp: number) => ({ commitInfo: { timestamp, operation: 'WRITE' } });

/**
 * Writes a classic checkpoint from actions given as JSON (the test's own text, not the library's reader): DuckDB
 * turns the objects into the checkpoint's struct and MAP columns, as Spark's checkpoint schema has them.
 */
async function writeCheckpoint(table: string, name: string, actions: readonly object[]): Promise<void> {
  const source = join(table, `${name}.ndjson`);
  await writeFile(source, actions.map((action) => JSON.stringify(action)).join('\n') + '\n');
  const map = 'MAP(VARCHAR, VARCHAR)';
  const columns = {
    txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
    add:
      `STRUCT(path VARCHAR, partitionValues ${map}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, ` +
      `tags ${map}, stats VARCHAR)`,
    remove:
      'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, ' +
      `partitionValues ${map}, size BIGINT)`,
    metaData:
      `STRUCT(id VARCHAR, format STRUCT(provider VARCHAR, options ${map}), schemaString VARCHAR, ` +
      `partitionColumns VARCHAR[], configuration ${map}, createdTime BIGINT)`,
    protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)',
  };
  const spec = Object.entries(columns)
    .map(([column, type]) => `${column}: '${type}'`)
    .join(', ');
  const connection = await duckdb();
  await connection.run(
    `COPY (SELECT * FROM read_json('${source}', format = 'newline_delimited', columns = {${spec}}))
     TO '${logFile(table, name)}' (FORMAT parquet)`,
  );
  await unlink(source);
}

/** The promise must reject with `type`, the given code, and a message matching `pattern`. */
async function rejects(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  code: string,
  pattern: RegExp,
): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, type);
    assert.is((error as { code?: string }).code, code);
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a ${type.name}`);
}

function throwsSync(run: () => unknown, type: new (...args: never[]) => Error, pattern: RegExp): void {
  try {
    run();
  } catch (error) {
    assert.instance(error, type);
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a ${type.name}`);
}

const paths = (snapshot: Snapshot) => snapshot.files.map((file) => file.path).sort();
const tombstonePaths = (snapshot: Snapshot) => snapshot.tombstones.map((file) => file.path).sort();

// ---------------------------------------------------------------------------------------------------------------

test('a missing table, or a _delta_log without commits, is table_not_found', async () => {
  const table = await newTable();
  await rejects(loadSnapshot(join(table, 'nope')), DeltaTableNotFoundError, 'table_not_found', /no _delta_log/);
  await rejects(loadSnapshot(table), DeltaTableNotFoundError, 'table_not_found', /holds no commit/);
  assert.is(await latestVersion(join(table, 'nope')), undefined);
  assert.is(await latestVersion(table), undefined);
  await rejects(readCommit(table, 0), DeltaTableNotFoundError, 'table_not_found', /no _delta_log/);
});

test('txn: the latest per appId wins, even when it goes down; other appIds keep theirs', async () => {
  const table = await newTable();
  await commit(table, 0, [protocol(), metaData(), txn('writer-a', 5), txn('writer-b', 1)]);
  await commit(table, 1, [add('a.parquet'), txn('writer-a', 7)]);
  await commit(table, 2, [add('b.parquet'), txn('writer-a', 6)]); // the protocol does not require monotonic versions
  const snapshot = await loadSnapshot(table);
  assert.is(txnVersion(snapshot, 'writer-a'), 6);
  assert.is(txnVersion(snapshot, 'writer-b'), 1);
  assert.is(txnVersion(snapshot, 'writer-c'), undefined);
  assert.equal(snapshot.txns.get('writer-a'), { appId: 'writer-a', version: 6, lastUpdated: 1700000000000 });
  assert.is(txnVersion(await loadSnapshot(table, { version: 1 }), 'writer-a'), 7);
});

test('add/remove: removes delete live files and become tombstones; a re-add clears the tombstone', async () => {
  const table = await newTable();
  const [a, b, c] = ['a', 'b', 'c'].map((name) => `event_type=Login/${name}.parquet`) as [string, string, string];
  await commit(table, 0, [protocol(), metaData(), add(a), add(b)]);
  await commit(table, 1, [remove(a), add(c)]);
  await commit(table, 2, [add(a, { size: 200 }), remove(c)]);
  const snapshot = await loadSnapshot(table);
  assert.equal(paths(snapshot), [a, b]);
  assert.equal(tombstonePaths(snapshot), [c]);
  assert.is(snapshot.files.find((file) => file.path === a)?.size, 200, 'the latest add wins');
  assert.is(snapshot.sizeInBytes, 300);
  assert.is(snapshot.numRecords, 20);
  assert.equal(snapshot.partitionColumns, ['event_type']);
  assert.equal(snapshot.schema, SCHEMA);
  assert.equal(snapshot.files[0]?.partitionValues, { event_type: 'Login' });
});

test('add/remove: paths match after URI decoding, whether relative or file: URIs', async () => {
  const table = await newTable();
  await commit(table, 0, [protocol(), metaData(), add('event_type=A%253AB/x%20y.parquet'), add('plain.parquet')]);
  const absolute = pathToFileURL(join(table, 'event_type=A%3AB', 'x y.parquet')).href;
  await commit(table, 1, [remove(absolute)]);
  const snapshot = await loadSnapshot(table);
  assert.equal(paths(snapshot), ['plain.parquet']);
  assert.equal(tombstonePaths(snapshot), [absolute]);
});

test('add/remove: (path, deletion vector) is the key; a file whose DV was dropped stays live', async () => {
  const table = await newTable();
  const dv = { storageType: 'u', pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^', offset: 4, sizeInBytes: 40, cardinality: 6 };
  const dvProtocol = protocol(3, 7, features('deletionVectors'));
  await commit(table, 0, [dvProtocol, metaData(), add('f.parquet'), add('g.parquet', { deletionVector: dv })]);
  // Removing (g, no DV) does not touch (g, dv): the DV'd file is still live, so this reader must refuse.
  await commit(table, 1, [remove('g.parquet')]);
  const refusal = /deletionVectors: 1 live file has a deletion vector/;
  await rejects(loadSnapshot(table), DeltaProtocolError, 'unsupported_protocol', refusal);
  // A rewrite without the DV (remove (g, dv), add g) leaves one live g and nothing this reader cannot apply.
  await commit(table, 2, [remove('g.parquet', { deletionVector: dv }), add('g.parquet', { size: 50 })]);
  const snapshot = await loadSnapshot(table);
  assert.equal(paths(snapshot), ['f.parquet', 'g.parquet']);
  assert.is(snapshot.files.find((file) => file.path === 'g.parquet')?.deletionVector, undefined);
  // The re-add of g cleared the (g) tombstone; (g, dv) stays one, with its DV (VACUUM must keep the DV file's age).
  assert.equal(snapshot.tombstones.map((file) => [file.path, file.deletionVector]), [['g.parquet', dv]]);
});

test('time travel: {version} replays up to that version; a version the log lacks is version_not_found', async () => {
  const table = await newTable();
  await commit(table, 0, [commitInfo(1000), protocol(), metaData()]);
  await commit(table, 1, [commitInfo(2000), add('a.parquet')]);
  const appendOnly = metaData({ configuration: { 'delta.appendOnly': 'true' } });
  await commit(table, 2, [commitInfo(3000), add('b.parquet'), appendOnly]);
  await commit(table, 3, [{ commitInfo: { timestamp: 4000, inCommitTimestamp: 3999 } }, remove('a.parquet')]);
  assert.is(await latestVersion(table), 3);
  const v0 = await loadSnapshot(table, { version: 0 });
  assert.is(v0.version, 0);
  assert.equal(paths(v0), []);
  const v1 = await loadSnapshot(table, { version: 1 });
  assert.equal(paths(v1), ['a.parquet']);
  assert.equal(v1.metadata.configuration, {});
  const v2 = await loadSnapshot(table, { version: 2 });
  assert.equal(paths(v2), ['a.parquet', 'b.parquet']);
  assert.equal(v2.metadata.configuration, { 'delta.appendOnly': 'true' }, 'the latest metaData wins');
  const latest = await loadSnapshot(table);
  assert.is(latest.version, 3);
  assert.equal(paths(latest), ['b.parquet']);
  assert.equal([...latest.commitTimestamps], [[0, 1000], [1, 2000], [2, 3000], [3, 3999]]);
  const notFound = (version: number, pattern: RegExp) =>
    rejects(loadSnapshot(table, { version }), DeltaVersionNotFoundError, 'version_not_found', pattern);
  await notFound(4, /latest version is 3/);
  await notFound(-1, /-1/);
  await notFound(1.5, /1\.5/);
});

test('gaps: a missing commit is corrupt_log naming it; versions before the gap still load', async () => {
  const table = await newTable();
  await commit(table, 0, [protocol(), metaData()]);
  await commit(table, 1, [add('a.parquet')]);
  await commit(table, 4, [add('b.parquet')]);
  const corrupt = (options: { version?: number }, pattern: RegExp) =>
    rejects(loadSnapshot(table, options), DeltaLogError, 'corrupt_log', pattern);
  await corrupt({}, /not contiguous: commits 2–3 are missing between version 0 and version 4/);
  await corrupt({ version: 3 }, /commits 2–3 are missing between version 0 and version 3/);
  assert.equal(paths(await loadSnapshot(table, { version: 1 })), ['a.parquet']);

  const headless = await newTable();
  await commit(headless, 1, [protocol(), metaData()]);
  const noStart = /commit 0 is missing .* no checkpoint to start from/;
  await rejects(loadSnapshot(headless), DeltaLogError, 'corrupt_log', noStart);
});

test('a damaged commit line, or a log without protocol/metaData, is corrupt_log', async () => {
  const table = await newTable();
  await commit(table, 0, [protocol(), metaData()]);
  await writeFile(logFile(table, commitFileName(1)), `${JSON.stringify(add('a.parquet'))}\n{"add":{"path":"b.par`);
  const damaged = /00000000000000000001\.json line 2 is not valid JSON/;
  await rejects(loadSnapshot(table), DeltaLogError, 'corrupt_log', damaged);
  await rejects(readCommit(table, 1), DeltaLogError, 'corrupt_log', /line 2/);

  const noMetadata = await newTable();
  await commit(noMetadata, 0, [protocol(), add('a.parquet')]);
  await rejects(loadSnapshot(noMetadata), DeltaLogError, 'corrupt_log', /no metaData action/);
  const noProtocol = await newTable();
  await commit(noProtocol, 0, [metaData()]);
  await rejects(loadSnapshot(noProtocol), DeltaLogError, 'corrupt_log', /no protocol action/);
  const addWithoutPath = await newTable();
  await commit(addWithoutPath, 0, [protocol(), metaData(), { add: { size: 1 } }]);
  await rejects(loadSnapshot(addWithoutPath), DeltaLogError, 'corrupt_log', /commit 0 line 3: add action has no path/);
});

test('readCommit returns a commit as written; a missing version is version_not_found', async () => {
  const table = await newTable();
  const domain = { domainMetadata: { domain: 'x', configuration: '{}', removed: false } };
  const actions = [commitInfo(1), protocol(), metaData(), add('a.parquet'), domain];
  await commit(table, 0, actions);
  assert.equal(await readCommit(table, 0), JSON.parse(JSON.stringify(actions)));
  await rejects(readCommit(table, 1), DeltaVersionNotFoundError, 'version_not_found', /Commit 1 .* does not exist/);
});

test('advanceSnapshot: the snapshot plus the commits after it equals a fresh load; the base is left as it was', async () => {
  const table = await newTable();
  const [a, b, c] = ['a', 'b', 'c'].map((name) => `event_type=Login/${name}.parquet`) as [string, string, string];
  const domain = (removed: boolean) => ({ domainMetadata: { domain: 'x', configuration: '{}', removed } });
  await commit(table, 0, [commitInfo(1000), protocol(), metaData(), add(a), txn('writer', 1), domain(false)]);
  const base = await loadSnapshot(table);
  await commit(table, 1, [commitInfo(2000), add(b), txn('writer', 2)]);
  await commit(table, 2, [commitInfo(3000), remove(a), add(c), domain(true)]);
  await commit(table, 3, [commitInfo(4000), metaData({ configuration: { 'delta.appendOnly': 'false' } }), txn('other', 9)]);

  const advanced = await advanceSnapshot(base, 3);
  assert.equal(advanced, await loadSnapshot(table));
  assert.equal(paths(advanced), [b, c]);
  assert.equal(tombstonePaths(advanced), [a]);
  assert.equal([...advanced.commitTimestamps.keys()], [0, 1, 2, 3]);
  assert.equal(await advanceSnapshot(base, 1), await loadSnapshot(table, { version: 1 }));

  assert.is(base.version, 0);
  assert.equal(paths(base), [a]);
  assert.is(txnVersion(base, 'writer'), 1);
  assert.is(base.domainMetadata.size, 1);
  assert.is(await advanceSnapshot(advanced, 3), advanced);
});

test('advanceSnapshot: a commit missing after the base, or a version before it, is version_not_found', async () => {
  const table = await newTable();
  await commit(table, 0, [protocol(), metaData(), add('a.parquet')]);
  await commit(table, 1, [add('b.parquet')]);
  const base = await loadSnapshot(table);
  await rejects(advanceSnapshot(base, 2), DeltaVersionNotFoundError, 'version_not_found', /Commit 2 .* does not exist/);
  await rejects(advanceSnapshot(base, 0), DeltaVersionNotFoundError, 'version_not_found', /at version 1 to version 0/);
});

test('domainMetadata: the latest per domain, removed domains dropped', async () => {
  const table = await newTable();
  const domain = (name: string, configuration: string, removed = false) => ({
    domainMetadata: { domain: name, configuration, removed },
  });
  await commit(table, 0, [protocol(), metaData(), domain('delta.rowTracking', '{"a":1}'), domain('app', '{"v":1}')]);
  await commit(table, 1, [domain('app', '{"v":2}'), domain('delta.rowTracking', '', true)]);
  const snapshot = await loadSnapshot(table);
  assert.equal([...snapshot.domainMetadata.keys()], ['app']);
  assert.equal(snapshot.domainMetadata.get('app'), { domain: 'app', configuration: '{"v":2}', removed: false });
});

// --- checkpoints and _last_checkpoint ----------------------------------------------------------------------------

/** The null partition's file: `partitionValues {event_type: null}` must survive the checkpoint's MAP column. */
const NULL_PARTITION = 'event_type=__HIVE_DEFAULT_PARTITION__/n.parquet';
const nullPartitionAdd = () => add(NULL_PARTITION, { partitionValues: { event_type: null } });
const checkpointed = (action: { add: object }) => ({ add: { ...action.add, dataChange: false } });
const tableConfig = () => metaData({ configuration: { 'delta.checkpointInterval': '2' } });
const tombstoneOfA = {
  remove: {
    path: 'a.parquet',
    deletionTimestamp: 1700000001000,
    dataChange: false,
    extendedFileMetadata: true,
    partitionValues: { event_type: 'Login' },
    size: 100,
  },
};

/** Versions 0–3 as JSON, a checkpoint of version 2 (maps included), and `_last_checkpoint` as given. */
async function checkpointedTable(lastCheckpoint: string | undefined): Promise<string> {
  const table = await newTable();
  await commit(table, 0, [protocol(), tableConfig(), add('a.parquet'), txn('w', 1)]);
  await commit(table, 1, [add('b.parquet'), txn('w', 2)]);
  await commit(table, 2, [remove('a.parquet'), nullPartitionAdd(), txn('w', 3)]);
  await commit(table, 3, [add('c.parquet'), txn('w', 4)]);
  await writeCheckpoint(table, checkpointFileName(2), [
    protocol(),
    tableConfig(),
    txn('w', 3),
    checkpointed(add('b.parquet')),
    checkpointed(nullPartitionAdd()),
    tombstoneOfA,
  ]);
  if (lastCheckpoint !== undefined) await writeFile(logFile(table, '_last_checkpoint'), lastCheckpoint);
  return table;
}

function assertCheckpointedState(snapshot: Snapshot): void {
  assert.is(snapshot.version, 3);
  assert.equal(paths(snapshot), ['b.parquet', 'c.parquet', NULL_PARTITION]);
  assert.equal(tombstonePaths(snapshot), ['a.parquet']);
  assert.is(txnVersion(snapshot, 'w'), 4);
  assert.equal(snapshot.metadata.configuration, { 'delta.checkpointInterval': '2' });
  const nullPartition = snapshot.files.find((file) => file.path === NULL_PARTITION);
  assert.equal(nullPartition?.partitionValues, { event_type: null });
}

test('checkpoint: replay starts at the checkpoint named by a valid _last_checkpoint', async () => {
  const table = await checkpointedTable('{"version":2,"size":6}');
  // Deleting the commits the checkpoint covers proves they are not read.
  for (const version of [0, 1, 2]) await unlink(logFile(table, commitFileName(version)));
  const snapshot = await loadSnapshot(table);
  assert.is(snapshot.checkpointVersion, 2);
  assertCheckpointedState(snapshot);
  const fromCheckpoint = snapshot.files.find((file) => file.path === 'b.parquet');
  assert.equal(fromCheckpoint, {
    path: 'b.parquet',
    partitionValues: { event_type: 'Login' },
    size: 100,
    modificationTime: 1700000000000,
    dataChange: false,
    stats: '{"numRecords":10}',
  });
  assert.equal(snapshot.tombstones, [tombstoneOfA.remove]);
  // Time travel to before the checkpoint needs the deleted commits.
  await rejects(loadSnapshot(table, { version: 1 }), DeltaLogError, 'corrupt_log', /commits 0–1 are missing/);
});

test('_last_checkpoint that is garbage, empty, stale or points at a missing checkpoint is ignored', async () => {
  const hints = [
    '{not json',
    '',
    '[]',
    '{"version":"2"}',
    '{"version":7,"size":6}', // a checkpoint that does not exist
    '{"version":2,"size":6,"parts":3}', // a multi-part checkpoint that does not exist
    '{"version":0,"size":3}', // stale: older than the newest checkpoint
  ];
  for (const hint of hints) {
    const table = await checkpointedTable(hint);
    const snapshot = await loadSnapshot(table);
    assert.is(snapshot.checkpointVersion, 2, hint);
    assertCheckpointedState(snapshot);
  }
});

test('an incomplete multi-part checkpoint is skipped; a complete one is read', async () => {
  const table = await checkpointedTable('{"version":2,"size":6,"parts":2}');
  await unlink(logFile(table, checkpointFileName(2)));
  const part = (n: number) => `00000000000000000002.checkpoint.000000000${n}.0000000002.parquet`;
  await writeCheckpoint(table, part(1), [protocol(), tableConfig(), txn('w', 3)]);
  const partial = await loadSnapshot(table);
  assert.is(partial.checkpointVersion, undefined, 'part 2 of 2 is missing: replay from version 0');
  assertCheckpointedState(partial);

  const adds = [checkpointed(add('b.parquet')), checkpointed(nullPartitionAdd())];
  await writeCheckpoint(table, part(2), [...adds, tombstoneOfA]);
  const complete = await loadSnapshot(table);
  assert.is(complete.checkpointVersion, 2);
  assertCheckpointedState(complete);
});

test('a damaged checkpoint falls back to the commits; without them it is corrupt_log', async () => {
  const table = await checkpointedTable('{"version":2,"size":6}');
  await writeFile(logFile(table, checkpointFileName(2)), 'PAR1 this is not parquet');
  const snapshot = await loadSnapshot(table);
  assert.is(snapshot.checkpointVersion, undefined);
  assertCheckpointedState(snapshot);
  await unlink(logFile(table, commitFileName(0)));
  const unreadable = /Cannot read checkpoint .*00000000000000000002\.checkpoint\.parquet/;
  await rejects(loadSnapshot(table), DeltaLogError, 'corrupt_log', unreadable);
});

// --- protocol ----------------------------------------------------------------------------------------------------

async function tableWith(protocolAction: object, metaDataAction: object = metaData()): Promise<string> {
  const table = await newTable();
  await commit(table, 0, [protocolAction, metaDataAction, add('a.parquet')]);
  return table;
}

test('reader protocol: versions above 3, column mapping and unknown reader features are refused by name', async () => {
  const refused = async (pattern: RegExp, protocolAction: object, metaDataAction?: object) => {
    const table = await tableWith(protocolAction, metaDataAction);
    await rejects(loadSnapshot(table), DeltaProtocolError, 'unsupported_protocol', pattern);
  };
  await refused(/reader version 4/, protocol(4, 7));
  const nameMapping = metaData({ configuration: { 'delta.columnMapping.mode': 'name' } });
  await refused(/column mapping mode "name"/, protocol(2, 5), nameMapping);
  await refused(/columnMapping \(mode "name"\)/, protocol(3, 7, features('columnMapping')), nameMapping);
  await refused(/reader features .*: v2Checkpoint$/, protocol(3, 7, features('v2Checkpoint', 'timestampNtz')));
  await refused(/without a valid readerFeatures list/, protocol(3, 7));

  // Readable: reader 2 without column mapping in use, and reader features that need nothing from this reader.
  assert.is((await loadSnapshot(await tableWith(protocol(2, 5)))).files.length, 1);
  const harmless = ['timestampNtz', 'vacuumProtocolCheck', 'deletionVectors', 'columnMapping'];
  const readable = await loadSnapshot(await tableWith(protocol(3, 7, features(...harmless))));
  assert.equal(readable.protocol.readerFeatures, harmless);
});

test('assertWritable: writer 1–2, or 7 with appendOnly, invariants (unused), timestampNtz', async () => {
  const writable = async (protocolAction: object, metaDataAction?: object) =>
    assertWritable(await loadSnapshot(await tableWith(protocolAction, metaDataAction)));
  const refused = async (pattern: RegExp, protocolAction: object, metaDataAction?: object) => {
    const snapshot = await loadSnapshot(await tableWith(protocolAction, metaDataAction));
    throwsSync(() => assertWritable(snapshot), DeltaProtocolError, pattern);
  };
  await writable(protocol(1, 1));
  await writable(protocol(1, 2));
  const allowed = { ...features('timestampNtz'), ...writerFeatures('appendOnly', 'invariants', 'timestampNtz') };
  await writable(protocol(3, 7, allowed));

  await refused(/writer version 3/, protocol(1, 3));
  await refused(/writer version 5/, protocol(2, 5));
  const rowTracking = writerFeatures('appendOnly', 'rowTracking', 'domainMetadata');
  await refused(/features this writer does not implement: rowTracking, domainMetadata/, protocol(1, 7, rowTracking));
  await refused(/does not implement: vacuumProtocolCheck/, protocol(3, 7, features('vacuumProtocolCheck')));
  const invariant = { 'delta.invariants': '{"expression":{"expression":"n > 0"}}' };
  const schema = { type: 'struct', fields: [{ name: 'n', type: 'long', nullable: true, metadata: invariant }] };
  await refused(/column invariants \(n\)/, protocol(1, 2), metaData({ schema }));
  await refused(/column invariants \(n\)/, protocol(1, 7, writerFeatures('invariants')), metaData({ schema }));
  // Writer 7 without the invariants feature: the field metadata is inert.
  await writable(protocol(1, 7, writerFeatures('appendOnly')), metaData({ schema }));
});

// --- paths and DuckDB --------------------------------------------------------------------------------------------

test('dataFilePath decodes add.path once and joins it to the table; file: URIs and absolute paths work', () => {
  assert.is(dataFilePath('/data/t', 'event_type=A%253AB/part-0.parquet'), '/data/t/event_type=A%3AB/part-0.parquet');
  assert.is(dataFilePath('/data/t', 'event_type=Level%20Up/p+q.parquet'), '/data/t/event_type=Level Up/p+q.parquet');
  assert.is(dataFilePath('/data/t/', 'special%20p@%23h'), '/data/t/special p@#h');
  assert.is(dataFilePath('/data/t', 'file:///elsewhere/x%20y.parquet'), '/elsewhere/x y.parquet');
  assert.is(dataFilePath('/data/t', '/abs/p%25.parquet'), '/abs/p%.parquet');
  throwsSync(() => dataFilePath('/data/t', 's3://bucket/t/x.parquet'), DeltaLogError, /not on the local file system/);
  throwsSync(() => dataFilePath('/data/t', 'bad%zz.parquet'), DeltaLogError, /not a valid percent-encoded URI/);
});

test('duckdb(): one shared UTC connection; closeDuckDb() and a fresh start work', async () => {
  const first = await duckdb();
  assert.is(await duckdb(), first);
  const sql = `SELECT current_setting('TimeZone'), TIMESTAMPTZ '2024-01-01 10:00:00+02'::VARCHAR`;
  const tz = await first.runAndReadAll(sql);
  assert.equal(tz.getRows()[0], ['UTC', '2024-01-01 08:00:00+00']);
  const own = await openDuckDbConnection();
  assert.is.not(own, first);
  own.closeSync();
  await closeDuckDb();
  const second = await duckdb();
  assert.is.not(second, first);
  assert.equal((await second.runAndReadAll('SELECT 42')).getRows(), [[42]]);
});

test('DuckDB keeps nothing of the files it read: a long-running process reads many files once each', async () => {
  const table = await newTable();
  const connection = await duckdb();
  const cached = async () =>
    Number(
      (await connection.runAndReadAll("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'EXTERNAL_FILE_CACHE'")).getRows()[0]![0],
    );
  for (let i = 0; i < 5; i++) {
    const file = logFile(table, `0000${i}.parquet`);
    await connection.run(`COPY (SELECT range AS n, repeat('stats', 50) AS s FROM range(2000)) TO '${file}' (FORMAT parquet)`);
    const rows = (await connection.runAndReadAll(`SELECT count(*) FROM read_parquet('${file}')`)).getRows();
    assert.is(Number(rows[0]![0]), 2000);
  }
  assert.is(await cached(), 0);
});

test.after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

test.run();
