import { unlink } from 'node:fs/promises';
import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Action, AddFile, RemoveFile } from './actions.ts';
import { maybeCheckpoint } from './checkpoint-writer.ts';
import { commitActions } from './commit.ts';
import { DeltaCommitConflictError } from './errors.ts';
import { addPathFor, partitionDirectory } from './escaping.ts';
import { copyToDataFile, duckdbTypeFor, sqlString, syncDirectories, withConnection } from './parquet-writer.ts';
import type { WrittenFile } from './parquet-writer.ts';
import { DEFAULT_NUM_INDEXED_COLS, computeStats, quoteIdentifier, serializeStats, statsColumns } from './stats.ts';
import { assertWritable, dataFilePath, loadSnapshot } from './snapshot.ts';
import type { Snapshot } from './snapshot.ts';

/**
 * OPTIMIZE (compaction, DELTA-FACTS 1.10): per partition, bin-packs the live files smaller than the target size
 * and rewrites each bin as one file. One commit removes the old files and adds the new ones, all with
 * dataChange=false (the rows are the same, so streaming readers skip it). The old files stay on disk for readers
 * of older versions until VACUUM.
 */

export const DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024;

export interface OptimizeOptions {
  /** Files at least this big are left alone; bins are filled up to it. */
  readonly targetFileBytes?: number;
  /** A bin with fewer files is not worth rewriting. */
  readonly minFilesToCompact?: number;
  /** Commit attempts while other writers append meanwhile. Default 5. */
  readonly maxAttempts?: number;
  /** Checkpoint interval applied to the OPTIMIZE commit (Spark's rule). Default 10. */
  readonly checkpointInterval?: number;
}

export interface OptimizeResult {
  /** The OPTIMIZE commit, or null when no partition had enough small files. */
  readonly version: number | null;
  readonly filesRemoved: number;
  readonly filesAdded: number;
  readonly bytesRemoved: number;
  readonly bytesAdded: number;
  readonly partitionsOptimized: number;
}

