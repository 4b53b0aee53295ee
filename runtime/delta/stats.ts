import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { DataType, StructField, StructType } from './actions.ts';

/**
 * Per-file statistics (`add.stats`, DELTA-FACTS 1.6), computed by DuckDB aggregates over exactly the values that
 * go into the file. Engines skip files with min/max and answer COUNT(*) from numRecords, so a wrong value here is a
 * silently wrong query result: every rule below errs towards a looser bound or no bound at all.
 */

/** Spark's `spark.databricks.io.skipping.stringPrefixLength`. */
export const STRING_PREFIX_LENGTH = 32;
/** Spark's and delta-rs' `delta.dataSkippingNumIndexedCols` default. */
export const DEFAULT_NUM_INDEXED_COLS = 32;

/** A JSON number kept as text, for values a JS number would round (longs beyond 2^53, decimals). */
export interface RawJsonNumber {
  readonly json: string;
}
export type StatValue = string | number | RawJsonNumber;

export interface FileStats {
  readonly numRecords: number;
  readonly minValues: Readonly<Record<string, StatValue>>;
  readonly maxValues: Readonly<Record<string, StatValue>>;
  readonly nullCount: Readonly<Record<string, number>>;
}

type StatKind = 'string' | 'timestamp' | 'date' | 'int' | 'long' | 'float' | 'decimal' | 'nullCountOnly';

function statKind(type: DataType): StatKind {
  if (typeof type !== 'string') return 'nullCountOnly';
  switch (type) {
    case 'string':
      return 'string';
    case 'timestamp':
    case 'timestamp_ntz':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'integer':
    case 'short':
    case 'byte':
      return 'int';
    case 'long':
      return 'long';
    case 'float':
    case 'double':
      return 'float';
    default:
      return /^decimal\(\d+,\s*\d+\)$/.test(type) ? 'decimal' : 'nullCountOnly';
  }
}

/** The columns that get stats: the first `numIndexedCols` data (non-partition) columns; -1 means all. */
export function statsColumns(
  schema: StructType,
  partitionColumns: readonly string[],
  numIndexedCols = DEFAULT_NUM_INDEXED_COLS,
): StructField[] {
  const partitions = new Set(partitionColumns);
  const data = schema.fields.filter((field) => !partitions.has(field.name));
  return numIndexedCols < 0 ? data : data.slice(0, numIndexedCols);
}

/** Spark's `truncateMinStringAgg`: a prefix of 32 UTF-16 units, never splitting a surrogate pair. */
export function truncateMinString(value: string, prefixLength = STRING_PREFIX_LENGTH): string {
  if (value.length <= prefixLength) return value;
  const splitsPair = isHighSurrogate(value.charCodeAt(prefixLength - 1)) && isLowSurrogate(value.charCodeAt(prefixLength));
  return value.slice(0, splitsPair ? prefixLength + 1 : prefixLength);
}

const ASCII_MAX = '\u007f';
const UTF8_MAX = '\u{10ffff}'; // two UTF-16 units; the largest code point, so the largest UTF-8 sequence

/**
 * Spark's `truncateMaxStringAgg` (Delta 3.x): a prefix plus a tie-breaker that sorts after the cut-off text in
 * UTF-8 byte order, so the result stays ≥ the real max. Undefined when no bound fits in 2× the prefix length
 * (a run of U+10FFFF); the caller then leaves the column out of maxValues, which readers treat as "unknown".
 */
export function truncateMaxString(value: string, prefixLength = STRING_PREFIX_LENGTH): string | undefined {
  if (value.length <= prefixLength) return value;
  const limit = 2 * prefixLength;
  let length = truncateMinString(value, prefixLength).length;
  while (length <= limit) {
    if (length >= value.length) return value;
    if (value.startsWith(UTF8_MAX, length)) {
      length += 2;
    } else if (value.charCodeAt(length) < ASCII_MAX.charCodeAt(0)) {
      return value.slice(0, length) + ASCII_MAX;
    } else {
      return value.slice(0, length) + UTF8_MAX;
    }
  }
  return undefined;
}

/**
 * A timestamp stat: UTC `…Z` with milliseconds (the protocol truncates stats to ms). The min is floored; the max
 * is rounded up to the next millisecond when it has sub-millisecond digits, so the bound still holds for readers
 * that do not widen it themselves.
 */
export function timestampStat(epochMicros: bigint, bound: 'min' | 'max'): string {
  let millis = epochMicros / 1000n;
  const remainder = epochMicros % 1000n;
  // BigInt division truncates toward zero: fix up to floor (min) or ceiling (max).
  if (bound === 'min' && remainder < 0n) millis -= 1n;
  if (bound === 'max' && remainder > 0n) millis += 1n;
  return new Date(Number(millis)).toISOString();
}

