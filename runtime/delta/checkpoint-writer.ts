import { randomUUID } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DELTA_LOG_DIR, checkpointFileName } from './actions.ts';
import type { AddFile, Metadata, RemoveFile } from './actions.ts';
import { LAST_CHECKPOINT_FILE, readLastCheckpoint } from './log-files.ts';
import { fsyncDirectory, fsyncFile, sqlString, temporaryName, withConnection } from './parquet-writer.ts';
import { loadSnapshot } from './snapshot.ts';
import type { Snapshot } from './snapshot.ts';

/**
 * Classic single-file checkpoints (`<v>.checkpoint.parquet`) in the column layout and order Spark writes
 * (DELTA-FACTS 1.9, checked against the golden table `basic-with-inserts-deletes-checkpoint`): Trino has failed on
 * checkpoints whose columns were ordered differently. Rows are one action each; DuckDB turns NDJSON into typed
 * STRUCT/MAP/LIST columns through `read_json` with an explicit column spec and writes them as snappy Parquet.
 */

/** Spark's `delta.checkpointInterval` default. */
export const DEFAULT_CHECKPOINT_INTERVAL = 10;

const MAP = 'MAP(VARCHAR, VARCHAR)';
const DELETION_VECTOR =
  'STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT, maxRowIndex BIGINT)';

/** Column name → DuckDB type, in Spark's order. */
export const CHECKPOINT_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['txn', 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)'],
  [
    'add',
    `STRUCT(path VARCHAR, partitionValues ${MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, ` +
      `tags ${MAP}, deletionVector ${DELETION_VECTOR}, baseRowId BIGINT, defaultRowCommitVersion BIGINT, stats VARCHAR)`,
  ],
  [
    'remove',
    `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, ` +
      `partitionValues ${MAP}, size BIGINT, deletionVector ${DELETION_VECTOR}, baseRowId BIGINT, defaultRowCommitVersion BIGINT)`,
  ],
  [
    'metaData',
    `STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options ${MAP}), ` +
      `schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${MAP}, createdTime BIGINT)`,
  ],
  ['protocol', 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])'],
  ['domainMetadata', 'STRUCT(domain VARCHAR, configuration VARCHAR, removed BOOLEAN)'],
];

export interface CheckpointInfo {
  readonly version: number;
  readonly path: string;
  /** Number of actions (rows) in the checkpoint, `_last_checkpoint.size`. */
  readonly size: number;
  readonly sizeInBytes: number;
  readonly numOfAddFiles: number;
}

/**
 * Writes the checkpoint of `snapshot.version` (whose JSON commit must already exist), then `_last_checkpoint`.
 * Holds protocol, metaData, txns, live adds, tombstones still inside `delta.deletedFileRetentionDuration` and
 * domain metadata; never commitInfo. A concurrent writer of the same checkpoint writes the same content, and
 * the rename lets the last one win.
 */
