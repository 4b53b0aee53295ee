import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import type { AddFile, DataType, StructType } from './actions.ts';
import { openDataFileBatch } from './data-file-batch.ts';
import { openDuckDbConnection } from './duckdb.ts';

/**
 * Data files through DuckDB: rows are bulk-loaded into a typed temp table with the Appender, then one
 * `COPY (SELECT …) TO … (FORMAT parquet, COMPRESSION snappy)` per output file. Each file is written under a hidden
 * temporary name in its final directory, fsynced and renamed, so a crash leaves at most an orphan (VACUUM removes
 * it), never a half file under a name a commit could reference.
 */

/** Rows per file before a partition's rows are split over several files. */
export const DEFAULT_TARGET_FILE_ROWS = 1_000_000;

export interface WriteDataFilesOptions {
  readonly tablePath: string;
  readonly schema: StructType;
  readonly partitionColumns: readonly string[];
  /** Plain objects keyed by column name; timestamps as ISO-8601 strings (or Dates), absent or null = null. */
  readonly rows: readonly object[];
  /** A file holds at most this many rows; a partition with more gets several files. */
  readonly targetFileRows?: number;
  /** `add.dataChange`; true for new data. */
  readonly dataChange?: boolean;
  /** `delta.dataSkippingNumIndexedCols`: how many data columns get stats (-1 = all). */
  readonly numIndexedCols?: number;
}

/** The DuckDB type whose Parquet encoding is the one the Delta protocol maps `type` to. */
export function duckdbTypeFor(type: DataType): string {
  if (typeof type === 'string') {
    const simple: Record<string, string> = {
      string: 'VARCHAR',
      long: 'BIGINT',
      integer: 'INTEGER',
      short: 'SMALLINT',
      byte: 'TINYINT',
      float: 'FLOAT',
      double: 'DOUBLE',
      boolean: 'BOOLEAN',
      date: 'DATE',
      // TIMESTAMPTZ is what DuckDB writes as INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true); plain TIMESTAMP would be
      // adjusted=false, which Spark reads as timestamp_ntz.
      timestamp: 'TIMESTAMPTZ',
    };
    const mapped = simple[type];
    if (mapped !== undefined) return mapped;
    const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
    if (decimal && Number(decimal[1]) <= 38) return `DECIMAL(${decimal[1]}, ${decimal[2]})`;
  }
  const name = typeof type === 'string' ? type : type.type;
  throw new Error(
    `Delta type ${JSON.stringify(name)} is not supported by this writer (it writes flat tables of string, numeric, ` +
      'boolean, date and timestamp columns)',
  );
}

/** Writes `rows` as one snappy Parquet file per partition (more when a partition is very large). */
export async function writeDataFiles(options: WriteDataFilesOptions): Promise<AddFile[]> {
  const batch = await openDataFileBatch(options);
  try {
    batch.append(options.rows);
  } catch (error) {
    await batch.abort();
    throw error;
  }
  return batch.finish();
}

/**
 * Runs `fn` on a DuckDB connection of its own, closed afterwards. One DuckDB connection must not run two
 * statements at once (a second one closes the first's pending result), so every writer operation takes its own
 * and issues its statements strictly one after another.
 */
export async function withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const connection = await openDuckDbConnection();
  try {
    return await fn(connection);
  } finally {
    connection.closeSync();
  }
}

export interface WrittenFile {
  /** Relative to the table root, unescaped (what `decodeAddPath(add.path)` gives back). */
  readonly relativePath: string;
  readonly absolutePath: string;
  /** The partition directory relative to the table root ('' when unpartitioned). */
  readonly directory: string;
  readonly size: number;
  readonly modificationTime: number;
}

export interface CopyTarget {
  readonly tablePath: string;
  /** The partition directory relative to the table root, Hive-escaped ('' when unpartitioned). */
  readonly directory: string;
  readonly fileIndex?: number;
  readonly selectSql: string;
  readonly params?: Record<string, DuckDBValue>;
  readonly types?: Record<string, DuckDBType>;
}

/** A file COPY has written under its temporary name. */
export interface PendingFile {
  /** fsyncs the file, renames it to its final name and stats it. */
  finish(): Promise<WrittenFile>;
  /** Removes it (under either name): for a write that is abandoned before its commit. */
  discard(): Promise<void>;
}

/** `copyToTemporary` then `finish`. The caller fsyncs the directories once all its files are in place. */
export async function copyToDataFile(connection: DuckDBConnection, target: CopyTarget): Promise<WrittenFile> {
  const pending = await copyToTemporary(connection, target);
  try {
    return await pending.finish();
  } catch (error) {
    await pending.discard();
    throw error;
  }
}

/**
 * Runs `COPY (selectSql) TO <hidden temp name>` in the partition directory; the final name is
 * `part-NNNNN-<uuid>-c000.snappy.parquet`, given by `finish()`.
 */
export async function copyToTemporary(connection: DuckDBConnection, target: CopyTarget): Promise<PendingFile> {
  const absoluteDirectory = target.directory === '' ? target.tablePath : join(target.tablePath, target.directory);
  await mkdir(absoluteDirectory, { recursive: true });
  const name = `part-${String(target.fileIndex ?? 0).padStart(5, '0')}-${randomUUID()}-c000.snappy.parquet`;
  const temporary = join(absoluteDirectory, temporaryName(name));
  const absolutePath = join(absoluteDirectory, name);
  const copy = `COPY (${target.selectSql}) TO ${sqlString(temporary)} (FORMAT parquet, COMPRESSION snappy)`;
  try {
    try {
      await connection.run(copy, target.params, target.types);
    } catch (error) {
      // VACUUM removes partition directories it emptied; if it did so between our mkdir and the COPY, redo both.
      if (await directoryExists(absoluteDirectory)) throw error;
      await mkdir(absoluteDirectory, { recursive: true });
      await connection.run(copy, target.params, target.types);
    }
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  return {
    async finish() {
      await fsyncFile(temporary);
      // Data files are never overwritten (unique names), so a plain rename is safe here, unlike for commits.
      await rename(temporary, absolutePath);
      const info = await stat(absolutePath);
      return {
        relativePath: target.directory === '' ? name : `${target.directory}/${name}`,
        absolutePath,
        directory: target.directory,
        size: info.size,
        modificationTime: Math.floor(info.mtimeMs),
      };
    },
    async discard() {
      await Promise.all([unlink(temporary).catch(() => undefined), unlink(absolutePath).catch(() => undefined)]);
    },
  };
}

async function directoryExists(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

/** Hidden (readers and listings skip names starting with '.') and recognisable, so VACUUM can clean up crash debris. */
export function temporaryName(finalName: string): string {
  return `.${finalName}.${randomUUID().slice(0, 8)}.tmp`;
}

export const TEMPORARY_FILE = /^\..+\.[0-9a-f]{8}\.tmp$/;

/** A SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync of a directory makes a rename or a new entry in it durable; not every platform allows it (Windows). */
export async function fsyncDirectory(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw error;
  } finally {
    await handle?.close();
  }
}

/** fsyncs each partition directory and every ancestor up to the table root (new directories are entries too). */
export async function syncDirectories(tablePath: string, directories: readonly string[]): Promise<void> {
  const all = new Set<string>(['']);
  for (const directory of directories) {
    const segments = directory === '' ? [] : directory.split('/');
    for (let depth = 1; depth <= segments.length; depth++) all.add(segments.slice(0, depth).join('/'));
  }
  await Promise.all([...all].map((directory) => fsyncDirectory(directory === '' ? tablePath : join(tablePath, directory))));
}
