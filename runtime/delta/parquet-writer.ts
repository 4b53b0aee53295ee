import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import type { AddFile, DataType, StructField, StructType } from './actions.ts';
import { openDuckDbConnection } from './duckdb.ts';
import { addPathFor, partitionDirectory } from './escaping.ts';
import { DEFAULT_NUM_INDEXED_COLS, computeStats, quoteIdentifier, serializeStats, statsColumns } from './stats.ts';

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
  /** A partition with more rows is split evenly into files of at most this many rows. */
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
  const { tablePath, schema, partitionColumns, rows } = options;
  const targetFileRows = options.targetFileRows ?? DEFAULT_TARGET_FILE_ROWS;
  if (!Number.isInteger(targetFileRows) || targetFileRows < 1) throw new RangeError('targetFileRows must be an integer ≥ 1');
  const layout = columnLayout(schema, partitionColumns);
  if (rows.length === 0) return [];

  const files = planFiles(rows, layout, targetFileRows);
  return withConnection(async (connection) => {
    const table = `__delta_write_${randomUUID().replaceAll('-', '')}`;
    await connection.run(
      `CREATE TEMP TABLE ${table} (__file INTEGER, ${layout.data
        .map((field) => `${quoteIdentifier(field.name)} ${duckdbTypeFor(field.type)}`)
        .join(', ')})`,
    );
    const pending: PendingFile[] = [];
    const finishing: Promise<WrittenFile>[] = [];
    try {
      await appendRows(connection, table, files, layout.data);
      const selectList = layout.data.map((field) => quoteIdentifier(field.name)).join(', ');
      for (const [index, file] of files.entries()) {
        const copied = await copyToTemporary(connection, {
          tablePath,
          directory: partitionDirectory(partitionColumns, file.partitionValues),
          fileIndex: index,
          selectSql: `SELECT ${selectList} FROM ${table} WHERE __file = ${index}`,
        });
        pending.push(copied);
        // fsync + rename need no DuckDB, so they overlap the next COPY; a failure surfaces at Promise.all below.
        const finished = copied.finish();
        finished.catch(() => undefined);
        finishing.push(finished);
      }
      const outputs = await Promise.all(finishing);
      const indexed = statsColumns(schema, partitionColumns, options.numIndexedCols ?? DEFAULT_NUM_INDEXED_COLS);
      const stats = await computeStats(connection, table, indexed, '__file');
      await syncDirectories(tablePath, outputs.map((output) => output.directory));
      return outputs.map((output, index) => {
        const file = files[index] as PlannedFile;
        const fileStats = stats.get(index);
        if (fileStats === undefined || fileStats.numRecords !== file.rows.length) {
          throw new Error(`Stats for ${output.relativePath} do not match the ${file.rows.length} rows written`);
        }
        return {
          path: addPathFor(output.relativePath),
          partitionValues: file.partitionValues,
          size: output.size,
          modificationTime: output.modificationTime,
          dataChange: options.dataChange ?? true,
          stats: serializeStats(fileStats),
        };
      });
    } catch (error) {
      // Nothing references these files yet; removing them now saves VACUUM the work.
      await Promise.allSettled(finishing);
      await Promise.all(pending.map((file) => file.discard()));
      throw error;
    } finally {
      await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    }
  });
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

interface ColumnLayout {
  readonly data: readonly StructField[];
  readonly partitions: readonly StructField[];
  readonly required: readonly string[];
}

function columnLayout(schema: StructType, partitionColumns: readonly string[]): ColumnLayout {
  const byName = new Map(schema.fields.map((field) => [field.name, field]));
  const partitions = partitionColumns.map((name) => {
    const field = byName.get(name);
    if (field === undefined) throw new Error(`Partition column ${JSON.stringify(name)} is not in the schema`);
    if (typeof field.type !== 'string') throw new Error(`Partition column ${JSON.stringify(name)} must have a primitive type`);
    return field;
  });
  const partitionSet = new Set(partitionColumns);
  const data = schema.fields.filter((field) => !partitionSet.has(field.name));
  if (data.length === 0) throw new Error('A Delta table needs at least one column that is not a partition column');
  for (const field of data) duckdbTypeFor(field.type); // refuses unsupported types before anything is written
  return { data, partitions, required: schema.fields.filter((field) => !field.nullable).map((field) => field.name) };
}

interface PlannedFile {
  readonly partitionValues: Readonly<Record<string, string | null>>;
  readonly rows: readonly Record<string, unknown>[];
}

/** Groups rows by partition values (checking required columns on the way) and splits big groups into files. */
function planFiles(rows: readonly object[], layout: ColumnLayout, targetFileRows: number): PlannedFile[] {
  const groups = new Map<string, { values: Record<string, string | null>; rows: Record<string, unknown>[] }>();
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as Record<string, unknown>;
    for (const name of layout.required) {
      const value = row[name];
      if (value === null || value === undefined) {
        throw new TypeError(`Row ${index}: column ${JSON.stringify(name)} is not nullable but has no value`);
      }
    }
    let key = '';
    const values: Record<string, string | null> = {};
    for (const field of layout.partitions) {
      const value = partitionValueText(row[field.name]);
      if (value === null && !field.nullable) {
        throw new TypeError(`Row ${index}: partition column ${JSON.stringify(field.name)} is not nullable but is empty`);
      }
      values[field.name] = value;
      // \u0000 separates, \u0001 marks null: neither can be confused with a value's own text.
      key += value === null ? '\u0001\u0000' : `${value}\u0000`;
    }
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { values, rows: [] }));
    group.rows.push(row);
  }
  const files: PlannedFile[] = [];
  for (const group of groups.values()) {
    const count = Math.ceil(group.rows.length / targetFileRows);
    const perFile = Math.ceil(group.rows.length / count);
    for (let start = 0; start < group.rows.length; start += perFile) {
      files.push({ partitionValues: group.values, rows: group.rows.slice(start, start + perFile) });
    }
  }
  return files;
}

/** A partition value as `add.partitionValues` holds it (DELTA-FACTS 1.8); '' becomes null, as Spark does. */
function partitionValueText(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

async function appendRows(
  connection: DuckDBConnection,
  table: string,
  files: readonly PlannedFile[],
  columns: readonly StructField[],
): Promise<void> {
  const appender = await connection.createAppender(table);
  const names = columns.map((field) => field.name);
  const isString = columns.map((field) => field.type === 'string');
  let closed = false;
  let column = 0;
  let value: unknown;
  try {
    for (const [fileIndex, file] of files.entries()) {
      for (const row of file.rows) {
        appender.appendInteger(fileIndex);
        for (column = 0; column < names.length; column++) {
          value = row[names[column] as string];
          if (value === null || value === undefined) {
            appender.appendNull();
          } else if (isString[column]) {
            if (typeof value !== 'string') throw new TypeError(`needs a string, got ${typeof value}`);
            appender.appendVarchar(value);
          } else {
            // DuckDB casts the text to the column type (TIMESTAMPTZ parses ISO-8601 with its zone), in C++.
            appender.appendVarchar(value instanceof Date ? value.toISOString() : String(value));
          }
        }
        appender.endRow();
      }
    }
    appender.flushSync();
    appender.closeSync();
    closed = true;
  } catch (error) {
    const shown = String(value).length > 60 ? `${String(value).slice(0, 60)}…` : String(value);
    throw new Error(
      `Cannot write column ${JSON.stringify(names[column])} value ${JSON.stringify(shown)}: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    if (!closed) {
      try {
        appender.closeSync();
      } catch {
        // A failed row leaves the appender unusable; the temp table is dropped by the caller anyway.
      }
    }
  }
}
