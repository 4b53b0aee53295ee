import { randomUUID } from 'node:crypto';
import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import type { AddFile, StructField, StructType } from './actions.ts';
import { openDuckDbConnection } from './duckdb.ts';
import { addPathFor, partitionDirectory } from './escaping.ts';
import type { PendingFile, WrittenFile } from './parquet-writer.ts';
import { copyToTemporary, DEFAULT_TARGET_FILE_ROWS, duckdbTypeFor, syncDirectories } from './parquet-writer.ts';
import { DEFAULT_NUM_INDEXED_COLS, computeStats, quoteIdentifier, serializeStats, statsColumns } from './stats.ts';

export interface DataFileBatchOptions {
  readonly tablePath: string;
  readonly schema: StructType;
  readonly partitionColumns: readonly string[];
  /** A file holds at most this many rows; a partition with more gets several files. */
  readonly targetFileRows?: number;
  /** `add.dataChange`; true for new data. */
  readonly dataChange?: boolean;
  /** `delta.dataSkippingNumIndexedCols`: how many data columns get stats (-1 = all). */
  readonly numIndexedCols?: number;
}

/**
 * Data files built up over time: rows go into a DuckDB temp table as they come (so a stream consumer can load
 * each chunk while the next one arrives, and its JavaScript objects die young), then `finish()` writes one snappy
 * Parquet file per partition (or per `targetFileRows`) with its stats. Nothing is visible until the caller
 * commits the returned adds; `abort()` removes whatever was written.
 */
export interface DataFileBatch {
  /** Appends rows: plain objects keyed by column name, timestamps as ISO-8601 text (or Dates). Throws on a bad row. */
  append(rows: readonly object[]): void;
  readonly rowCount: number;
  finish(): Promise<AddFile[]>;
  abort(): Promise<void>;
}

interface PlannedFile {
  readonly partitionValues: Readonly<Record<string, string | null>>;
  rows: number;
}