export async function writeCheckpoint(snapshot: Snapshot, options: { now?: number } = {}): Promise<CheckpointInfo> {
  const now = options.now ?? Date.now();
  const cutoff = tombstoneCutoff(snapshot, now);
  const tombstones = snapshot.tombstones.filter((remove) => (remove.deletionTimestamp ?? 0) > cutoff);
  const rows: unknown[] = [
    { protocol: projectProtocol(snapshot) },
    { metaData: projectMetadata(snapshot) },
    ...[...snapshot.txns.values()].map((txn) => ({
      txn: { appId: txn.appId, version: txn.version, lastUpdated: txn.lastUpdated ?? null },
    })),
    ...[...snapshot.domainMetadata.values()].map((domain) => ({
      domainMetadata: { domain: domain.domain, configuration: domain.configuration, removed: domain.removed },
    })),
    ...snapshot.files.map((add) => ({ add: projectAdd(add) })),
    ...tombstones.map((remove) => ({ remove: projectRemove(remove) })),
  ];

  const logPath = join(snapshot.tablePath, DELTA_LOG_DIR);
  const name = checkpointFileName(snapshot.version);
  const finalPath = join(logPath, name);
  const temporary = join(logPath, temporaryName(name));
  const input = join(tmpdir(), `delta-checkpoint-${randomUUID()}.ndjson`);
  await writeFile(input, rows.map((row) => JSON.stringify(row)).join('\n') + '\n', 'utf8');
  // One action per line; DuckDB reserves buffers of twice this, inside its memory limit.
  const MAX_ACTION_BYTES = 16 * 1024 * 1024;
  try {
    const columns = `{${CHECKPOINT_COLUMNS.map(([column, type]) => `${column}: ${sqlString(type)}`).join(', ')}}`;
    await withConnection((connection) =>
      connection.run(
        `COPY (SELECT ${CHECKPOINT_COLUMNS.map(([column]) => `"${column}"`).join(', ')}
               FROM read_json(${sqlString(input)}, format = 'newline_delimited', columns = ${columns},
                              maximum_object_size = ${MAX_ACTION_BYTES}))
         TO ${sqlString(temporary)} (FORMAT parquet, COMPRESSION snappy)`,
      ),
    );
    await fsyncFile(temporary);
    await rename(temporary, finalPath);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  } finally {
    await unlink(input).catch(() => undefined);
  }
  await fsyncDirectory(logPath);
  const info: CheckpointInfo = {
    version: snapshot.version,
    path: finalPath,
    size: rows.length,
    sizeInBytes: (await stat(finalPath)).size,
    numOfAddFiles: snapshot.files.length,
  };
  await writeLastCheckpoint(logPath, info);
  return info;
}

/** Tombstones older than the retention are dropped; an unreadable retention setting keeps them all (safe side). */
function tombstoneCutoff(snapshot: Snapshot, now: number): number {
  try {
    return now - deletedFileRetentionMs(snapshot.metadata);
  } catch {
    return -Infinity;
  }
}

/** Spark's rule: after committing `version`, checkpoint when `version % interval === 0` (never version 0). */
export function isCheckpointVersion(version: number, interval = DEFAULT_CHECKPOINT_INTERVAL): boolean {
  return version !== 0 && version % interval === 0;
}

/** Writes the checkpoint of `version` when Spark's rule gives it one; returns it, or null when it gets none. */
export async function maybeCheckpoint(
  tablePath: string,
  version: number,
  interval = DEFAULT_CHECKPOINT_INTERVAL,
): Promise<CheckpointInfo | null> {
  if (!isCheckpointVersion(version, interval)) return null;
  return writeCheckpoint(await loadSnapshot(tablePath, { version }));
}

/**
 * `_last_checkpoint` = {"version","size","sizeInBytes","numOfAddFiles"}; no `parts` for a single file (Trino
 * would look for parts that do not exist). Written via temp + rename so it is never empty, and never moved
 * backwards past a newer checkpoint another writer recorded.
 */
