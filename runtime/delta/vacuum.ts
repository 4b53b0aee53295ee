import { readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { DELTA_LOG_DIR } from './actions.ts';
import { DEFAULT_RETENTION_MS, deletedFileRetentionMs, maybeCheckpoint, parseIntervalMs } from './checkpoint-writer.ts';
import { appendWithRetry } from './commit.ts';
import type { AppendWithRetryOptions } from './commit.ts';
import { TEMPORARY_FILE } from './parquet-writer.ts';
import { assertWritable, dataFilePath, loadSnapshot } from './snapshot.ts';

/**
 * VACUUM (DELTA-FACTS 1.10): deletes data files the current version does not reference once they are older
 * than the retention, i.e. files removed by OPTIMIZE (or any remove) and orphans of failed writes. It writes no
 * add/remove; like Spark and delta-rs it records `VACUUM START` / `VACUUM END` commitInfo-only commits so the
 * table history shows when files went away. Nothing in `_delta_log` is ever deleted.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
export { DEFAULT_RETENTION_MS, deletedFileRetentionMs, parseIntervalMs };

export interface VacuumOptions {
  /** Files younger than this are kept. Default: the table's `delta.deletedFileRetentionDuration` (1 week). */
  readonly retentionMs?: number;
  /** List what would be deleted, delete nothing, commit nothing. */
  readonly dryRun?: boolean;
  /** The clock (ms); tests inject one. */
  readonly now?: number;
  /** Allow a retention below the table's configured one (Spark's retentionDurationCheck.enabled=false). */
  readonly force?: boolean;
  /** Write the VACUUM START / END commits (default true). */
  readonly recordInHistory?: boolean;
  /** Checkpoint interval applied to those commits (Spark's rule). Default 10. */
  readonly checkpointInterval?: number;
}

export interface VacuumResult {
  readonly dryRun: boolean;
  /** Relative paths (unescaped, '/'-separated) deleted, or that would be in a dry run. */
  readonly deleted: readonly string[];
  readonly deletedBytes: number;
  /** Files the current version references. */
  readonly keptLive: number;
  /** Unreferenced files kept because they are younger than the retention (or their remove is). */
  readonly keptRecent: readonly string[];
  /** Empty partition directories removed afterwards. */
  readonly removedDirectories: readonly string[];
  /** The snapshot version the file set was taken from. */
  readonly version: number;
}

