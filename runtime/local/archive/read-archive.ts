import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { rawArchiveDir } from './archive-layout.ts';
import { listArchiveFiles } from './archive-scan.ts';

const gunzipAsync = promisify(gunzip);

export interface ArchivedFile {
  readonly file: string;
  /** First and last stream position the file holds. */
  readonly first: number;
  readonly last: number;
  /** `YYYY/MM/DD/HH` of its directory. */
  readonly hour: string;
  /** The records' bytes, gunzipped: NDJSON, exactly as they were in the stream. */
  readonly data: Buffer;
}

/**
 * The archive's files in position order, one at a time (memory holds one file), for tests and tools.
 * It lists what is there; checking that ranges neither overlap nor leave gaps is the caller's business.
 */
export async function* readArchive(dataDir: string): AsyncGenerator<ArchivedFile> {
  for (const info of await listArchiveFiles(rawArchiveDir(dataDir))) {
    yield { ...info, data: await gunzipAsync(await readFile(info.file)) };
  }
}
