import type { HubStream, StreamEntry } from '../stream/hub-stream.ts';
import { writeArchiveFile } from './archive-file.ts';
import { hourKey, rawArchiveDir } from './archive-layout.ts';
import { findResumePoint } from './archive-scan.ts';
import { failpoint } from '../failpoint.ts';

/** The archiver's consumer name in the hub stream (its committed position holds back retention). */
export const RAW_ARCHIVE_CONSUMER = 'raw-archive';

/** What the archiver needs from the hub stream (a port, so a test could hand it a fake). */
export type ArchiverStream = Pick<
  HubStream,
  'read' | 'lastPosition' | 'waitForData' | 'registerConsumer' | 'commitConsumer' | 'stats'
>;

export interface RawArchiverOptions {
  readonly stream: ArchiverStream;
  readonly dataDir: string;
  /** A file is written once its records reach this size (Firehose's buffer size). Default 5 MiB. */
  readonly bufferBytes?: number;
  /** …or this long after its first record was read (Firehose's buffer interval). Default 60 s. */
  readonly flushIntervalMs?: number;
  /** How often to look for appends made by other processes (same-process appends wake it at once). Default 1 s. */
  readonly pollMs?: number;
  /** Backoff after a failure: doubles from the minimum up to the maximum. Default 100 ms to 30 s. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Clock in epoch milliseconds for the flush interval and `lastFlushAt` (tests inject one). */
  readonly now?: () => number;
  readonly logError?: (message: string, error?: unknown) => void;
}

/** Stream positions that retention deleted before the archiver read them: lost to the archive. */
export interface ArchiveGap {
  readonly from: number;
  readonly to: number;
}

export interface ArchiverStatus {
  /** The last stream position in an archive file. */
  readonly position: number;
  /** `stream.lastPosition() - position`. */
  readonly lag: number;
  /** Files written, record bytes archived and gzip bytes stored, since start. */
  readonly files: number;
  readonly bytes: number;
  readonly storedBytes: number;
  /** Records read but not yet in a file. */
  readonly buffered: { readonly records: number; readonly bytes: number };
  /** False while a write (or read) keeps failing; true again after the next success. */
  readonly healthy: boolean;
  /** Failed attempts since the last success. */
  readonly retries: number;
  /** The most recent failure, kept after recovery for diagnosis. */
  readonly lastError?: string;
  readonly lastErrorAt?: number;
  readonly lastFlushAt?: number;
  /** The most recent gaps (at most 20) and how many positions were lost in all, since start. */
  readonly gaps: readonly ArchiveGap[];
  readonly missingPositions: number;
}

