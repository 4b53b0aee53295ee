import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ClientState, StateStore } from './store.ts';

const FORMAT = 1;

/**
 * Keeps the client's state in one JSON file, replaced atomically (write a temporary file, then rename), so a
 * crash mid-save leaves the previous state, never half a file. Node only.
 */
export class FileStore implements StateStore {
  constructor(readonly path: string) {}

  async load(): Promise<ClientState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = JSON.parse(text) as { format?: unknown; state?: ClientState };
    if (parsed.format !== FORMAT || parsed.state === undefined) {
      throw new Error(`${this.path} is not a telemetry client state file (format ${String(parsed.format)}, expected ${FORMAT})`);
    }
    return parsed.state;
  }

  async save(state: ClientState): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify({ format: FORMAT, state }));
    await rename(temporary, this.path);
  }
}
