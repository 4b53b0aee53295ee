// Entry of a hub-stream consumer's worker thread (consumer-thread.ts). Worker threads do not inherit the TypeScript
// loader of the main thread, so the thread registers tsx itself before loading the consumer's module.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
