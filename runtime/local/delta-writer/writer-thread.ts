/**
 * The Delta writer's worker thread. Decoding, dedup and Parquet writing take whole seconds of CPU per batch; on
 * their own thread they never delay an acknowledgement on the intake's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { closeDuckDb, limitDuckDbThreads } from '../../delta/duckdb.ts';
import { HubStream } from '../stream/hub-stream.ts';
import type { DeltaWriterThreadData, FromWriterThread, ToWriterThread } from './delta-writer-thread.ts';
import { startDeltaWriter } from './delta-writer.ts';

const data = workerData as DeltaWriterThreadData;
const port = parentPort!;
const post = (message: FromWriterThread) => port.postMessage(message);

// One DuckDB thread: a batch's Parquet writes must leave a core to the intake, whose acks wait on it otherwise.
limitDuckDbThreads(1);

try {
  const stream = HubStream.open({ path: data.streamPath, trimIntervalMs: 0 });
  const writer = await startDeltaWriter({
    ...data.options,
    stream,
    idlePollMs: 50,
    logError: (message, error) => console.error(`delta writer: ${message}:`, error instanceof Error ? error.message : error),
  });
  const publish = () => post({ type: 'status', status: writer.status() });
  const timer = setInterval(publish, 200);
  publish();
  post({ type: 'started' });
  port.on('message', (message: ToWriterThread) => {
    if (message.type === 'drain') {
      void writer.drain().then(() => {
        publish();
        post({ type: 'drained', id: message.id });
      });
    } else if (message.type === 'close') {
      clearInterval(timer);
      void (async () => {
        await writer.close();
        publish();
        await stream.close();
        await closeDuckDb();
        post({ type: 'closed' });
        port.close();
      })();
    }
  });
} catch (error) {
  post({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  port.close();
}
