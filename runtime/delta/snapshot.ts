import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  Action,
  AddFile,
  DataType,
  DomainMetadata,
  Metadata,
  Protocol,
  RemoveFile,
  StructType,
  Txn,
} from './actions.ts';
import { readCheckpointActions } from './checkpoint-reader.ts';
import { DeltaLogError, DeltaProtocolError, DeltaTableNotFoundError, DeltaVersionNotFoundError } from './errors.ts';
import { listLog, newestVersion, readCommit, readCommitFile, readLastCheckpoint } from './log-files.ts';
import type { CheckpointFiles, LastCheckpoint, LogListing } from './log-files.ts';

export { latestVersion, readCommit } from './log-files.ts';

/** A table's state at one version, from log replay. */
export interface Snapshot {
  readonly tablePath: string;
  readonly version: number;
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  readonly schema: StructType;
  readonly partitionColumns: readonly string[];
  /** Live data files: adds not removed later, keyed by path (and deletion vector). */
  readonly files: readonly AddFile[];
  /** Removes still in the log (VACUUM's input); none expired here, VACUUM applies the retention. */
  readonly tombstones: readonly RemoveFile[];
  /** Latest txn per appId. */
  readonly txns: ReadonlyMap<string, Txn>;
  /** Latest domainMetadata per domain, removed domains left out. Writers must carry unknown domains forward. */
  readonly domainMetadata: ReadonlyMap<string, DomainMetadata>;
  /** The checkpoint the replay started from, if any. */
  readonly checkpointVersion: number | undefined;
  /**
   * Commit time (ms) of each JSON commit replayed after the checkpoint: `inCommitTimestamp`, else
   * `commitInfo.timestamp`; versions whose commit has neither are absent.
   */
  readonly commitTimestamps: ReadonlyMap<number, number>;
  /** Sum of `numRecords` over live files; undefined when any file lacks it in its stats. */
  readonly numRecords: number | undefined;
  /** Sum of the live files' sizes in bytes. */
  readonly sizeInBytes: number;
}

export interface LoadSnapshotOptions {
  /** Time travel: the version to load; the latest when left out. */
  readonly version?: number;
}

/**
 * Replays the log of the table at `tablePath` (a directory path) up to `options.version` (default: latest):
 * the newest complete checkpoint at or before that version, then the JSON commits after it, in order.
 * Refuses tables whose protocol this reader does not implement (`DeltaProtocolError`), broken logs
 * (`DeltaLogError`), missing tables (`DeltaTableNotFoundError`) and versions the log does not have
 * (`DeltaVersionNotFoundError`).
 */
export async function loadSnapshot(tablePath: string, options: LoadSnapshotOptions = {}): Promise<Snapshot> {
  const listing = await listLog(tablePath);
  const latest = newestVersion(listing);
  if (latest === undefined) {
    throw new DeltaTableNotFoundError(tablePath, `No Delta table at ${tablePath}: _delta_log holds no commit yet`);
  }
  const target = options.version ?? latest;
  if (!Number.isSafeInteger(target) || target < 0) {
    const message = `Version ${target} is not a valid Delta version (an integer ≥ 0)`;
    throw new DeltaVersionNotFoundError(tablePath, target, message);
  }
  if (target > latest) {
    throw new DeltaVersionNotFoundError(
      tablePath,
      target,
      `Version ${target} of ${tablePath} does not exist: the latest version is ${latest}`,
    );
  }

  const hint = await readLastCheckpoint(listing.logPath);
  const starts: (CheckpointFiles | undefined)[] = [...checkpointCandidates(listing, hint, target), undefined];
  let readError: unknown;
  for (const checkpoint of starts) {
    const from = checkpoint === undefined ? 0 : checkpoint.version + 1;
    const missing = missingVersions(listing, from, target);
    if (missing.length > 0) {
      // An older starting point needs even more commits, so nothing further down the list can do better.
      if (readError !== undefined) throw readError;
      throw gapError(tablePath, listing, missing, checkpoint, target);
    }
    let checkpointActions: Action[] = [];
    if (checkpoint !== undefined) {
      try {
        checkpointActions = await readCheckpointActions(checkpoint.paths);
      } catch (error) {
        // A damaged checkpoint is survivable while the commits it summarises are still in the log.
        readError ??= error;
        continue;
      }
    }
    return replay(tablePath, listing, checkpoint, checkpointActions, target);
  }
  throw readError;
}

