import { startConsumerThread } from '../consumer-thread.ts';
import type { DeltaWriter, DeltaWriterOptions, DeltaWriterStatus } from './delta-writer.ts';

export interface DeltaWriterThreadData {
  readonly streamPath: string;
  readonly options: Omit<DeltaWriterOptions, 'stream' | 'now' | 'logError' | 'idlePollMs'>;
}

/**
 * Runs the Delta writer on its own thread (it reads the hub stream through its own SQLite connection) and offers
 * the same `DeltaWriter` interface; `status()` answers from the latest report the thread sent.
 */
export async function startDeltaWriterThread(data: DeltaWriterThreadData): Promise<DeltaWriter> {
  const thread = await startConsumerThread<DeltaWriterStatus>('Delta writer', new URL('./writer-thread.ts', import.meta.url), data);
  return {
    status: () => thread.status() ?? { ...emptyStatus(), healthy: false, lastError: 'starting' },
    drain: () => thread.wait(),
    close: () => thread.close(),
  };
}

function emptyStatus(): DeltaWriterStatus {
  return { tablePath: '', appId: '', position: 0, lag: 0, tableVersion: undefined, commits: 0, rowsWritten: 0, duplicatesDropped: 0, quarantinedLines: 0, healthy: true };
}