export interface RawArchiver {
  status(): ArchiverStatus;
  /** Resolves once everything the stream held when called is archived (tests, tools). */
  flush(): Promise<void>;
  /**
   * Writes the records it has buffered (one attempt: if that fails they are still in the stream and are archived
   * at the next start), then stops. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Records and bytes per read (a record larger than that is still read whole). The archiver shares its thread's
 * event loop, so it reads in small steps and yields between them: one read of a whole 5 MiB buffer held up
 * everything else on that loop for tens of milliseconds.
 */
const READ_LIMIT = 200;
const READ_BYTES = 256 * 1024;
const MAX_GAPS_KEPT = 20;

interface FlushWaiter {
  readonly target: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * The one-machine counterpart of Firehose → S3 `raw/`: consumes the hub stream and writes every record's bytes,
 * unchanged and in position order, into gzip NDJSON files under `<dataDir>/raw/YYYY/MM/DD/HH/`.
 *
 * Exactly-once across crashes comes from the file names: each names the stream range it holds and appears
 * atomically (temp, fsync, rename), so on start the archive itself says where to resume. The stream's consumer
 * position is only a retention hint, committed after each file.
 */
export async function startRawArchiver(options: RawArchiverOptions): Promise<RawArchiver> {
  const { stream } = options;
  const bufferBytes = positive(options.bufferBytes ?? 5 * 1024 * 1024, 'bufferBytes');
  const flushIntervalMs = positive(options.flushIntervalMs ?? 60_000, 'flushIntervalMs');
  const pollMs = positive(options.pollMs ?? 1000, 'pollMs');
  const retryMinMs = positive(options.retryMinMs ?? 100, 'retryMinMs');
  const retryMaxMs = Math.max(retryMinMs, positive(options.retryMaxMs ?? 30_000, 'retryMaxMs'));
  const now = options.now ?? Date.now;
  const logError = options.logError ?? ((message, error) => console.error(`raw archive: ${message}`, error ?? ''));
  const root = rawArchiveDir(options.dataDir);

  const resume = await findResumePoint(root);
  const streamLast = stream.lastPosition();
  if (resume.last > streamLast) {
    // Positions restart at 1 in a new stream file; archiving it after the old ranges would silently skip records.
    throw new Error(
      `the raw archive in ${root} holds stream positions up to ${resume.last}, but the hub stream ends at ` +
        `${streamLast}: the stream file was replaced. Move ${root} aside (or restore the stream file) and start again.`,
    );
  }
  stream.registerConsumer(RAW_ARCHIVE_CONSUMER);
  // The row lags the files after a crash between rename and commit, or is gone; the files are the truth.
  if (resume.last > 0) stream.commitConsumer(RAW_ARCHIVE_CONSUMER, resume.last);

  /** Last position in a final file. */
  let archived = resume.last;
  /** Every position up to here is archived or no longer exists in the stream (what `flush` waits for). */
  let covered = archived;
  /** Last position read into the buffer (or known to be gone). */
  let readUpTo = archived;
  let lastHour = resume.hour;
  let buffer: StreamEntry[] = [];
  let bufferedBytes = 0;
  let bufferStartedAt = 0;
  /** The next record does not fit: write before reading on. */
  let full = false;
  /** The last read found nothing new. */
  let drained = false;

  let files = 0;
  let bytes = 0;
  let storedBytes = 0;
  let healthy = true;
  let retries = 0;
  let backoffMs = retryMinMs;
  let lastError: string | undefined;
  let lastErrorAt: number | undefined;
  let lastFlushAt: number | undefined;
  let lastKnownStreamPosition = streamLast;
  const gaps: ArchiveGap[] = [];
  let missingPositions = 0;

  const waiters: FlushWaiter[] = [];
  let closing = false;
  let wake = new AbortController();
  const wakeUp = () => {
    wake.abort();
    wake = new AbortController();
  };

  const settleWaiters = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.target <= covered) waiters.splice(i, 1)[0]!.resolve();
    }
  };

  const due = (): boolean =>
    full ||
    bufferedBytes >= bufferBytes ||
    now() - bufferStartedAt >= flushIntervalMs ||
    (waiters.length > 0 && (drained || waiters.some((waiter) => waiter.target <= readUpTo)));

  const noteGap = (from: number, to: number) => {
    gaps.push({ from, to });
    if (gaps.length > MAX_GAPS_KEPT) gaps.shift();
    missingPositions += to - from + 1;
    logError(
      `stream positions ${from}-${to} were deleted by the stream's retention before they were archived; ` +
        `continuing at ${to + 1}`,
    );
  };

  const fail = (what: string, error: unknown) => {
    healthy = false;
    retries++;
    lastError = `${what}: ${messageOf(error)}`;
    lastErrorAt = now();
    logError(`${what}; retry ${retries} in ${backoffMs} ms (nothing is skipped: it resumes where it stopped)`, error);
  };

  const writeBuffer = async () => {
    const first = buffer[0]!;
    const last = buffer.at(-1)!;
    const hour = nextHour(lastHour, hourKey(first.appendedAt));
    const data = buffer.length === 1 ? first.data : Buffer.concat(buffer.map((entry) => entry.data), bufferedBytes);
    const written = await writeArchiveFile(root, hour, { first: first.position, last: last.position }, data);
    failpoint('raw-archive:after-rename');
    archived = last.position;
    covered = Math.max(covered, archived);
    lastHour = hour;
    files++;
    bytes += bufferedBytes;
    storedBytes += written.storedBytes;
    lastFlushAt = now();
    buffer = [];
    bufferedBytes = 0;
    full = false;
    healthy = true;
    retries = 0;
    backoffMs = retryMinMs;
    try {
      stream.commitConsumer(RAW_ARCHIVE_CONSUMER, archived);
    } catch (error) {
      // Only a retention hint: the next file commits a later position, and the files stay the truth.
      logError(`could not record position ${archived} in the hub stream (retention hint only)`, error);
    }
    settleWaiters();
  };

  const step = async () => {
    if (buffer.length > 0 && due()) {
      await writeBuffer();
      return;
    }
    const before = stream.lastPosition();
    lastKnownStreamPosition = before;
    // At most what still fits in the buffer (read returns one record even when it alone is larger).
    const entries = stream.read(readUpTo, READ_LIMIT, Math.max(1, Math.min(READ_BYTES, bufferBytes - bufferedBytes)));
    if (entries.length === 0) {
      drained = true;
      if (buffer.length === 0) {
        covered = Math.max(covered, before);
        settleWaiters();
      }
      if (buffer.length > 0 && due()) return;
      const untilDue = buffer.length > 0 ? bufferStartedAt + flushIntervalMs - now() : pollMs;
      await stream.waitForData(readUpTo, { timeoutMs: Math.max(1, Math.min(pollMs, untilDue)), signal: wake.signal });
      // Records may have arrived meanwhile: a flush must not cut the file before reading them.
      drained = false;
      return;
    }
    drained = false;
    const head = entries[0]!;
    if (head.position > readUpTo + 1) {
      noteGap(readUpTo + 1, head.position - 1);
      readUpTo = head.position - 1;
    }
    if (buffer.length > 0 && bufferedBytes + head.data.byteLength > bufferBytes) {
      // The file is as full as it gets; these records are read again after it is written.
      full = true;
      return;
    }
    if (buffer.length === 0) bufferStartedAt = now();
    for (const entry of entries) {
      buffer.push(entry);
      bufferedBytes += entry.data.byteLength;
    }
    readUpTo = entries.at(-1)!.position;
    if (bufferedBytes >= bufferBytes) full = true;
  };

  const loop = (async () => {
    while (!closing) {
      const writing = buffer.length > 0 && due();
      try {
        await step();
        // A step that read records resolves at once: without this, reading a whole buffer would be one long task.
        await new Promise<void>((resolve) => setImmediate(resolve));
      } catch (error) {
        fail(writing ? 'could not write an archive file' : 'could not read the hub stream', error);
        await sleep(backoffMs, wake.signal);
        backoffMs = Math.min(backoffMs * 2, retryMaxMs);
      }
    }
    if (buffer.length > 0) {
      try {
        await writeBuffer();
      } catch (error) {
        healthy = false;
        lastError = `could not write an archive file on close: ${messageOf(error)}`;
        lastErrorAt = now();
        logError(`could not write the last file on close; positions after ${archived} wait in the stream`, error);
      }
    }
    settleWaiters();
    for (const waiter of waiters.splice(0)) {
      waiter.reject(new Error(`the raw archiver closed at position ${archived} before reaching ${waiter.target}`));
    }
  })();

  let closed: Promise<void> | undefined;
  return {
    status() {
      try {
        lastKnownStreamPosition = stream.lastPosition();
      } catch {
        // A closed stream: report the last position seen rather than fail a health check.
      }
      return {
        position: archived,
        lag: Math.max(0, lastKnownStreamPosition - archived),
        files,
        bytes,
        storedBytes,
        buffered: { records: buffer.length, bytes: bufferedBytes },
        healthy,
        retries,
        ...(lastError !== undefined && { lastError, lastErrorAt }),
        ...(lastFlushAt !== undefined && { lastFlushAt }),
        gaps: [...gaps],
        missingPositions,
      };
    },
    async flush() {
      if (closing) throw new Error('the raw archiver is closed');
      const target = stream.lastPosition();
      if (target <= covered) return;
      await new Promise<void>((resolve, reject) => {
        waiters.push({ target, resolve, reject });
        wakeUp();
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        wakeUp();
        await loop;
      })();
      return closed;
    },
  };
}

/**
 * Files go into the hour of their first record's `appendedAt`, except that a file never goes into an hour older
 * than the previous file's (appends from several processes, or a clock stepped back, can make `appendedAt` dip).
 * Directory order then equals position order, which lets the start-up scan stop at the newest directory.
 */
function nextHour(previous: string | undefined, candidate: string): string {
  return previous !== undefined && previous > candidate ? previous : candidate;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}
