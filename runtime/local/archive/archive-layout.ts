/**
 * Where the raw archive keeps its files: `<dataDir>/raw/YYYY/MM/DD/HH/hub-<first>-<last>.ndjson.gz`, the local
 * counterpart of Firehose's `raw/!{timestamp:yyyy/MM/dd/HH}/` prefix. The name carries the stream range the file
 * holds, so the files themselves are the archive's table of contents.
 */
import { join } from 'node:path';
import { dataPaths } from '../data-paths.ts';

/** A file being written; never read, deleted at start. Same directory as the final name, so rename is atomic. */
export const TEMP_PREFIX = '.tmp-';

/** 20 digits hold any safe integer (and any Kinesis-sized sequence of positions), and sort as text. */
const POSITION_DIGITS = 20;
const FILE_NAME = /^hub-(\d{20})-(\d{20})\.ndjson\.gz$/;

/** The four directory levels under `raw/`: year, month, day, hour (UTC). */
export const HOUR_LEVELS = [/^\d{4}$/, /^\d{2}$/, /^\d{2}$/, /^\d{2}$/] as const;

export function rawArchiveDir(dataDir: string): string {
  return dataPaths(dataDir).raw;
}

export function archiveFileName(first: number, last: number): string {
  return `hub-${pad(first)}-${pad(last)}.ndjson.gz`;
}

/** The range a final file holds, or undefined for anything else (temp files, stray files). */
export function parseArchiveFileName(name: string): { first: number; last: number } | undefined {
  const match = FILE_NAME.exec(name);
  if (!match) return undefined;
  const first = Number(match[1]);
  const last = Number(match[2]);
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 1 || last < first) return undefined;
  return { first, last };
}

/**
 * `YYYY/MM/DD/HH` in UTC. Zero-padded, so keys compare as text in time order (the archiver relies on that to
 * keep directories monotonic).
 */
export function hourKey(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}`;
}

export function hourDir(root: string, key: string): string {
  return join(root, ...key.split('/'));
}

function pad(position: number): string {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`invalid stream position ${position}`);
  return String(position).padStart(POSITION_DIGITS, '0');
}