/** `add.stats` as JSON text, in Spark's key order, with raw numbers written as they are. */
export function serializeStats(stats: FileStats): string {
  const values = (record: Readonly<Record<string, StatValue>>): string =>
    `{${Object.entries(record)
      .map(([name, value]) => `${JSON.stringify(name)}:${typeof value === 'object' ? value.json : JSON.stringify(value)}`)
      .join(',')}}`;
  return (
    `{"numRecords":${stats.numRecords},"minValues":${values(stats.minValues)},"maxValues":${values(stats.maxValues)},` +
    `"nullCount":${JSON.stringify(stats.nullCount)}}`
  );
}

/**
 * DuckDB aggregates for `columns` over `fromSql` (a table name or a parenthesised query), one result per value of
 * `groupBy` when given (the writer groups by output file), else one for the whole relation (key 0).
 * String min/max come from DuckDB, which compares VARCHAR by UTF-8 bytes as Delta readers do.
 */
export async function computeStats(
  connection: DuckDBConnection,
  fromSql: string,
  columns: readonly StructField[],
  groupBy?: string,
): Promise<Map<number, FileStats>> {
  const select: string[] = [groupBy === undefined ? '0 AS "key"' : `${quoteIdentifier(groupBy)} AS "key"`, 'count(*) AS "rows"'];
  columns.forEach((field, index) => {
    const column = quoteIdentifier(field.name);
    select.push(`count(${column}) AS "n${index}"`);
    const kind = statKind(field.type);
    if (kind === 'nullCountOnly') return;
    let [min, max] = [`min(${column})`, `max(${column})`];
    if (kind === 'timestamp') [min, max] = [`epoch_us(${min})`, `epoch_us(${max})`];
    else if (kind === 'date' || kind === 'decimal' || kind === 'long') [min, max] = [`CAST(${min} AS VARCHAR)`, `CAST(${max} AS VARCHAR)`];
    else if (kind === 'float') [min, max] = [`CAST(${min} AS DOUBLE)`, `CAST(${max} AS DOUBLE)`];
    select.push(`${min} AS "min${index}"`, `${max} AS "max${index}"`);
  });
  const sql = `SELECT ${select.join(', ')} FROM ${fromSql}${groupBy === undefined ? '' : ` GROUP BY ${quoteIdentifier(groupBy)}`}`;
  const reader = await connection.runAndReadAll(sql);
  const result = new Map<number, FileStats>();
  for (const row of reader.getRowObjects()) result.set(Number(row['key']), statsFromRow(columns, row));
  return result;
}

function statsFromRow(columns: readonly StructField[], row: Record<string, DuckDBValue>): FileStats {
  const numRecords = Number(row['rows']);
  const minValues: Record<string, StatValue> = {};
  const maxValues: Record<string, StatValue> = {};
  const nullCount: Record<string, number> = {};
  columns.forEach((field, index) => {
    nullCount[field.name] = numRecords - Number(row[`n${index}`]);
    const min = row[`min${index}`];
    const max = row[`max${index}`];
    // All-null columns (and empty files) appear only in nullCount, as Spark writes them.
    if (min === null || min === undefined || max === null || max === undefined) return;
    const kind = statKind(field.type);
    switch (kind) {
      case 'string': {
        minValues[field.name] = truncateMinString(String(min));
        const bound = truncateMaxString(String(max));
        if (bound !== undefined) maxValues[field.name] = bound;
        break;
      }
      case 'timestamp':
        minValues[field.name] = timestampStat(BigInt(min as bigint), 'min');
        maxValues[field.name] = timestampStat(BigInt(max as bigint), 'max');
        break;
      case 'date':
        minValues[field.name] = String(min);
        maxValues[field.name] = String(max);
        break;
      case 'int':
        minValues[field.name] = Number(min);
        maxValues[field.name] = Number(max);
        break;
      case 'long':
      case 'decimal':
        minValues[field.name] = { json: String(min) };
        maxValues[field.name] = { json: String(max) };
        break;
      case 'float':
        // NaN and infinities have no JSON form; without a bound the file is simply never skipped.
        if (Number.isFinite(min) && Number.isFinite(max)) {
          minValues[field.name] = Number(min);
          maxValues[field.name] = Number(max);
        }
        break;
      case 'nullCountOnly':
        break;
    }
  });
  return { numRecords, minValues, maxValues, nullCount };
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
