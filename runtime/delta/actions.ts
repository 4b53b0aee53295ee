/**
 * Delta log actions and schema types, as the Delta protocol (PROTOCOL.md of delta-io/delta) names them.
 * Optional fields are the ones the protocol lets a writer leave out.
 */

export interface Protocol {
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  readonly readerFeatures?: readonly string[] | null;
  readonly writerFeatures?: readonly string[] | null;
}

export interface Metadata {
  readonly id: string;
  readonly name?: string | null;
  readonly description?: string | null;
  readonly format: { readonly provider: string; readonly options: Readonly<Record<string, string>> };
  /** The table schema as Spark's JSON, serialised as a string. */
  readonly schemaString: string;
  readonly partitionColumns: readonly string[];
  readonly configuration: Readonly<Record<string, string>>;
  readonly createdTime?: number | null;
}

export interface AddFile {
  /** Relative (or absolute) URI of the data file, percent-encoded (RFC 2396). */
  readonly path: string;
  readonly partitionValues: Readonly<Record<string, string | null>>;
  readonly size: number;
  readonly modificationTime: number;
  readonly dataChange: boolean;
  /** JSON text: {numRecords, minValues, maxValues, nullCount}. */
  readonly stats?: string | null;
  readonly tags?: Readonly<Record<string, string>> | null;
  readonly deletionVector?: unknown;
  readonly baseRowId?: number | null;
  readonly defaultRowCommitVersion?: number | null;
  readonly clusteringProvider?: string | null;
}

export interface RemoveFile {
  readonly path: string;
  readonly deletionTimestamp?: number | null;
  readonly dataChange: boolean;
  readonly extendedFileMetadata?: boolean | null;
  readonly partitionValues?: Readonly<Record<string, string | null>> | null;
  readonly size?: number | null;
  readonly stats?: string | null;
  readonly tags?: Readonly<Record<string, string>> | null;
  readonly deletionVector?: unknown;
}

export interface Txn {
  readonly appId: string;
  readonly version: number;
  readonly lastUpdated?: number | null;
}

export type CommitInfo = Readonly<Record<string, unknown>>;

/** One line of a commit file. Actions this library does not interpret (cdc, domainMetadata…) pass through. */
export type Action =
  | { readonly protocol: Protocol }
  | { readonly metaData: Metadata }
  | { readonly add: AddFile }
  | { readonly remove: RemoveFile }
  | { readonly txn: Txn }
  | { readonly commitInfo: CommitInfo }
  | { readonly [other: string]: unknown };

/** Spark's JSON schema. */
export type DataType =
  | string // 'string' | 'long' | 'integer' | 'short' | 'byte' | 'float' | 'double' | 'boolean' | 'binary' | 'date' | 'timestamp' | 'timestamp_ntz' | 'decimal(p,s)'
  | StructType
  | { readonly type: 'array'; readonly elementType: DataType; readonly containsNull: boolean }
  | { readonly type: 'map'; readonly keyType: DataType; readonly valueType: DataType; readonly valueContainsNull: boolean };

export interface StructField {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface StructType {
  readonly type: 'struct';
  readonly fields: readonly StructField[];
}

/** The log directory and file names (20-digit zero-padded versions). */
export const DELTA_LOG_DIR = '_delta_log';

export function commitFileName(version: number): string {
  return `${String(version).padStart(20, '0')}.json`;
}

export function checkpointFileName(version: number): string {
  return `${String(version).padStart(20, '0')}.checkpoint.parquet`;
}

/** `domainMetadata` action (writer feature `domainMetadata`); a snapshot keeps the latest per domain, minus removed ones. */
export interface DomainMetadata {
  readonly domain: string;
  /** Domain-specific configuration, a JSON string. */
  readonly configuration: string;
  readonly removed: boolean;
}
