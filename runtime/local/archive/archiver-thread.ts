/**
 * The raw archiver's worker thread (see consumer-thread.ts): its reads of megabytes from the stream and its gzip
 * buffers stay off the intake's event loop.
 */
import { consumerThreadData, serveConsumerThread } from '../consumer-thread.ts';
import { HubStream } from '../stream/hub-stream.ts';
import type { RawArchiverThreadData } from './raw-archiver-thread.ts';
import { startRawArchiver } from './raw-archiver.ts';

const data = consumerThreadData<RawArchiverThreadData>();

await serveConsumerThread(async () => {
  const stream = HubStream.open({ path: data.streamPath, trimIntervalMs: 0 });
  try {
    // Appends come from another thread, which does not wake this one: it looks for them every 200 ms.
    const archiver = await startRawArchiver({ ...data.options, stream, pollMs: 200 });
    return {
      status: () => archiver.status(),
      wait: () => archiver.flush(),
      stop: () => archiver.close(),
      async release() {
        await stream.close();
      },
    };
  } catch (error) {
    await stream.close();
    throw error;
  }
});