export async function vacuum(tablePath: string, options: VacuumOptions = {}): Promise<VacuumResult> {
  const root = resolve(tablePath);
  const now = options.now ?? Date.now();
  const dryRun = options.dryRun ?? false;
  const snapshot = await loadSnapshot(root);
  assertWritable(snapshot);
  const configured = deletedFileRetentionMs(snapshot.metadata);
  const retentionMs = options.retentionMs ?? configured;
  if (!Number.isFinite(retentionMs) || retentionMs < 0) throw new RangeError('retentionMs must be a number ≥ 0');
  if (retentionMs < configured && !options.force) {
    throw new Error(
      `Refusing to VACUUM ${root} with a retention of ${formatDuration(retentionMs)}, below the table's ` +
        `${formatDuration(configured)}: readers of older versions and writers still finishing could lose files. ` +
        'Pass { force: true } if no such reader or writer exists.',
    );
  }
  const cutoff = now - retentionMs;

  // Files a reader of the current version needs, plus those whose remove is still inside the retention (readers
  // time-travelling to a version before the remove need them: the file's own mtime may be much older).
  const livePaths = new Set(snapshot.files.map((add) => dataFilePath(root, add.path)));
  const recentlyRemoved = new Set(
    snapshot.tombstones
      .filter((remove) => (remove.deletionTimestamp ?? 0) > cutoff)
      .map((remove) => dataFilePath(root, remove.path)),
  );

  const candidates = await listDataFiles(root, snapshot.partitionColumns);
  const doomed: { path: string; size: number }[] = [];
  const keptRecent: string[] = [];
  for (const file of candidates) {
    if (livePaths.has(file.path)) continue;
    if (file.mtimeMs < cutoff && !recentlyRemoved.has(file.path)) doomed.push(file);
    else keptRecent.push(toRelative(root, file.path));
  }
  const deleted = doomed.map((file) => toRelative(root, file.path));
  const deletedBytes = doomed.reduce((sum, file) => sum + file.size, 0);
  const keptLive = snapshot.files.length;
  if (dryRun) {
    return { dryRun, deleted, deletedBytes, keptLive, keptRecent, removedDirectories: [], version: snapshot.version };
  }

  const record = async (commit: Omit<AppendWithRetryOptions, 'buildActions' | 'isBlindAppend'>): Promise<void> => {
    if (options.recordInHistory === false) return;
    const result = await appendWithRetry(root, { ...commit, isBlindAppend: false, buildActions: () => [] });
    if (result.committed) await maybeCheckpoint(root, result.version, options.checkpointInterval);
  };
  await record({
    operation: 'VACUUM START',
    operationParameters: {
      retentionCheckEnabled: !options.force,
      specifiedRetentionMillis: retentionMs,
      defaultRetentionMillis: configured,
    },
    operationMetrics: { numFilesToDelete: doomed.length, sizeOfDataToDelete: deletedBytes },
  });
  await mapConcurrently(doomed, 8, async (file) => {
    await unlink(file.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  });
  const removedDirectories = await removeEmptyDirectories(root, doomed.map((file) => file.path));
  await record({
    operation: 'VACUUM END',
    operationParameters: { status: 'COMPLETED' },
    operationMetrics: { numDeletedFiles: doomed.length, numVacuumedDirectories: removedDirectories.length },
  });
  return { dryRun, deleted, deletedBytes, keptLive, keptRecent, removedDirectories, version: snapshot.version };
}

interface ListedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Every file VACUUM may consider: under the table, outside `_delta_log` and hidden directories (a name starting
 * with '.' or '_', unless it is a partition directory such as `_col=…`), skipping hidden files except this
 * library's own temporary files left by a crash.
 */
async function listDataFiles(root: string, partitionColumns: readonly string[]): Promise<ListedFile[]> {
  const files: ListedFile[] = [];
  const walk = async (directory: string, depth: number): Promise<void> => {
    const entries = await readdir(directory, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const path = join(directory, entry.name);
        if (entry.isDirectory()) {
          if (depth === 0 && entry.name === DELTA_LOG_DIR) return;
          if (isHidden(entry.name) && !partitionColumns.some((column) => entry.name.startsWith(`${column}=`))) return;
          await walk(path, depth + 1);
        } else if (entry.isFile()) {
          if (isHidden(entry.name) && !TEMPORARY_FILE.test(entry.name)) return;
          const info = await stat(path).catch(() => undefined);
          if (info !== undefined) files.push({ path, size: info.size, mtimeMs: info.mtimeMs });
        }
      }),
    );
  };
  await walk(root, 0);
  return files;
}

function isHidden(name: string): boolean {
  return name.startsWith('.') || name.startsWith('_');
}

/** Removes directories left empty by the deletions, deepest first, never the table root. */
async function removeEmptyDirectories(root: string, deletedPaths: readonly string[]): Promise<string[]> {
  const directories = new Set<string>();
  for (const path of deletedPaths) {
    let directory = resolve(path, '..');
    while (directory.startsWith(root + sep)) {
      directories.add(directory);
      directory = resolve(directory, '..');
    }
  }
  const removed: string[] = [];
  for (const directory of [...directories].sort((a, b) => b.length - a.length)) {
    try {
      await rmdir(directory);
      removed.push(toRelative(root, directory));
    } catch {
      // Not empty (live files, or a writer just created it): keep it.
    }
  }
  return removed;
}

function toRelative(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

function formatDuration(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS} days` : `${(ms / 3_600_000).toFixed(1)} hours`;
}

/** `map` with at most `limit` calls pending at once; results in input order. */
async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