export async function openDataFileBatch(options: DataFileBatchOptions): Promise<DataFileBatch> {
  const { tablePath, schema, partitionColumns } = options;
  const targetFileRows = options.targetFileRows ?? DEFAULT_TARGET_FILE_ROWS;
  if (!Number.isInteger(targetFileRows) || targetFileRows < 1) throw new RangeError('targetFileRows must be an integer ≥ 1');
  const layout = columnLayout(schema, partitionColumns);
  const connection = await openDuckDbConnection();
  const table = `__delta_write_${randomUUID().replaceAll('-', '')}`;
  let appender: DuckDBAppender;
  try {
    await connection.run(
      `CREATE TEMP TABLE ${table} (__file INTEGER, ${layout.data
        .map((field) => `${quoteIdentifier(field.name)} ${duckdbTypeFor(field.type)}`)
        .join(', ')})`,
    );
    appender = await connection.createAppender(table, 'main', 'temp');
  } catch (error) {
    connection.closeSync();
    throw error;
  }

  const files: PlannedFile[] = [];
  /** Partition key (the value itself, or null, when there is one partition column) → the file being filled for it. */
  const open = new Map<string | null, number>();
  const names = layout.data.map((field) => field.name);
  const isString = layout.data.map((field) => field.type === 'string');
  /** The row being appended, one value per schema field: each property is read once. */
  const values: unknown[] = new Array(layout.fieldNames.length);
  let rowCount = 0;
  let done = false;
  let failed = false;

  const fileFor = (values: readonly unknown[], index: number): number => {
    // The partition key of the row, built without allocating in the usual case of one partition column (and no
    // object per row: the partition values are collected only when a file is opened).
    let key: string | null;
    if (layout.partitionAt.length === 1) {
      const field = layout.partitions[0]!;
      key = partitionValueText(values[layout.partitionAt[0]!]);
      if (key === null && !field.nullable) {
        throw new TypeError(`Row ${index}: partition column ${JSON.stringify(field.name)} is not nullable but is empty`);
      }
    } else {
      key = '';
      for (let p = 0; p < layout.partitionAt.length; p++) {
        const field = layout.partitions[p]!;
        const value = partitionValueText(values[layout.partitionAt[p]!]);
        if (value === null && !field.nullable) {
          throw new TypeError(`Row ${index}: partition column ${JSON.stringify(field.name)} is not nullable but is empty`);
        }
        // \u0000 separates, \u0001 marks null: neither can be confused with a value's own text.
        key += value === null ? '\u0001\u0000' : `${value}\u0000`;
      }
    }
    let file = open.get(key);
    if (file === undefined || files[file]!.rows >= targetFileRows) {
      const partitionValues: Record<string, string | null> = {};
      for (let p = 0; p < layout.partitionAt.length; p++) {
        partitionValues[layout.partitions[p]!.name] = partitionValueText(values[layout.partitionAt[p]!]);
      }
      file = files.length;
      files.push({ partitionValues, rows: 0 });
      open.set(key, file);
    }
    files[file]!.rows++;
    return file;
  };

  const cleanUp = async () => {
    try {
      appender.closeSync();
    } catch {
      // Already closed, or unusable after a failed row; the table goes anyway.
    }
    await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    connection.closeSync();
  };

  return {
    get rowCount() {
      return rowCount;
    },
    append(rows) {
      if (done || failed) throw new Error('This data file batch is finished');
      let column = 0;
      let value: unknown;
      for (let index = 0; index < rows.length; index++) {
        const row = rows[index] as Record<string, unknown>;
        for (let field = 0; field < values.length; field++) values[field] = row[layout.fieldNames[field]!];
        // Checked before anything of the row is appended, so a refused row leaves the batch usable.
        for (const field of layout.requiredAt) {
          if (values[field] === null || values[field] === undefined) {
            throw new TypeError(`Row ${rowCount + index}: column ${JSON.stringify(layout.fieldNames[field])} is not nullable but has no value`);
          }
        }
        const file = fileFor(values, rowCount + index);
        try {
          appender.appendInteger(file);
          for (column = 0; column < names.length; column++) {
            value = values[layout.dataAt[column]!];
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
        } catch (error) {
          // A half-appended row leaves the appender unusable: this batch can only be aborted now.
          failed = true;
          const shown = String(value).length > 60 ? `${String(value).slice(0, 60)}…` : String(value);
          throw new Error(
            `Cannot write column ${JSON.stringify(names[column])} value ${JSON.stringify(shown)}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
      rowCount += rows.length;
    },
    async finish() {
      if (done || failed) throw new Error('This data file batch is finished');
      done = true;
      const pending: PendingFile[] = [];
      const finishing: Promise<WrittenFile>[] = [];
      try {
        // Values are checked when the appender flushes: a bad timestamp fails here, before any file exists.
        appender.flushSync();
        appender.closeSync();
        if (files.length === 0) return [];
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
          const file = files[index]!;
          const fileStats = stats.get(index);
          if (fileStats === undefined || fileStats.numRecords !== file.rows) {
            throw new Error(`Stats for ${output.relativePath} do not match the ${file.rows} rows written`);
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
        if (error instanceof Error && /Could not convert|Conversion Error|invalid/i.test(error.message)) {
          throw new Error(`Cannot write a value: ${error.message}`, { cause: error });
        }
        throw error;
      } finally {
        await cleanUp();
      }
    },
    async abort() {
      if (done) return;
      done = true;
      await cleanUp();
    },
  };
}

interface ColumnLayout {
  readonly data: readonly StructField[];
  readonly partitions: readonly StructField[];
  /** Every field's name, in schema order; the indexes below point into it. */
  readonly fieldNames: readonly string[];
  readonly dataAt: readonly number[];
  readonly partitionAt: readonly number[];
  /** The non-nullable fields, in schema order. */
  readonly requiredAt: readonly number[];
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
  const fieldNames = schema.fields.map((field) => field.name);
  return {
    data,
    partitions,
    fieldNames,
    dataAt: data.map((field) => schema.fields.indexOf(field)),
    partitionAt: partitions.map((field) => schema.fields.indexOf(field)),
    requiredAt: schema.fields.flatMap((field, index) => (field.nullable ? [] : [index])),
  };
}

/** A partition value as `add.partitionValues` holds it (DELTA-FACTS 1.8); '' becomes null, as Spark does. */
function partitionValueText(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}