/**
 * The snapshot at `version`, built from `base` (an earlier snapshot of the same table) and the JSON commits after
 * it. Nothing else is read: no listing of the log and no checkpoint, so a writer that keeps its snapshot pays for
 * the commits since, not for the whole table each time. Throws `DeltaVersionNotFoundError` when a commit in
 * between is missing (the log was cleaned up past `base`) or `version` is before `base`; `loadSnapshot` then
 * starts afresh.
 */
export async function advanceSnapshot(base: Snapshot, version: number): Promise<Snapshot> {
  if (!Number.isSafeInteger(version) || version < base.version) {
    const message = `Cannot advance the snapshot of ${base.tablePath} at version ${base.version} to version ${version}`;
    throw new DeltaVersionNotFoundError(base.tablePath, version, message);
  }
  if (version === base.version) return base;
  const state = ReplayState.from(base);
  for (let next = base.version + 1; next <= version; next++) {
    state.applyCommit(await readCommit(base.tablePath, next), next);
  }
  return state.finish(version, base.checkpointVersion);
}

/** The latest `txn.version` the table holds for `appId` (a writer's stream position), or undefined. */
export function txnVersion(snapshot: Pick<Snapshot, 'txns'>, appId: string): number | undefined {
  return snapshot.txns.get(appId)?.version;
}

/**
 * The local file of an `add`/`remove` path: URI-decoded once (the protocol stores RFC 2396-encoded paths, so
 * a directory `k=a%3Ab` appears as `k=a%253Ab`) and resolved against the table; `file:` URIs are accepted.
 */
export function dataFilePath(tablePath: string, addPath: string): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(addPath)) {
    if (!addPath.toLowerCase().startsWith('file:')) {
      throw new DeltaLogError(`Data file ${addPath} is not on the local file system (only file: URIs are supported)`);
    }
    try {
      return fileURLToPath(addPath);
    } catch (error) {
      throw new DeltaLogError(`Data file URI ${addPath} is not a valid file: URI`, { cause: error });
    }
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(addPath);
  } catch (error) {
    throw new DeltaLogError(`Data file path ${addPath} is not a valid percent-encoded URI`, { cause: error });
  }
  return isAbsolute(decoded) ? decoded : resolve(tablePath, decoded);
}

/**
 * Refuses to let a writer append to a table whose writer protocol asks for more than blind appends with
 * statistics: writer versions 1–2 (without column invariants in use), or 7 with only the writer features in
 * WRITER_FEATURES. Reading is checked by `loadSnapshot` already.
 */
export function assertWritable(snapshot: Snapshot): void {
  const { protocol, tablePath } = snapshot;
  const version = protocol.minWriterVersion;
  const invariants = invariantColumns(snapshot.schema);
  if (version === 1 || version === 2) {
    if (version === 2 && invariants.length > 0) {
      throw new DeltaProtocolError(
        `Table ${tablePath} has column invariants (${invariants.join(', ')}) that this writer cannot enforce`,
      );
    }
    return;
  }
  if (version !== 7) {
    throw new DeltaProtocolError(
      `Table ${tablePath} requires Delta writer version ${version}; this writer supports writer versions 1, 2 and 7 ` +
        `(with table features ${[...WRITER_FEATURES].join(', ')})`,
    );
  }
  const writerFeatures = featureList(protocol.writerFeatures, 'writerFeatures', tablePath);
  // Reader features must also be writer features; checking both guards against a table that lists one side only.
  const readerFeatures =
    protocol.readerFeatures == null ? [] : featureList(protocol.readerFeatures, 'readerFeatures', tablePath);
  const unsupported = [...new Set([...writerFeatures, ...readerFeatures])].filter((name) => !WRITER_FEATURES.has(name));
  if (unsupported.length > 0) {
    throw new DeltaProtocolError(
      `Table ${tablePath} needs table features this writer does not implement: ${unsupported.join(', ')} ` +
        `(supported for writing: ${[...WRITER_FEATURES].join(', ')})`,
    );
  }
  if (writerFeatures.includes('invariants') && invariants.length > 0) {
    throw new DeltaProtocolError(
      `Table ${tablePath} has column invariants (${invariants.join(', ')}) that this writer cannot enforce`,
    );
  }
}

