import { randomUUID } from 'node:crypto';
import { link, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import packageJson from '../../package.json' with { type: 'json' };
import { DELTA_LOG_DIR, checkpointFileName, commitFileName } from './actions.ts';
import type { Action, CommitInfo } from './actions.ts';
import { DeltaCommitConflictError } from './errors.ts';
import { fsyncDirectory } from './parquet-writer.ts';
import { assertWritable, loadSnapshot } from './snapshot.ts';
import type { Snapshot } from './snapshot.ts';

/**
 * A commit is the exclusive creation of `_delta_log/<20-digit version>.json` (DELTA-FACTS 1.2). The content is
 * written and fsynced under a temporary name first, then hard-linked to the final name: link() fails with EEXIST
 * when another writer won the version, and the final name only ever shows a complete file.
 */

export const ENGINE_INFO = `delta-lake-game-telemetry/${packageJson.version}`;

export interface CommitOptions {
  /** commitInfo.operation, e.g. 'WRITE', 'STREAMING UPDATE', 'OPTIMIZE', 'CREATE TABLE'. */
  readonly operation: string;
  /** Values that are not strings are written as their JSON text, as Spark does (e.g. partitionBy '["a"]'). */
  readonly operationParameters?: Readonly<Record<string, unknown>>;
  readonly operationMetrics?: Readonly<Record<string, unknown>>;
  /** The version the commit was built from (absent for version 0). */
  readonly readVersion?: number;
  readonly isBlindAppend?: boolean;
  readonly isolationLevel?: 'Serializable' | 'WriteSerializable' | 'SnapshotIsolation';
}

export interface CommitResult {
  readonly version: number;
  readonly commitInfo: CommitInfo;
}

/**
 * Writes `actions` as version `version`, preceded by a commitInfo line. Throws `DeltaCommitConflictError` when
 * the version already exists (another writer committed it first); the caller re-reads the log and retries.
 */
export async function commitActions(
  tablePath: string,
  version: number,
  actions: readonly Action[],
  options: CommitOptions,
): Promise<CommitResult> {
  if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`Commit version must be an integer ≥ 0, got ${version}`);
  if (actions.some((action) => 'commitInfo' in action)) {
    throw new Error('commitActions writes the commitInfo itself; leave it out of the actions');
  }
  if (version === 0 && !(actions.some((action) => 'metaData' in action) && actions.some((action) => 'protocol' in action))) {
    throw new Error('Version 0 must contain a protocol and a metaData action (use createTable)');
  }
  const logPath = join(tablePath, DELTA_LOG_DIR);
  const previous = [commitFileName(version - 1), checkpointFileName(version - 1)];
  if (version > 0 && !(await exists(join(logPath, previous[0] as string))) && !(await exists(join(logPath, previous[1] as string)))) {
    // Versions are contiguous; a gap would make the table unreadable.
    throw new Error(`Cannot commit version ${version} of ${tablePath}: version ${version - 1} does not exist`);
  }

  const commitInfo: Record<string, unknown> = {
    timestamp: Date.now(),
    operation: options.operation,
    operationParameters: stringValues(options.operationParameters ?? {}),
  };
  if (options.readVersion !== undefined) commitInfo['readVersion'] = options.readVersion;
  commitInfo['isolationLevel'] = options.isolationLevel ?? 'Serializable';
  commitInfo['isBlindAppend'] = options.isBlindAppend ?? false;
  if (options.operationMetrics !== undefined) commitInfo['operationMetrics'] = stringValues(options.operationMetrics);
  commitInfo['engineInfo'] = ENGINE_INFO;
  commitInfo['txnId'] = randomUUID();

  const text = [{ commitInfo }, ...actions].map((action) => JSON.stringify(action)).join('\n') + '\n';
  const finalPath = join(logPath, commitFileName(version));
  const temporary = join(logPath, `.${commitFileName(version)}.${randomUUID()}.tmp`);
  const handle = await open(temporary, 'wx');
  try {
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temporary, finalPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new DeltaCommitConflictError(
          `Version ${version} of ${tablePath} was committed by another writer; re-read the log and retry`,
          version,
          { cause: error },
        );
      }
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        // No hard links on this file system: O_EXCL creation still gives mutual exclusion, but a reader could
        // briefly see the file before it is complete (it then fails to parse and retries).
        await createExclusive(finalPath, text, tablePath, version);
      } else {
        throw error;
      }
    }
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  // From the moment link() returned, the version is in the log: every reader sees it and writers build on it. A
  // failing fsync of the directory now must not be reported as a failed commit, or the caller undoes work the table
  // references (OPTIMIZE deletes the files it added, the stream writer writes its rows a second time). Should the
  // entry be lost in a power cut, that is a crash before the link, which every caller handles; the next commit's
  // successful directory fsync makes it durable.
  await fsyncDirectory(logPath).catch(() => undefined);
  return { version, commitInfo };
}

async function createExclusive(path: string, text: string, tablePath: string, version: number): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new DeltaCommitConflictError(`Version ${version} of ${tablePath} was committed by another writer`, version, {
        cause: error,
      });
    }
    throw error;
  }
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface AppendWithRetryOptions extends Omit<CommitOptions, 'readVersion'> {
  /**
   * Builds the commit from the current snapshot; called again with a fresh snapshot after each lost race, so
   * it can re-check what it depends on (e.g. `snapshot.txns` for its stream position). Return null to commit
   * nothing (the work is already in the table).
   */
  readonly buildActions: (snapshot: Snapshot) => readonly Action[] | null | Promise<readonly Action[] | null>;
  /** Commit attempts before giving up with the last `DeltaCommitConflictError`. Default 10. */
  readonly maxAttempts?: number;
}

export type AppendResult =
  | { readonly committed: true; readonly version: number; readonly attempts: number; readonly commitInfo: CommitInfo }
  | { readonly committed: false; readonly snapshot: Snapshot; readonly attempts: number };

/** Optimistic concurrency: read the snapshot, build, commit at snapshot.version + 1; on a lost race, start over. */
export async function appendWithRetry(tablePath: string, options: AppendWithRetryOptions): Promise<AppendResult> {
  const { buildActions, maxAttempts = 10, ...commitOptions } = options;
  let lastConflict: DeltaCommitConflictError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const snapshot = await loadSnapshot(tablePath);
    assertWritable(snapshot);
    const actions = await buildActions(snapshot);
    if (actions === null) return { committed: false, snapshot, attempts: attempt };
    try {
      const result = await commitActions(tablePath, snapshot.version + 1, actions, {
        ...commitOptions,
        readVersion: snapshot.version,
      });
      return { committed: true, version: result.version, attempts: attempt, commitInfo: result.commitInfo };
    } catch (error) {
      if (!(error instanceof DeltaCommitConflictError)) throw error;
      lastConflict = error;
      // A little jitter keeps writers that collided from colliding again on the next version.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
  throw new DeltaCommitConflictError(
    `Gave up committing to ${tablePath} after ${maxAttempts} attempts: other writers kept committing first`,
    lastConflict?.version,
    { cause: lastConflict },
  );
}

function stringValues(record: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