async function writeLastCheckpoint(logPath: string, info: CheckpointInfo): Promise<void> {
  const current = await readLastCheckpoint(logPath);
  if (current !== undefined && current.version > info.version) return;
  const text = JSON.stringify({
    version: info.version,
    size: info.size,
    sizeInBytes: info.sizeInBytes,
    numOfAddFiles: info.numOfAddFiles,
  });
  const temporary = join(logPath, temporaryName(LAST_CHECKPOINT_FILE));
  try {
    await writeFile(temporary, text, { encoding: 'utf8', flag: 'wx' });
    await fsyncFile(temporary);
    await rename(temporary, join(logPath, LAST_CHECKPOINT_FILE));
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(logPath);
}

/** For tests and tools: the `_last_checkpoint` text as written. */
export async function readLastCheckpointText(tablePath: string): Promise<string> {
  return readFile(join(tablePath, DELTA_LOG_DIR, LAST_CHECKPOINT_FILE), 'utf8');
}

// The tombstone retention decides both what a checkpoint keeps and what VACUUM may delete, hence here.

const DAY_MS = 24 * 60 * 60 * 1000;
/** `delta.deletedFileRetentionDuration` default: interval 1 week. */
export const DEFAULT_RETENTION_MS = 7 * DAY_MS;

const UNIT_MS: Record<string, number> = {
  week: 7 * DAY_MS,
  day: DAY_MS,
  hour: 60 * 60 * 1000,
  minute: 60 * 1000,
  second: 1000,
  millisecond: 1,
  microsecond: 0.001,
  nanosecond: 0.000001,
};

/** The table's `delta.deletedFileRetentionDuration` in ms (default 1 week). Throws on a value it cannot read. */
export function deletedFileRetentionMs(metadata: Pick<Metadata, 'configuration'>): number {
  const text = metadata.configuration['delta.deletedFileRetentionDuration'];
  if (text === undefined) return DEFAULT_RETENTION_MS;
  const parsed = parseIntervalMs(text);
  if (parsed === undefined) throw new Error(`Cannot read delta.deletedFileRetentionDuration ${JSON.stringify(text)}`);
  return parsed;
}

/** Spark's calendar-interval text as used by table properties: `interval 1 week`, `interval 2 days 12 hours`. */
export function parseIntervalMs(text: string): number | undefined {
  const words = text.trim().toLowerCase().split(/\s+/);
  if (words[0] === 'interval') words.shift();
  if (words.length === 0 || words.length % 2 !== 0) return undefined;
  let total = 0;
  for (let index = 0; index < words.length; index += 2) {
    const amount = Number(words[index]);
    const unit = (words[index + 1] as string).replace(/s$/, '');
    const ms = UNIT_MS[unit];
    if (!Number.isFinite(amount) || ms === undefined) return undefined;
    total += amount * ms;
  }
  return total;
}

// Each action is projected onto exactly the checkpoint's fields: read_json with a column spec must not meet keys
// it does not expect, and fields the log left out become nulls.

function projectProtocol(snapshot: Snapshot): unknown {
  const { protocol } = snapshot;
  return {
    minReaderVersion: protocol.minReaderVersion,
    minWriterVersion: protocol.minWriterVersion,
    readerFeatures: protocol.readerFeatures ?? null,
    writerFeatures: protocol.writerFeatures ?? null,
  };
}

function projectMetadata(snapshot: Snapshot): unknown {
  const { metadata } = snapshot;
  return {
    id: metadata.id,
    name: metadata.name ?? null,
    description: metadata.description ?? null,
    format: { provider: metadata.format.provider, options: metadata.format.options ?? {} },
    schemaString: metadata.schemaString,
    partitionColumns: metadata.partitionColumns,
    configuration: metadata.configuration ?? {},
    createdTime: metadata.createdTime ?? null,
  };
}

function projectAdd(add: AddFile): unknown {
  return {
    path: add.path,
    partitionValues: add.partitionValues ?? {},
    size: add.size,
    modificationTime: add.modificationTime,
    dataChange: add.dataChange,
    tags: add.tags ?? null,
    deletionVector: projectDeletionVector(add.deletionVector),
    baseRowId: add.baseRowId ?? null,
    defaultRowCommitVersion: add.defaultRowCommitVersion ?? null,
    stats: add.stats ?? null,
  };
}

function projectRemove(remove: RemoveFile): unknown {
  const extra = remove as { baseRowId?: number | null; defaultRowCommitVersion?: number | null };
  return {
    path: remove.path,
    deletionTimestamp: remove.deletionTimestamp ?? null,
    dataChange: remove.dataChange,
    extendedFileMetadata: remove.extendedFileMetadata ?? null,
    partitionValues: remove.partitionValues ?? null,
    size: remove.size ?? null,
    deletionVector: projectDeletionVector(remove.deletionVector),
    baseRowId: extra.baseRowId ?? null,
    defaultRowCommitVersion: extra.defaultRowCommitVersion ?? null,
  };
}

function projectDeletionVector(value: unknown): unknown {
  if (value === null || value === undefined || typeof value !== 'object') return null;
  const dv = value as Record<string, unknown>;
  return {
    storageType: dv['storageType'] ?? null,
    pathOrInlineDv: dv['pathOrInlineDv'] ?? null,
    offset: dv['offset'] ?? null,
    sizeInBytes: dv['sizeInBytes'] ?? null,
    cardinality: dv['cardinality'] ?? null,
    maxRowIndex: dv['maxRowIndex'] ?? null,
  };
}
