import { join } from 'node:path';

/** Where the one-machine pipeline keeps its files under the data directory; tools and tests read the same. */
export function dataPaths(dataDir: string) {
  return {
    stream: join(dataDir, 'stream', 'hub.sqlite'),
    identity: join(dataDir, 'identity'),
    deltaWriter: join(dataDir, 'delta-writer'),
    raw: join(dataDir, 'raw'),
  };
}
