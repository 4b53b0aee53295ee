import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DELTA_LOG_DIR, commitFileName } from './actions.ts';
import type { Action } from './actions.ts';
import { DeltaLogError, DeltaTableNotFoundError, DeltaVersionNotFoundError } from './errors.ts';

/** Listing and reading the files of `_delta_log/`: JSON commits, classic checkpoints and `_last_checkpoint`. */

const COMMIT = /^(\d{20})\.json$/;
const CHECKPOINT = /^(\d{20})\.checkpoint\.parquet$/;
const MULTI_PART_CHECKPOINT = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const UUID_CHECKPOINT = /^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(?:json|parquet)$/;
export const LAST_CHECKPOINT_FILE = '_last_checkpoint';

/** A classic checkpoint whose files are all present: one file, or every part of a multi-part one. */
export interface CheckpointFiles {
  readonly version: number;
  /** Number of parts for a multi-part checkpoint; undefined for a single file. */
  readonly parts: number | undefined;
  /** Absolute paths, in part order. */
  readonly paths: readonly string[];
}

export interface LogListing {
  readonly logPath: string;
  /** Version → absolute path of `<version>.json`. */
  readonly commits: ReadonlyMap<number, string>;
  /** Complete classic checkpoints, by ascending version; a single file before a multi-part one of the same version. */
  readonly checkpoints: readonly CheckpointFiles[];
  /** Versions that only have V2 (UUID-named) checkpoints, which this library does not read. */
  readonly uuidCheckpointVersions: readonly number[];
}

/** `_last_checkpoint`, as far as this library uses it. */
export interface LastCheckpoint {
  readonly version: number;
  readonly size?: number;
  readonly parts?: number;
  readonly sizeInBytes?: number;
  readonly numOfAddFiles?: number;
}

export function logPathOf(tablePath: string): string {
  return join(tablePath, DELTA_LOG_DIR);
}

/** Lists `_delta_log/`. Throws `DeltaTableNotFoundError` when the directory does not exist. */
export async function listLog(tablePath: string): Promise<LogListing> {
  const logPath = logPathOf(tablePath);
  let names: string[];
  try {
    names = await readdir(logPath);
  } catch (error) {
    if (isNodeError(error) && (error.code === 'ENOENT' || error.code === 'ENOTDIR')) {
      throw new DeltaTableNotFoundError(tablePath);
    }
    throw error;
  }

  const commits = new Map<number, string>();
  const singles: CheckpointFiles[] = [];
  // version → part count → part numbers seen: a multi-part checkpoint counts only when every part is there.
  const multiParts = new Map<number, Map<number, Map<number, string>>>();
  const uuidVersions = new Set<number>();
  for (const name of names) {
    let match: RegExpExecArray | null;
    if ((match = COMMIT.exec(name))) {
      commits.set(Number(match[1]), join(logPath, name));
    } else if ((match = CHECKPOINT.exec(name))) {
      singles.push({ version: Number(match[1]), parts: undefined, paths: [join(logPath, name)] });
    } else if ((match = MULTI_PART_CHECKPOINT.exec(name))) {
      const version = Number(match[1]);
      const part = Number(match[2]);
      const total = Number(match[3]);
      if (part < 1 || part > total) continue;
      const byTotal = multiParts.get(version) ?? new Map<number, Map<number, string>>();
      multiParts.set(version, byTotal);
      const seen = byTotal.get(total) ?? new Map<number, string>();
      byTotal.set(total, seen);
      seen.set(part, join(logPath, name));
    } else if ((match = UUID_CHECKPOINT.exec(name))) {
      uuidVersions.add(Number(match[1]));
    }
  }

  const checkpoints = [...singles];
  for (const [version, byTotal] of multiParts) {
    for (const [total, seen] of byTotal) {
      if (seen.size !== total) continue;
      const paths = Array.from({ length: total }, (_, index) => seen.get(index + 1) as string);
      checkpoints.push({ version, parts: total, paths });
    }
  }
  checkpoints.sort((a, b) => a.version - b.version || (a.parts ?? 0) - (b.parts ?? 0));
  const classicVersions = new Set(checkpoints.map((checkpoint) => checkpoint.version));
  const uuidCheckpointVersions = [...uuidVersions]
    .filter((version) => !classicVersions.has(version))
    .sort((a, b) => a - b);
  return { logPath, commits, checkpoints, uuidCheckpointVersions };
}

/** The newest version the listing proves exists (a commit or a complete checkpoint), or undefined for none. */
export function newestVersion(listing: LogListing): number | undefined {
  let newest: number | undefined;
  for (const version of listing.commits.keys()) newest = newest === undefined ? version : Math.max(newest, version);
  for (const { version } of listing.checkpoints) newest = newest === undefined ? version : Math.max(newest, version);
  return newest;
}

/**
 * The latest version of the table from a listing alone (no file is read): undefined when there is no
 * `_delta_log` or it holds no commit yet. A writer's next commit is `latestVersion + 1` (or 0).
 */
export async function latestVersion(tablePath: string): Promise<number | undefined> {
  try {
    return newestVersion(await listLog(tablePath));
  } catch (error) {
    if (error instanceof DeltaTableNotFoundError) return undefined;
    throw error;
  }
}

/**
 * Reads `_last_checkpoint`. It is only a hint, written without atomicity and allowed to be stale, so anything
 * wrong with it (missing, empty, not JSON, no integer version) gives undefined rather than an error.
 */
export async function readLastCheckpoint(logPath: string): Promise<LastCheckpoint | undefined> {
  let text: string;
  try {
    text = await readFile(join(logPath, LAST_CHECKPOINT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const record = parsed as Record<string, unknown>;
  const version = record['version'];
  if (!isNonNegativeInteger(version)) return undefined;
  const parts = record['parts'];
  if (parts !== undefined && parts !== null && !(isNonNegativeInteger(parts) && parts >= 1)) return undefined;
  const hint: { -readonly [K in keyof LastCheckpoint]: LastCheckpoint[K] } = { version };
  if (isNonNegativeInteger(parts)) hint.parts = parts;
  for (const key of ['size', 'sizeInBytes', 'numOfAddFiles'] as const) {
    const value = record[key];
    if (isNonNegativeInteger(value)) hint[key] = value;
  }
  return hint;
}

/** Parses a commit file's text: one JSON action per line; blank lines (a trailing newline) are skipped. */
export function parseCommit(text: string, version: number): Action[] {
  const actions: Action[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] as string).trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new DeltaLogError(
        `Commit ${commitFileName(version)} line ${index + 1} is not valid JSON (${(error as Error).message}); ` +
          'the commit file is damaged or was only partly written',
        { cause: error },
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new DeltaLogError(`Commit ${commitFileName(version)} line ${index + 1} is not a JSON object (an action)`);
    }
    actions.push(parsed as Action);
  }
  return actions;
}

export async function readCommitFile(path: string, version: number): Promise<Action[]> {
  return parseCommit(await readFile(path, 'utf8'), version);
}

/**
 * The actions of one commit, as written (for a writer's conflict check against commits made since it read).
 * Throws `DeltaVersionNotFoundError` when `<version>.json` does not exist.
 */
export async function readCommit(tablePath: string, version: number): Promise<Action[]> {
  const path = join(logPathOf(tablePath), commitFileName(version));
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isNodeError(error) && error.code === 'ENOENT') {
      if ((await latestVersion(tablePath)) === undefined) throw new DeltaTableNotFoundError(tablePath);
      throw new DeltaVersionNotFoundError(tablePath, version, `Commit ${version} of ${tablePath} does not exist`);
    }
    throw error;
  }
  return parseCommit(text, version);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}
