import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small file system of its own that a test can fill to the last block, and free again. */
export interface SmallDisk {
  /** Where it is mounted. */
  readonly path: string;
  /** Writes a filler file until the disk is full (ENOSPC); returns its size. */
  fill(): number;
  /** Deletes the filler file: the space is back at once. */
  free(): void;
  /** Blocks still free for an unprivileged writer (0 once filled). */
  freeBytes(): number;
}

/**
 * Runs `run` with a fresh tmpfs of `sizeBytes` mounted in a new temp directory, and always unmounts it. Mounting
 * needs root (CI runs as root): without it the test is skipped with the reason printed, unless `CI` is set, where a
 * test that silently did nothing would hide a broken runner, so it fails instead.
 */
export async function withTmpfs(what: string, sizeBytes: number, run: (disk: SmallDisk) => Promise<void>): Promise<void> {
  const path = mkdtempSync(join(tmpdir(), 'telemetry-tmpfs-'));
  try {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', path], { stdio: 'pipe' });
    } catch (error) {
      const detail = String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim();
      const reason = `cannot mount a tmpfs at ${path} (${detail || 'mount failed'}); disk-full tests need root`;
      if (process.env.CI) throw new Error(`${what}: ${reason}. CI must run them, as root.`);
      console.log(`SKIPPED ${what}: ${reason}. Run as root (as CI does) to include it.`);
      return;
    }
    try {
      await run(smallDisk(path));
    } finally {
      await unmount(path);
    }
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

function smallDisk(path: string): SmallDisk {
  const filler = join(path, 'filler');
  return {
    path,
    fill() {
      const fd = openSync(filler, 'a');
      let size = 0;
      try {
        // Big chunks first, then page-sized ones: tmpfs allocates whole pages, so this leaves no page free.
        for (const chunk of [1024 * 1024, 64 * 1024, 4096, 512]) {
          const buffer = Buffer.alloc(chunk, 0x5a);
          for (;;) {
            try {
              const written = writeSync(fd, buffer);
              size += written;
              if (written < chunk) break;
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return size;
    },
    free() {
      unlinkSync(filler);
    },
    freeBytes() {
      const stats = statfsSync(path);
      return stats.bavail * stats.bsize;
    },
  };
}

async function unmount(path: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      execFileSync('umount', [path], { stdio: 'pipe' });
      return;
    } catch {
      // EBUSY while a closing thread still holds a file: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  // Detach it anyway so nothing stays mounted after the test run; the kernel frees it once the last file closes.
  execFileSync('umount', ['-l', path], { stdio: 'pipe' });
}
