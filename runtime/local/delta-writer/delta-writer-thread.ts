import { Worker } from 'node:worker_threads';
import type { DeltaWriter, DeltaWriterOptions, DeltaWriterStatus } from './delta-writer.ts';

export interface DeltaWriterThreadData {
  readonly streamPath: string;
  readonly options: Omit<DeltaWriterOptions, 'stream' | 'now' | 'logError' | 'idlePollMs'>;
}

export type ToWriterThread = { type: 'drain'; id: number } | { type: 'close' };
export type FromWriterThread =
  | { type: 'started' }
  | { type: 'failed'; error: string }
  | { type: 'status'; status: DeltaWriterStatus }
  | { type: 'drained'; id: number }
  | { type: 'closed' };

/**
 * Runs the Delta writer on its own thread (it reads the hub stream through its own SQLite connection) and offers
 * the same `DeltaWriter` interface; `status()` answers from the latest report the thread sent.
 */
export async function startDeltaWriterThread(data: DeltaWriterThreadData): Promise<DeltaWriter> {
  const worker = new Worker(new URL('./thread-entry.mjs', import.meta.url), { workerData: data });
  let status: DeltaWriterStatus | undefined;
  let nextId = 0;
  const drains = new Map<number, () => void>();
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      for (const resolveDrain of drains.values()) resolveDrain();
      drains.clear();
      resolve();
    }),
  );

  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromWriterThread) => {
      if (message.type === 'status') status = message.status;
      else if (message.type === 'started') resolve();
      else if (message.type === 'failed') reject(new Error(`the Delta writer could not start: ${message.error}`));
      else if (message.type === 'drained') {
        drains.get(message.id)?.();
        drains.delete(message.id);
      }
    });
    worker.once('error', reject);
    void exit.then(() => reject(new Error('the Delta writer thread exited during start-up')));
  });
  worker.on('error', (error) => console.error('delta writer thread failed:', error));

  return {
    status() {
      return status ?? { ...emptyStatus(), healthy: false, lastError: 'starting' };
    },
    drain() {
      if (exited) return Promise.resolve();
      const id = nextId++;
      return new Promise<void>((resolve) => {
        drains.set(id, resolve);
        worker.postMessage({ type: 'drain', id } satisfies ToWriterThread);
      });
    },
    async close() {
      if (!exited) worker.postMessage({ type: 'close' } satisfies ToWriterThread);
      await exit;
    },
  };
}

function emptyStatus(): DeltaWriterStatus {
  return { tablePath: '', appId: '', position: 0, lag: 0, tableVersion: undefined, commits: 0, rowsWritten: 0, duplicatesDropped: 0, quarantinedLines: 0, healthy: true };
}
