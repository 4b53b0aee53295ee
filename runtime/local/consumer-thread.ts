import { parentPort, Worker, workerData } from 'node:worker_threads';

/**
 * A hub-stream consumer on a worker thread of its own, with its own SQLite connection to the stream, so its work
 * never holds up an acknowledgement on the intake's event loop. This is both ends of that arrangement. The Delta
 * writer runs this way (decoding, dedup and Parquet take most of a core at full load). The raw archiver does not:
 * its work is light and asynchronous, and a thread of its own cost about 80 MiB of memory.
 */

export type ToConsumerThread = { type: 'wait'; id: number } | { type: 'close' };
export type FromConsumerThread<S> =
  | { type: 'started' }
  | { type: 'failed'; error: string }
  | { type: 'status'; status: S }
  | { type: 'waited'; id: number; error?: string }
  | { type: 'closed' };

/** What a consumer offers from inside its thread. */
export interface ThreadedConsumer<S> {
  status(): S;
  /** Resolves once the consumer has everything the stream held when called (the writer's drain, the archiver's flush). */
  wait(): Promise<void>;
  /** Stops the consumer; its status can still be read after. */
  stop(): Promise<void>;
  /** Releases what it holds (its stream connection, DuckDB), after the last status was sent. */
  release(): Promise<void>;
}

/** The main thread's handle on a consumer thread. */
export interface ConsumerThread<S> {
  /** The latest status the thread reported (every 200 ms, and after each wait), undefined before the first. */
  status(): S | undefined;
  /** The consumer's `wait()`, run in its thread; resolves as well if the thread has exited. */
  wait(): Promise<void>;
  close(): Promise<void>;
}

const STATUS_EVERY_MS = 200;
const ENTRY = new URL('./consumer-thread-entry.mjs', import.meta.url);

/** Starts `module` (which calls `serveConsumerThread`) on a worker thread and waits until the consumer runs. */
export async function startConsumerThread<S>(name: string, module: URL, data: unknown): Promise<ConsumerThread<S>> {
  const worker = new Worker(ENTRY, { workerData: { module: module.href, data }, name });
  let status: S | undefined;
  let nextId = 0;
  const waits = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      for (const wait of waits.values()) wait.resolve();
      waits.clear();
      resolve();
    }),
  );

  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromConsumerThread<S>) => {
      if (message.type === 'status') status = message.status;
      else if (message.type === 'started') resolve();
      else if (message.type === 'failed') reject(new Error(`the ${name} could not start: ${message.error}`));
      else if (message.type === 'waited') {
        const wait = waits.get(message.id);
        waits.delete(message.id);
        if (message.error === undefined) wait?.resolve();
        else wait?.reject(new Error(message.error));
      }
    });
    worker.once('error', reject);
    void exit.then(() => reject(new Error(`the ${name} thread exited during start-up`)));
  });
  worker.on('error', (error) => console.error(`${name} thread failed:`, error));

  return {
    status: () => status,
    wait() {
      if (exited) return Promise.resolve();
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        waits.set(id, { resolve, reject });
        worker.postMessage({ type: 'wait', id } satisfies ToConsumerThread);
      });
    },
    async close() {
      if (!exited) worker.postMessage({ type: 'close' } satisfies ToConsumerThread);
      await exit;
    },
  };
}

/** The data `startConsumerThread` was given, inside the thread. */
export function consumerThreadData<T>(): T {
  return (workerData as { data: T }).data;
}

/** Inside the thread: starts the consumer, reports its status, and answers the main thread's waits and close. */
export async function serveConsumerThread<S>(start: () => Promise<ThreadedConsumer<S>>): Promise<void> {
  const port = parentPort!;
  const post = (message: FromConsumerThread<S>) => port.postMessage(message);
  let consumer: ThreadedConsumer<S>;
  try {
    consumer = await start();
  } catch (error) {
    post({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    port.close();
    return;
  }
  const publish = () => post({ type: 'status', status: consumer.status() });
  const timer = setInterval(publish, STATUS_EVERY_MS);
  publish();
  post({ type: 'started' });
  port.on('message', (message: ToConsumerThread) => {
    if (message.type === 'wait') {
      consumer.wait().then(
        () => {
          publish();
          post({ type: 'waited', id: message.id });
        },
        (error: unknown) => post({ type: 'waited', id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
    } else if (message.type === 'close') {
      clearInterval(timer);
      void (async () => {
        await consumer.stop();
        publish();
        await consumer.release();
        post({ type: 'closed' });
        port.close();
      })();
    }
  });
}
