// Entry of the Delta writer's worker thread. Worker threads do not inherit the TypeScript loader of the main
// thread, so the thread registers tsx itself before loading the writer.
import { register } from 'tsx/esm/api';

register();
await import('./writer-thread.ts');