/**
 * Writer features a blind appender honours: `appendOnly` (it only appends; OPTIMIZE rewrites with
 * dataChange=false, which append-only tables allow), `invariants` while no column declares one, and
 * `timestampNtz` (it writes no timestamp_ntz values of its own).
 */
const WRITER_FEATURES = new Set(['appendOnly', 'invariants', 'timestampNtz']);

/**
 * Reader features this reader honours. `deletionVectors` and `columnMapping` only while they change nothing
 * for a reader: no live file has a DV, and the column mapping mode is `none`.
 */
const READER_FEATURES = ['timestampNtz', 'vacuumProtocolCheck', 'deletionVectors', 'columnMapping'];

function assertReadable(tablePath: string, protocol: Protocol, metadata: Metadata, files: readonly AddFile[]): void {
  const version = protocol.minReaderVersion;
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new DeltaProtocolError(`Table ${tablePath} has an invalid minReaderVersion ${String(version)}`);
  }
  if (version > 3) {
    throw new DeltaProtocolError(
      `Table ${tablePath} requires Delta reader version ${version}; this reader supports reader versions 1 to 3`,
    );
  }
  const mappingMode = metadata.configuration['delta.columnMapping.mode'] ?? 'none';
  if (version === 2 && mappingMode !== 'none') {
    throw new DeltaProtocolError(
      `Table ${tablePath} requires Delta reader version 2 with column mapping mode "${mappingMode}", ` +
        'which this reader does not support',
    );
  }
  if (version === 3) {
    const features = featureList(protocol.readerFeatures, 'readerFeatures', tablePath);
    const problems: string[] = [];
    for (const feature of features) {
      if (!READER_FEATURES.includes(feature)) problems.push(feature);
      else if (feature === 'columnMapping' && mappingMode !== 'none') {
        problems.push(`columnMapping (mode "${mappingMode}")`);
      }
    }
    if (problems.length > 0) {
      throw new DeltaProtocolError(
        `Table ${tablePath} requires reader features this reader does not support: ${problems.join(', ')}`,
      );
    }
  }
  // Whatever the protocol says, rows hidden by a deletion vector would come back: refuse rather than mislead.
  const withDv = files.filter((file) => file.deletionVector != null).length;
  if (withDv > 0) {
    throw new DeltaProtocolError(
      `Table ${tablePath} requires reader feature deletionVectors: ` +
        `${withDv} live file${withDv === 1 ? ' has a' : 's have'} deletion vector, which this reader does not apply`,
    );
  }
}

function featureList(value: unknown, field: string, tablePath: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new DeltaProtocolError(`Table ${tablePath} has a table-features protocol without a valid ${field} list`);
  }
  return value as string[];
}

/** Columns (dotted paths) whose field metadata declares a `delta.invariants` expression. */
function invariantColumns(schema: StructType): string[] {
  const found: string[] = [];
  const visit = (type: DataType, prefix: string): void => {
    if (typeof type === 'string') return;
    if (type.type === 'struct') {
      for (const field of type.fields) {
        const path = prefix === '' ? field.name : `${prefix}.${field.name}`;
        if (field.metadata['delta.invariants'] !== undefined) found.push(path);
        visit(field.type, path);
      }
    } else if (type.type === 'array') {
      visit(type.elementType, `${prefix}.element`);
    } else {
      visit(type.keyType, `${prefix}.key`);
      visit(type.valueType, `${prefix}.value`);
    }
  };
  visit(schema, '');
  return found;
}

// ----------------------------------------------------------------------------------------------------------
// Choosing where replay starts

/**
 * Complete checkpoints at or before `target`, newest first. The listing decides (it is needed for the commits
 * anyway); a valid `_last_checkpoint` only picks among variants of its version, and a stale, garbage or
 * not-yet-complete one (parts missing) is ignored.
 */
