import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DELTA_LOG_DIR } from './actions.ts';
import type { DataType, Metadata, Protocol, StructField, StructType } from './actions.ts';
import { commitActions } from './commit.ts';
import { DeltaCommitConflictError } from './errors.ts';
import { latestVersion, loadSnapshot } from './snapshot.ts';

/** Spark's and delta-rs' default for a plain table (DELTA-FACTS 1.3): no table features needed. */
export const DEFAULT_PROTOCOL: Protocol = { minReaderVersion: 1, minWriterVersion: 2 };

export interface CreateTableOptions {
  readonly schema: StructType;
  readonly partitionColumns: readonly string[];
  readonly name?: string;
  readonly description?: string;
  readonly configuration?: Readonly<Record<string, string>>;
}

export interface CreateTableResult {
  /** False when the table already existed with matching schema, partitioning and configuration. */
  readonly created: boolean;
  readonly version: number;
  readonly protocol: Protocol;
  readonly metadata: Metadata;
}

/** The table exists with a schema, partitioning or configuration other than the one asked for. */
export class DeltaTableMismatchError extends Error {
  override readonly name = 'DeltaTableMismatchError';
  readonly code = 'table_mismatch';
  constructor(
    readonly tablePath: string,
    readonly differences: readonly string[],
  ) {
    super(
      `A Delta table already exists at ${tablePath} and differs from the one requested: ${differences.join('; ')}. ` +
        'Use another path, or migrate the existing table deliberately.',
    );
  }
}

/**
 * Creates the table (version 0: commitInfo, protocol, metaData) by exclusive creation of the first commit.
 * When the table already exists this is not an error if its current metadata matches; that answer is returned.
 */
export async function createTable(tablePath: string, options: CreateTableOptions): Promise<CreateTableResult> {
  validateSchema(options.schema, options.partitionColumns);
  if ((await latestVersion(tablePath)) !== undefined) return existing(tablePath, options);

  await mkdir(join(tablePath, DELTA_LOG_DIR), { recursive: true });
  const metadata: Metadata = {
    id: randomUUID(),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.description === undefined ? {} : { description: options.description }),
    format: { provider: 'parquet', options: {} },
    schemaString: schemaString(options.schema),
    partitionColumns: [...options.partitionColumns],
    configuration: { ...options.configuration },
    createdTime: Date.now(),
  };
  try {
    await commitActions(tablePath, 0, [{ protocol: DEFAULT_PROTOCOL }, { metaData: metadata }], {
      operation: 'CREATE TABLE',
      operationParameters: {
        isManaged: 'false',
        description: options.description,
        partitionBy: options.partitionColumns,
        properties: options.configuration ?? {},
      },
      isBlindAppend: true,
    });
  } catch (error) {
    // Another process created it at the same moment: fine if it asked for the same table.
    if (error instanceof DeltaCommitConflictError) return existing(tablePath, options);
    throw error;
  }
  return { created: true, version: 0, protocol: DEFAULT_PROTOCOL, metadata };
}

async function existing(tablePath: string, options: CreateTableOptions): Promise<CreateTableResult> {
  const snapshot = await loadSnapshot(tablePath);
  const differences: string[] = [];
  let current: unknown;
  try {
    current = JSON.parse(snapshot.metadata.schemaString);
  } catch {
    current = undefined;
  }
  if (canonicalJson(current) !== canonicalJson(JSON.parse(schemaString(options.schema)))) {
    differences.push(`schema is ${snapshot.metadata.schemaString}, requested ${schemaString(options.schema)}`);
  }
  if (JSON.stringify(snapshot.partitionColumns) !== JSON.stringify(options.partitionColumns)) {
    differences.push(
      `partitioned by ${JSON.stringify(snapshot.partitionColumns)}, requested ${JSON.stringify(options.partitionColumns)}`,
    );
  }
  for (const [key, value] of Object.entries(options.configuration ?? {})) {
    const actual = snapshot.metadata.configuration[key];
    if (actual !== value) differences.push(`configuration ${key} is ${JSON.stringify(actual ?? null)}, requested ${JSON.stringify(value)}`);
  }
  if (differences.length > 0) throw new DeltaTableMismatchError(tablePath, differences);
  return { created: false, version: snapshot.version, protocol: snapshot.protocol, metadata: snapshot.metadata };
}

/** Spark's schema JSON, each field as {name, type, nullable, metadata}. */
export function schemaString(schema: StructType): string {
  return JSON.stringify(normalizeType(schema));
}

function normalizeType(type: DataType): unknown {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'struct':
      return {
        type: 'struct',
        fields: type.fields.map((field: StructField) => ({
          name: field.name,
          type: normalizeType(field.type),
          nullable: field.nullable,
          metadata: field.metadata ?? {},
        })),
      };
    case 'array':
      return { type: 'array', elementType: normalizeType(type.elementType), containsNull: type.containsNull };
    case 'map':
      return {
        type: 'map',
        keyType: normalizeType(type.keyType),
        valueType: normalizeType(type.valueType),
        valueContainsNull: type.valueContainsNull,
      };
  }
}

function validateSchema(schema: StructType, partitionColumns: readonly string[]): void {
  if (schema.type !== 'struct' || schema.fields.length === 0) throw new Error('A table schema needs at least one column');
  const seen = new Set<string>();
  for (const field of schema.fields) {
    // The protocol: "All column names must be unique regardless of casing".
    const key = field.name.toLowerCase();
    if (field.name === '') throw new Error('Column names must not be empty');
    if (seen.has(key)) throw new Error(`Column ${JSON.stringify(field.name)} appears twice (names are case-insensitive)`);
    seen.add(key);
  }
  const byName = new Map(schema.fields.map((field) => [field.name, field]));
  if (new Set(partitionColumns).size !== partitionColumns.length) throw new Error('Partition columns must be distinct');
  for (const column of partitionColumns) {
    const field = byName.get(column);
    if (field === undefined) throw new Error(`Partition column ${JSON.stringify(column)} is not in the schema`);
    if (typeof field.type !== 'string') throw new Error(`Partition column ${JSON.stringify(column)} must have a primitive type`);
  }
  if (partitionColumns.length >= schema.fields.length) {
    throw new Error('At least one column must not be a partition column (Spark refuses tables without data columns)');
  }
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
