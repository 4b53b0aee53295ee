import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HOUR_LEVELS, TEMP_PREFIX, parseArchiveFileName } from './archive-layout.ts';

export interface ArchiveFileInfo {
  /** Absolute path of the final file. */
  readonly file: string;
  readonly first: number;
  readonly last: number;
  /** `YYYY/MM/DD/HH` of its directory. */
  readonly hour: string;
}

export interface ResumePoint {
  /** The highest stream position in a final file; 0 for an empty archive. */
  readonly last: number;
  /** The hour directory holding that file; later files never go into an earlier directory. */
  readonly hour: string | undefined;
  /** Leftover temp files (from a crash mid-write) that were deleted. */
  readonly removedTemps: readonly string[];
}

/**
 * Where the archive ends, read from the file names alone (there is no checkpoint that could disagree).
 *
 * Cheap: hour directories are visited newest first and the walk stops at the first one that holds a final file.
 * That is exact because the archiver never puts a file into an hour directory older than the previous file's
 * (see `nextHour` in raw-archiver.ts), so directory order is position order. Temp files can only sit in that
 * directory or newer ones, which are exactly the ones visited, so they are all deleted here.
 */
export async function findResumePoint(root: string): Promise<ResumePoint> {
  const removedTemps: string[] = [];
  const walk = async (dir: string, level: number, prefix: string[]): Promise<ResumePoint | undefined> => {
    if (level === HOUR_LEVELS.length) {
      let best: ArchiveFileInfo | undefined;
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.name.startsWith(TEMP_PREFIX)) {
          await unlink(join(dir, entry.name));
          removedTemps.push(join(dir, entry.name));
          continue;
        }
        const range = entry.isFile() ? parseArchiveFileName(entry.name) : undefined;
        if (range && (!best || range.last > best.last)) {
          best = { file: join(dir, entry.name), ...range, hour: prefix.join('/') };
        }
      }
      return best && { last: best.last, hour: best.hour, removedTemps };
    }
    for (const name of (await subdirectories(dir, HOUR_LEVELS[level]!)).reverse()) {
      const found = await walk(join(dir, name), level + 1, [...prefix, name]);
      if (found) return found;
    }
    return undefined;
  };
  return (await walk(root, 0, [])) ?? { last: 0, hour: undefined, removedTemps };
}

/** Every final file of the archive (a full scan), in position order. */
export async function listArchiveFiles(root: string): Promise<ArchiveFileInfo[]> {
  const files: ArchiveFileInfo[] = [];
  const walk = async (dir: string, level: number, prefix: string[]): Promise<void> => {
    if (level === HOUR_LEVELS.length) {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const range = entry.isFile() ? parseArchiveFileName(entry.name) : undefined;
        if (range) files.push({ file: join(dir, entry.name), ...range, hour: prefix.join('/') });
      }
      return;
    }
    for (const name of await subdirectories(dir, HOUR_LEVELS[level]!)) {
      await walk(join(dir, name), level + 1, [...prefix, name]);
    }
  };
  await walk(root, 0, []);
  return files.sort((a, b) => a.first - b.first || a.last - b.last);
}

/** Directory names of one level (`2024`, `02`, …) in ascending order; a missing directory is empty. */
async function subdirectories(dir: string, pattern: RegExp): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((entry) => entry.isDirectory() && pattern.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