function checkpointCandidates(
  listing: LogListing,
  hint: LastCheckpoint | undefined,
  target: number,
): CheckpointFiles[] {
  const usable = listing.checkpoints.filter((checkpoint) => checkpoint.version <= target).reverse();
  if (hint === undefined) return usable;
  const hinted = usable.find((checkpoint) => checkpoint.version === hint.version && checkpoint.parts === hint.parts);
  if (hinted === undefined) return usable;
  // sort() is stable: the hinted variant stays ahead of other checkpoints of the same version.
  return [hinted, ...usable.filter((checkpoint) => checkpoint !== hinted)].sort((a, b) => b.version - a.version);
}

function missingVersions(listing: LogListing, from: number, to: number): number[] {
  const missing: number[] = [];
  for (let version = from; version <= to; version++) {
    if (!listing.commits.has(version)) missing.push(version);
  }
  return missing;
}

function gapError(
  tablePath: string,
  listing: LogListing,
  missing: readonly number[],
  checkpoint: CheckpointFiles | undefined,
  target: number,
): DeltaLogError {
  const shown = formatVersions(missing);
  const start = checkpoint === undefined ? 'version 0' : `the checkpoint at version ${checkpoint.version}`;
  let message =
    `Delta log of ${tablePath} is not contiguous: commit${missing.length === 1 ? '' : 's'} ${shown} ` +
    `${missing.length === 1 ? 'is' : 'are'} missing between ${start} and version ${target}`;
  if (checkpoint === undefined && missing[0] === 0 && !listing.checkpoints.some((c) => c.version <= target)) {
    message += ' and there is no checkpoint to start from';
  }
  if (listing.uuidCheckpointVersions.some((version) => version <= target)) {
    message += ' (the log has V2 UUID-named checkpoints, which this reader does not support)';
  }
  return new DeltaLogError(message);
}

function formatVersions(versions: readonly number[]): string {
  const ranges: string[] = [];
  for (let index = 0; index < versions.length; ) {
    const first = versions[index] as number;
    let last = first;
    while (versions[index + 1] === last + 1) {
      last += 1;
      index += 1;
    }
    ranges.push(first === last ? `${first}` : `${first}–${last}`);
    index += 1;
  }
  return ranges.slice(0, 10).join(', ') + (ranges.length > 10 ? ', …' : '');
}

// ----------------------------------------------------------------------------------------------------------
// Replay

async function replay(
  tablePath: string,
  listing: LogListing,
  checkpoint: CheckpointFiles | undefined,
  checkpointActions: readonly Action[],
  target: number,
): Promise<Snapshot> {
  const state = new ReplayState(tablePath);
  if (checkpoint !== undefined) state.applyCheckpoint(checkpointActions, checkpoint.version);

  const versions: number[] = [];
  for (let version = checkpoint === undefined ? 0 : checkpoint.version + 1; version <= target; version++) {
    versions.push(version);
  }
  // Read a bounded number of commit files at once (a log without checkpoints can hold thousands), apply in order.
  const batchSize = 64;
  for (let start = 0; start < versions.length; start += batchSize) {
    const batch = versions.slice(start, start + batchSize);
    const commits = await Promise.all(
      batch.map((version) => readCommitFile(listing.commits.get(version) as string, version)),
    );
    commits.forEach((actions, index) => state.applyCommit(actions, batch[index] as number));
  }
  return state.finish(target, checkpoint?.version);
}

class ReplayState {
  private protocol: Protocol | undefined;
  private metadata: Metadata | undefined;
  private readonly files = new Map<string, AddFile>();
  private readonly tombstones = new Map<string, RemoveFile>();
  private readonly txns = new Map<string, Txn>();
  private readonly domains = new Map<string, DomainMetadata>();
  private readonly commitTimestamps = new Map<number, number>();

  constructor(private readonly tablePath: string) {}