export async function optimize(tablePath: string, options: OptimizeOptions = {}): Promise<OptimizeResult> {
  const targetFileBytes = options.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES;
  const minFilesToCompact = Math.max(2, options.minFilesToCompact ?? 2);
  const snapshot = await loadSnapshot(tablePath);
  assertWritable(snapshot);
  const bins = planBins(snapshot, targetFileBytes, minFilesToCompact);
  const none: OptimizeResult = { version: null, filesRemoved: 0, filesAdded: 0, bytesRemoved: 0, bytesAdded: 0, partitionsOptimized: 0 };
  if (bins.length === 0) return none;

  const written: WrittenFile[] = [];
  try {
    const adds: AddFile[] = [];
    await withConnection(async (connection) => {
      for (const bin of bins) {
        const { add, file } = await rewriteBin(connection, snapshot, bin);
        written.push(file);
        adds.push(add);
      }
    });
    await syncDirectories(snapshot.tablePath, written.map((file) => file.directory));

    const deletionTimestamp = Date.now();
    const removed = bins.flatMap((bin) => bin.files);
    const removes: RemoveFile[] = removed.map((add) => ({
      path: add.path,
      deletionTimestamp,
      dataChange: false,
      extendedFileMetadata: true,
      partitionValues: add.partitionValues,
      size: add.size,
      ...(add.tags ? { tags: add.tags } : {}),
    }));
    const actions: Action[] = [...removes.map((remove) => ({ remove })), ...adds.map((add) => ({ add }))];
    const bytesRemoved = removed.reduce((sum, add) => sum + add.size, 0);
    const bytesAdded = adds.reduce((sum, add) => sum + add.size, 0);
    const partitionsOptimized = new Set(bins.map((bin) => bin.key)).size;

    const version = await commitWithRebase(snapshot, actions, removed, options.maxAttempts ?? 5, {
      operation: 'OPTIMIZE',
      operationParameters: { predicate: '[]', zOrderBy: '[]', auto: false, targetFileBytes },
      operationMetrics: {
        numRemovedFiles: removed.length,
        numAddedFiles: adds.length,
        numRemovedBytes: bytesRemoved,
        numAddedBytes: bytesAdded,
        partitionsOptimized,
      },
      readVersion: snapshot.version,
      isBlindAppend: false,
      isolationLevel: 'SnapshotIsolation',
    });
    written.length = 0; // committed: the files belong to the table now
    try {
      await maybeCheckpoint(tablePath, version, options.checkpointInterval);
    } catch (error) {
      throw new Error(`OPTIMIZE committed version ${version}, but its checkpoint failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return { version, filesRemoved: removed.length, filesAdded: adds.length, bytesRemoved, bytesAdded, partitionsOptimized };
  } finally {
    // Not committed (an error or an abort): nothing references the new files, so they go now.
    await Promise.all(written.map((file) => unlink(file.absolutePath).catch(() => undefined)));
  }
}

interface Bin {
  readonly key: string;
  readonly partitionValues: Readonly<Record<string, string | null>>;
  readonly files: readonly AddFile[];
}

/** Smallest first, filled greedily up to the target; only bins of at least `minFiles` files are kept. */
function planBins(snapshot: Snapshot, targetFileBytes: number, minFiles: number): Bin[] {
  const partitions = new Map<string, AddFile[]>();
  for (const add of snapshot.files) {
    // Files with deletion vectors would need their deleted rows filtered out; this writer never makes them.
    if (add.deletionVector || add.size >= targetFileBytes) continue;
    const key = JSON.stringify(snapshot.partitionColumns.map((column) => add.partitionValues[column] ?? null));
    const files = partitions.get(key) ?? [];
    partitions.set(key, files);
    files.push(add);
  }
  const bins: Bin[] = [];
  for (const [key, files] of partitions) {
    files.sort((a, b) => a.size - b.size);
    let current: AddFile[] = [];
    let bytes = 0;
    const close = (): void => {
      if (current.length >= minFiles) bins.push({ key, partitionValues: (current[0] as AddFile).partitionValues, files: current });
      current = [];
      bytes = 0;
    };
    for (const file of files) {
      if (current.length > 0 && bytes + file.size > targetFileBytes) close();
      current.push(file);
      bytes += file.size;
    }
    close();
  }
  return bins;
}

/** Reads the bin's files with DuckDB and writes them as one file with the table's column types. */
async function rewriteBin(
  connection: DuckDBConnection,
  snapshot: Snapshot,
  bin: Bin,
): Promise<{ add: AddFile; file: WrittenFile }> {
  const paths = bin.files.map((add) => dataFilePath(snapshot.tablePath, add.path));
  const params = { files: listValue(paths) };
  const types = { files: LIST(VARCHAR) };
  // hive_partitioning off: partition values come from the log, never from directory names.
  const source = 'read_parquet($files, hive_partitioning = false, union_by_name = true)';
  const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`, params, types);
  const present = new Set(described.getRowObjects().map((row) => String(row['column_name'])));
  const partitionSet = new Set(snapshot.partitionColumns);
  const dataColumns = snapshot.schema.fields.filter((field) => !partitionSet.has(field.name));
  const selectList = dataColumns.map((field) => {
    const type = duckdbTypeFor(field.type);
    if (present.has(field.name)) return `CAST(${quoteIdentifier(field.name)} AS ${type}) AS ${quoteIdentifier(field.name)}`;
    // A column added to the schema after these files were written reads as null, as readers would see it.
    if (!field.nullable) throw new Error(`Files in ${bin.key} lack the required column ${field.name}`);
    return `CAST(NULL AS ${type}) AS ${quoteIdentifier(field.name)}`;
  });
  const file = await copyToDataFile(connection, {
    tablePath: snapshot.tablePath,
    directory: partitionDirectory(snapshot.partitionColumns, bin.partitionValues),
    selectSql: `SELECT ${selectList.join(', ')} FROM ${source}`,
    params,
    types,
  });
  try {
    const indexed = statsColumns(snapshot.schema, snapshot.partitionColumns, numIndexedCols(snapshot));
    const stats = (await computeStats(connection, `read_parquet(${sqlString(file.absolutePath)}, hive_partitioning = false)`, indexed)).get(0);
    const expected = sumRecords(bin.files);
    if (stats === undefined || (expected !== undefined && stats.numRecords !== expected)) {
      throw new Error(
        `Compacted file ${file.relativePath} has ${stats?.numRecords ?? 'no'} rows, the files it replaces have ${expected}; not committing`,
      );
    }
    const add: AddFile = {
      path: addPathFor(file.relativePath),
      partitionValues: bin.partitionValues,
      size: file.size,
      modificationTime: file.modificationTime,
      dataChange: false,
      stats: serializeStats(stats),
    };
    return { add, file };
  } catch (error) {
    await unlink(file.absolutePath).catch(() => undefined);
    throw error;
  }
}

/**
 * Commits at the next version; when another writer got there first, re-reads the log and tries again as long as
 * every file this OPTIMIZE removes is still live and the schema is unchanged (concurrent appends do not conflict
 * with compaction). Otherwise it aborts with `DeltaCommitConflictError`.
 */
async function commitWithRebase(
  snapshot: Snapshot,
  actions: readonly Action[],
  removed: readonly AddFile[],
  maxAttempts: number,
  options: Parameters<typeof commitActions>[3],
): Promise<number> {
  let version = snapshot.version + 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return (await commitActions(snapshot.tablePath, version, actions, options)).version;
    } catch (error) {
      if (!(error instanceof DeltaCommitConflictError) || attempt >= maxAttempts) throw error;
    }
    const current = await loadSnapshot(snapshot.tablePath);
    const live = new Set(current.files.map((add) => add.path));
    const gone = removed.filter((add) => !live.has(add.path));
    if (gone.length > 0) {
      throw new DeltaCommitConflictError(
        `OPTIMIZE of ${snapshot.tablePath} aborted: a concurrent commit removed ${gone.length} of the files it compacted`,
        current.version,
      );
    }
    if (
      current.metadata.schemaString !== snapshot.metadata.schemaString ||
      JSON.stringify(current.partitionColumns) !== JSON.stringify(snapshot.partitionColumns) ||
      JSON.stringify(current.protocol) !== JSON.stringify(snapshot.protocol)
    ) {
      throw new DeltaCommitConflictError(
        `OPTIMIZE of ${snapshot.tablePath} aborted: the table's schema or protocol changed meanwhile`,
        current.version,
      );
    }
    version = current.version + 1;
  }
}

function numIndexedCols(snapshot: Snapshot): number {
  const configured = Number(snapshot.metadata.configuration['delta.dataSkippingNumIndexedCols']);
  return Number.isInteger(configured) ? configured : DEFAULT_NUM_INDEXED_COLS;
}

function sumRecords(files: readonly AddFile[]): number | undefined {
  let total = 0;
  for (const add of files) {
    if (!add.stats) return undefined;
    const parsed = JSON.parse(add.stats) as { numRecords?: unknown };
    if (typeof parsed.numRecords !== 'number') return undefined;
    total += parsed.numRecords;
  }
  return total;
}
