import { startConsumerThread } from '../consumer-thread.ts';
import type { ArchiverStatus, RawArchiver, RawArchiverOptions } from './raw-archiver.ts';

export interface RawArchiverThreadData {
  readonly streamPath: string;
  readonly options: Omit<RawArchiverOptions, 'stream' | 'now' | 'logError' | 'pollMs'>;
}

/**
 * Runs the raw archiver on its own thread (it reads the hub stream through its own SQLite connection) and offers
 * the same `RawArchiver` interface; `status()` answers from the latest report the thread sent.
 */
export async function startRawArchiverThread(data: RawArchiverThreadData): Promise<RawArchiver> {
  const thread = await startConsumerThread<ArchiverStatus>('raw archiver', new URL('./archiver-thread.ts', import.meta.url), data);
  return {
    status: () => thread.status() ?? { ...emptyStatus(), healthy: false, lastError: 'starting' },
    flush: () => thread.wait(),
    close: () => thread.close(),
  };
}

function emptyStatus(): ArchiverStatus {
  return { position: 0, lag: 0, files: 0, bytes: 0, storedBytes: 0, buffered: { records: 0, bytes: 0 }, healthy: true, retries: 0, gaps: [], missingPositions: 0 };
}