  /** The state `snapshot` holds, in maps of this state's own, so replaying on does not change the snapshot. */
  static from(snapshot: Snapshot): ReplayState {
    const state = new ReplayState(snapshot.tablePath);
    state.protocol = snapshot.protocol;
    state.metadata = snapshot.metadata;
    for (const add of snapshot.files) state.files.set(state.fileKey(add.path, add.deletionVector), add);
    for (const remove of snapshot.tombstones) state.tombstones.set(state.fileKey(remove.path, remove.deletionVector), remove);
    for (const [appId, txn] of snapshot.txns) state.txns.set(appId, txn);
    for (const [domain, value] of snapshot.domainMetadata) state.domains.set(domain, value);
    for (const [version, timestamp] of snapshot.commitTimestamps) state.commitTimestamps.set(version, timestamp);
    return state;
  }

  /** A checkpoint holds reconciled state: its adds and removes never name the same file. */
  applyCheckpoint(actions: readonly Action[], version: number): void {
    const where = `checkpoint ${version}`;
    for (const action of actions) this.apply(action, where);
  }

  applyCommit(actions: readonly Action[], version: number): void {
    actions.forEach((action, index) => {
      const where = `commit ${version} line ${index + 1}`;
      const commitInfo = (action as Record<string, unknown>)['commitInfo'];
      if (isRecord(commitInfo)) {
        const timestamp = toNumber(commitInfo['inCommitTimestamp']) ?? toNumber(commitInfo['timestamp']);
        if (timestamp !== undefined) this.commitTimestamps.set(version, timestamp);
        return;
      }
      this.apply(action, where);
    });
  }

  private apply(action: Action, where: string): void {
    const record = action as Record<string, unknown>;
    if ('add' in record) {
      const add = toAddFile(record['add'], where);
      const key = this.fileKey(add.path, add.deletionVector);
      this.files.set(key, add);
      this.tombstones.delete(key);
    } else if ('remove' in record) {
      const remove = toRemoveFile(record['remove'], where);
      const key = this.fileKey(remove.path, remove.deletionVector);
      this.files.delete(key);
      this.tombstones.set(key, remove);
    } else if ('metaData' in record) {
      this.metadata = toMetadata(record['metaData'], where);
    } else if ('protocol' in record) {
      this.protocol = toProtocol(record['protocol'], where);
    } else if ('txn' in record) {
      const txn = toTxn(record['txn'], where);
      this.txns.set(txn.appId, txn);
    } else if ('domainMetadata' in record) {
      const domain = toDomainMetadata(record['domainMetadata'], where);
      if (domain.removed) this.domains.delete(domain.domain);
      else this.domains.set(domain.domain, domain);
    }
    // commitInfo, cdc, checkpointMetadata, sidecar and unknown actions do not change the table state.
  }

  /**
   * Files are the same when their decoded locations are: `a%20b` and `file:///t/a b` name one file. A deletion
   * vector makes (file, DV) the key, so a DV update (remove old DV + add new DV) keeps the file live.
   */
  private fileKey(path: string, deletionVector: unknown): string {
    let location: string;
    try {
      location = dataFilePath(this.tablePath, path);
    } catch {
      location = path; // remote URI: compare as written
    }
    return isRecord(deletionVector) ? `${location}\u0000${deletionVectorId(deletionVector)}` : location;
  }

  finish(version: number, checkpointVersion: number | undefined): Snapshot {
    const { protocol, metadata, tablePath } = this;
    if (protocol === undefined) {
      throw new DeltaLogError(`Delta log of ${tablePath} has no protocol action up to version ${version}`);
    }
    if (metadata === undefined) {
      // A table without metaData is unreadable; still say so only after checking the protocol allows reading it.
      assertReadable(tablePath, protocol, EMPTY_METADATA, []);
      throw new DeltaLogError(`Delta log of ${tablePath} has no metaData action up to version ${version}`);
    }
    const files = [...this.files.values()];
    assertReadable(tablePath, protocol, metadata, files);

    let numRecords: number | undefined = 0;
    let sizeInBytes = 0;
    for (const file of files) {
      sizeInBytes += file.size;
      const count = numRecordsOf(file.stats);
      numRecords = numRecords === undefined || count === undefined ? undefined : numRecords + count;
    }
    return {
      tablePath,
      version,
      protocol,
      metadata,
      schema: parseSchema(metadata.schemaString, tablePath),
      partitionColumns: metadata.partitionColumns,
      files,
      tombstones: [...this.tombstones.values()],
      txns: this.txns,
      domainMetadata: this.domains,
      checkpointVersion,
      commitTimestamps: this.commitTimestamps,
      numRecords,
      sizeInBytes,
    };
  }
}

