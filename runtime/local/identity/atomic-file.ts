import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `data` to a fresh temp file next to `path` (same file system, so rename/link stay atomic), synced. */
async function writeTemp(path: string, data: string, mode: number): Promise<string> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  return temp;
}

/** Makes a rename or link durable; best effort, as some platforms cannot open a directory. */
async function syncDirectory(path: string): Promise<void> {
  try {
    const handle = await open(dirname(path), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows and some network file systems refuse; the rename itself is still atomic.
  }
}

/** Replaces `path` with `data` so a reader sees either the old or the new content, never a partial file. */
export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const temp = await writeTemp(path, data, mode);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(path);
}

/**
 * Creates `path` with `data` only if it does not exist yet, atomically: returns false when another writer got
 * there first. A hard link fails with EEXIST where rename would silently replace the other writer's file.
 */
export async function createFileExclusive(path: string, data: string, mode = 0o600): Promise<boolean> {
  const temp = await writeTemp(path, data, mode);
  try {
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
  await syncDirectory(path);
  return true;
}
