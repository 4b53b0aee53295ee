/**
 * The Delta writer's worker thread (see consumer-thread.ts). Decoding, dedup and Parquet writing take whole
 * seconds of CPU per batch; on their own thread they never delay an acknowledgement on the intake's event loop.
 */
import { closeDuckDb, limitDuckDbThreads } from '../../delta/duckdb.ts';
import { consumerThreadData, serveConsumerThread } from '../consumer-thread.ts';
import { HubStream } from '../stream/hub-stream.ts';
import type { DeltaWriterThreadData } from './delta-writer-thread.ts';
import { startDeltaWriter } from './delta-writer.ts';

const data = consumerThreadData<DeltaWriterThreadData>();

// One DuckDB thread: a batch's Parquet writes must leave a core to the intake, whose acks wait on it otherwise.
limitDuckDbThreads(1);

await serveConsumerThread(async () => {
  const stream = HubStream.open({ path: data.streamPath, trimIntervalMs: 0 });
  try {
    const writer = await startDeltaWriter({
      ...data.options,
      stream,
      idlePollMs: 50,
      logError: (message, error) => console.error(`delta writer: ${message}:`, error instanceof Error ? error.message : error),
    });
    return {
      status: () => writer.status(),
      wait: () => writer.drain(),
      stop: () => writer.close(),
      async release() {
        await stream.close();
        await closeDuckDb();
      },
    };
  } catch (error) {
    await stream.close();
    throw error;
  }
});