function deletionVectorId(dv: Record<string, unknown>): string {
  // PROTOCOL "Deletion Vectors" → Derived Fields → uniqueId.
  const base = `${String(dv['storageType'])}${String(dv['pathOrInlineDv'])}`;
  return dv['offset'] == null ? base : `${base}@${String(dv['offset'])}`;
}

function numRecordsOf(stats: string | null | undefined): number | undefined {
  if (typeof stats !== 'string' || stats === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(stats);
    return isRecord(parsed) ? toNumber(parsed['numRecords']) : undefined;
  } catch {
    return undefined; // stats are an optimisation; bad stats only cost the total
  }
}

const EMPTY_SCHEMA: StructType = { type: 'struct', fields: [] };
const EMPTY_METADATA: Metadata = {
  id: '',
  format: { provider: 'parquet', options: {} },
  schemaString: JSON.stringify(EMPTY_SCHEMA),
  partitionColumns: [],
  configuration: {},
};

function parseSchema(schemaString: string, tablePath: string): StructType {
  let parsed: unknown;
  try {
    parsed = JSON.parse(schemaString);
  } catch (error) {
    throw new DeltaLogError(`Table ${tablePath} has a schemaString that is not valid JSON`, { cause: error });
  }
  if (!isRecord(parsed) || parsed['type'] !== 'struct' || !Array.isArray(parsed['fields'])) {
    throw new DeltaLogError(`Table ${tablePath} has a schemaString that is not a struct type`);
  }
  return parsed as unknown as StructType;
}

// ----------------------------------------------------------------------------------------------------------
// Normalising actions from JSON commits and from checkpoints (read through DuckDB's to_json) into the types
// of actions.ts: nulls of optional fields are dropped, so a writer can copy an action back into the log.

function toAddFile(raw: unknown, where: string): AddFile {
  const add = requireRecord(raw, 'add', where);
  const path = requireString(add, 'path', 'add', where);
  const size = toNumber(add['size']);
  if (size === undefined) throw new DeltaLogError(`${where}: add ${path} has no size`);
  return {
    path,
    partitionValues: toPartitionValues(add['partitionValues'], where) ?? {},
    size,
    modificationTime: toNumber(add['modificationTime']) ?? 0,
    dataChange: typeof add['dataChange'] === 'boolean' ? add['dataChange'] : true,
    ...optional('stats', toOptionalString(add['stats'])),
    ...optional('tags', toStringMap(add['tags'])),
    ...optional('deletionVector', isRecord(add['deletionVector']) ? add['deletionVector'] : undefined),
    ...optional('baseRowId', toNumber(add['baseRowId'])),
    ...optional('defaultRowCommitVersion', toNumber(add['defaultRowCommitVersion'])),
    ...optional('clusteringProvider', toOptionalString(add['clusteringProvider'])),
  };
}

function toRemoveFile(raw: unknown, where: string): RemoveFile {
  const remove = requireRecord(raw, 'remove', where);
  return {
    path: requireString(remove, 'path', 'remove', where),
    dataChange: typeof remove['dataChange'] === 'boolean' ? remove['dataChange'] : true,
    ...optional('deletionTimestamp', toNumber(remove['deletionTimestamp'])),
    ...optional(
      'extendedFileMetadata',
      typeof remove['extendedFileMetadata'] === 'boolean' ? remove['extendedFileMetadata'] : undefined,
    ),
    ...optional('partitionValues', toPartitionValues(remove['partitionValues'], where)),
    ...optional('size', toNumber(remove['size'])),
    ...optional('stats', toOptionalString(remove['stats'])),
    ...optional('tags', toStringMap(remove['tags'])),
    ...optional('deletionVector', isRecord(remove['deletionVector']) ? remove['deletionVector'] : undefined),
  };
}

function toMetadata(raw: unknown, where: string): Metadata {
  const metaData = requireRecord(raw, 'metaData', where);
  const format = isRecord(metaData['format']) ? metaData['format'] : {};
  const partitionColumns = metaData['partitionColumns'] ?? [];
  if (!Array.isArray(partitionColumns) || !partitionColumns.every((name) => typeof name === 'string')) {
    throw new DeltaLogError(`${where}: metaData.partitionColumns is not a list of column names`);
  }
  return {
    id: typeof metaData['id'] === 'string' ? metaData['id'] : '',
    ...optional('name', toOptionalString(metaData['name'])),
    ...optional('description', toOptionalString(metaData['description'])),
    format: {
      provider: typeof format['provider'] === 'string' ? format['provider'] : 'parquet',
      options: toStringMap(format['options']) ?? {},
    },
    // Spark reads a missing schemaString as an empty struct (Metadata.schema); old test tables rely on it.
    schemaString: toOptionalString(metaData['schemaString']) ?? JSON.stringify(EMPTY_SCHEMA),
    partitionColumns: partitionColumns as string[],
    configuration: toStringMap(metaData['configuration']) ?? {},
    ...optional('createdTime', toNumber(metaData['createdTime'])),
  };
}

function toProtocol(raw: unknown, where: string): Protocol {
  const protocol = requireRecord(raw, 'protocol', where);
  const minReaderVersion = toNumber(protocol['minReaderVersion']);
  const minWriterVersion = toNumber(protocol['minWriterVersion']);
  if (minReaderVersion === undefined || minWriterVersion === undefined) {
    throw new DeltaLogError(`${where}: protocol lacks minReaderVersion or minWriterVersion`);
  }
  const features = (value: unknown): string[] | undefined =>
    Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : undefined;
  return {
    minReaderVersion,
    minWriterVersion,
    ...optional('readerFeatures', features(protocol['readerFeatures'])),
    ...optional('writerFeatures', features(protocol['writerFeatures'])),
  };
}

function toTxn(raw: unknown, where: string): Txn {
  const txn = requireRecord(raw, 'txn', where);
  const appId = requireString(txn, 'appId', 'txn', where);
  const version = toNumber(txn['version']);
  if (version === undefined) throw new DeltaLogError(`${where}: txn ${appId} has no version`);
  return { appId, version, ...optional('lastUpdated', toNumber(txn['lastUpdated'])) };
}

function toDomainMetadata(raw: unknown, where: string): DomainMetadata {
  const domain = requireRecord(raw, 'domainMetadata', where);
  return {
    domain: requireString(domain, 'domain', 'domainMetadata', where),
    configuration: typeof domain['configuration'] === 'string' ? domain['configuration'] : '',
    removed: domain['removed'] === true,
  };
}

function requireRecord(value: unknown, action: string, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new DeltaLogError(`${where}: ${action} action is not an object`);
  return value;
}

function requireString(record: Record<string, unknown>, field: string, action: string, where: string): string {
  const value = record[field];
  if (typeof value !== 'string') throw new DeltaLogError(`${where}: ${action} action has no ${field}`);
  return value;
}

/** Partition values keep null (a null partition); any other non-string is a broken action. */
function toPartitionValues(value: unknown, where: string): Record<string, string | null> | undefined {
  const entries = mapEntries(value);
  if (entries === undefined) return undefined;
  const result: Record<string, string | null> = {};
  for (const [key, item] of entries) {
    if (item !== null && typeof item !== 'string') {
      throw new DeltaLogError(`${where}: partition value of ${key} is not a string or null`);
    }
    result[key] = item;
  }
  return result;
}

function toStringMap(value: unknown): Record<string, string> | undefined {
  const entries = mapEntries(value);
  if (entries === undefined) return undefined;
  const result: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (typeof item === 'string') result[key] = item;
  }
  return result;
}

/** A map as a JSON object, or as `{key, value}` entries / a JS Map (DuckDB's other renderings of MAP). */
function mapEntries(value: unknown): [string, unknown][] | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Map) return [...value.entries()].map(([key, item]) => [String(key), item]);
  if (Array.isArray(value)) {
    return value.filter(isRecord).map((entry) => [String(entry['key']), entry['value'] ?? null]);
  }
  if (isRecord(value)) return Object.entries(value);
  return undefined;
}

function toOptionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map);
}

/** `{ [key]: value }` when value is defined, else `{}`: keeps absent optional fields absent. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
