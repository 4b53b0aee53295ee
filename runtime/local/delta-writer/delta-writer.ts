import { appendFile, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Action, AddFile } from '../../delta/actions.ts';
import { isCheckpointVersion, writeCheckpoint } from '../../delta/checkpoint-writer.ts';
import type { AppendResult } from '../../delta/commit.ts';
import { appendWithRetry, commitActions } from '../../delta/commit.ts';
import { createTable } from '../../delta/create-table.ts';
import type { DataFileBatch } from '../../delta/data-file-batch.ts';
import { openDataFileBatch } from '../../delta/data-file-batch.ts';
import { DeltaCommitConflictError } from '../../delta/errors.ts';
import { advanceSnapshot, dataFilePath, loadSnapshot, txnVersion } from '../../delta/snapshot.ts';
import { decodeHubRecord } from '../../core/stored-row.ts';
import { dataPaths } from '../data-paths.ts';
import type { HubStream } from '../stream/hub-stream.ts';
import type { PositionedRecord } from './dedup-index.ts';
import { DedupIndex } from './dedup-index.ts';
import { EVENTS_PARTITION_COLUMNS, EVENTS_SCHEMA, eventsTablePath } from './events-table.ts';
import { failpoint } from '../failpoint.ts';

export interface DeltaWriterOptions {
  readonly stream: HubStream;
  readonly dataDir: string;
  /** A micro-batch is committed this long after its first record arrived (or sooner, see maxBatchRows). */
  readonly windowMs?: number;
  /**
   * A micro-batch is committed as soon as it holds this many rows (checked after each read, so it may exceed it
   * by one read). The window should decide under live load, as Glue's trigger does: each commit adds a file per
   * partition to the table and to every checkpoint after it. The cap bounds a batch when the writer catches up on
   * a backlog: the batch's rows wait in a DuckDB temp table, and nothing reaches the table until it commits.
   */
  readonly maxBatchRows?: number;
  /** The dedup window, server time. */
  readonly dedupWindowMs: number;
  readonly checkpointInterval?: number;
  /** How long to wait for new records before looking again; appends from other threads are seen only then. */
  readonly idlePollMs?: number;
  readonly now?: () => number;
  readonly logError?: (message: string, error: unknown) => void;
}

export interface DeltaWriterStatus {
  readonly tablePath: string;
  readonly appId: string;
  /** The last stream position committed to the table (its txn). */
  readonly position: number;
  /** Stream positions not yet in the table. */
  readonly lag: number;
  readonly tableVersion: number | undefined;
  readonly commits: number;
  readonly rowsWritten: number;
  readonly duplicatesDropped: number;
  readonly quarantinedLines: number;
  readonly healthy: boolean;
  readonly lastError?: string;
  readonly lastCommitAt?: number;
}

export interface DeltaWriter {
  status(): DeltaWriterStatus;
  /** Resolves once everything appended so far is committed to the table (tests, shutdown). */
  drain(): Promise<void>;
  /** Commits the batch in progress, then stops. */
  close(): Promise<void>;
}

/**
 * A read takes at most this many records and this many bytes (always at least one record): about 2 000 typical
 * rows. Each chunk's row objects are dead before the next chunk is read, and a chunk this small stays well inside
 * V8's young generation, so they die there: chunks of 20 000 rows lived through scavenges into the old generation
 * and cost 15–30 % more CPU per row (test/bench/writer.ts).
 */
const READ_CHUNK = 200;
const READ_CHUNK_BYTES = 512 * 1024;
const MAX_BACKOFF_MS = 30_000;
/**
 * How often expired dedup keys are deleted (at most; a shorter dedup window sets the pace). Only the index's size
 * depends on it: every row is checked against its key's first receipt, expired or not.
 */
const EXPIRE_EVERY_MS = 60_000;

/**
 * The one-machine counterpart of the Glue streaming job: it consumes the hub stream in micro-batches, applies the
 * dedup rule, writes Parquet, and commits one Delta version per batch carrying `txn {appId, version = last stream
 * position}`. The table's own txn is where it resumes after a restart, so a stream position is never written
 * twice (exactly-once from stream to table) and never skipped: on any failure it retries the same batch.
 */
export async function startDeltaWriter(options: DeltaWriterOptions): Promise<DeltaWriter> {
  const { stream } = options;
  const windowMs = options.windowMs ?? 5000;
  // A 5 s window at 35,000 events/s (the soak) holds 175,000 rows. With a cap of 50,000 the soak committed 40
  // times a minute instead of 12, and its memory kept rising with the table (+1.1 MiB a minute after warm-up; with
  // this cap it is flat). A batch of 250,000 rows peaks about 40 MiB higher than one of 50,000, at the same CPU per
  // row (test/bench/writer.ts).
  const maxBatchRows = options.maxBatchRows ?? 250_000;
  const checkpointInterval = options.checkpointInterval ?? 10;
  const idlePollMs = options.idlePollMs ?? 1000;
  const now = options.now ?? Date.now;
  const logError = options.logError ?? ((message, error) => console.error(message, error));
  const tablePath = eventsTablePath(options.dataDir);
  const workDir = dataPaths(options.dataDir).deltaWriter;
  // Positions mean something only within one stream file, so the txn appId names the stream.
  const appId = `hub-stream-${stream.id}`;

  await createTable(tablePath, {
    schema: EVENTS_SCHEMA,
    partitionColumns: [...EVENTS_PARTITION_COLUMNS],
    name: 'events',
    description: 'Game telemetry events (delta-lake-game-telemetry)',
  });
  /**
   * The table as of some version at or before `tableVersion`. A checkpoint is built from it and the few commits
   * since, not from the previous checkpoint: reading that back costs time and memory in proportion to the whole
   * table (at 3,000 files, each read raised RSS by up to 90 MiB) and came every ten commits.
   */
  let snapshot = await loadSnapshot(tablePath);
  let position = txnVersion(snapshot, appId) ?? 0;
  let tableVersion: number | undefined = snapshot.version;
  const index = DedupIndex.open({ path: join(workDir, 'dedup.sqlite'), windowMs: options.dedupWindowMs });
  // Keys recorded for a batch that never reached the table belong to positions after its txn.
  index.rollbackAfter(position);
  stream.registerConsumer('delta-writer');

  let commits = 0;
  let rowsWritten = 0;
  let duplicatesDropped = 0;
  let quarantinedLines = 0;
  let lastError: string | undefined;
  let lastCommitAt: number | undefined;
  let failures = 0;
  let lastExpiry = 0;
  let stopping = false;
  const stopController = new AbortController();
  const drainWaiters: Array<{ target: number; resolve: () => void }> = [];
  /**
   * Data files of attempts that failed after writing them: their commit may or may not have landed (an error can
   * come after the commit file was linked). The next commit of ours settles it, and then they are deleted, so a
   * lasting fault does not leave a copy of the batch behind on every retry.
   */
  const unconfirmed: AddFile[] = [];
  const discard = (files: readonly AddFile[]) =>
    Promise.all(files.map((file) => unlink(dataFilePath(tablePath, file.path)).catch(() => undefined)));

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopController.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });

  /**
   * One micro-batch, from the first new record until the window closes or the batch is full. Each chunk is
   * decoded, deduplicated and loaded into DuckDB as it arrives, so the work is spread over the window and the
   * rows' JavaScript objects die young; the window's end only writes the Parquet files and commits.
   */
  async function runBatch(): Promise<void> {
    let batch: DataFileBatch | undefined;
    const invalid: string[] = [];
    let rows = 0;
    let admittedRows = 0;
    let deadline = Number.POSITIVE_INFINITY;
    let after = position;
    /** Files written by this attempt while its commit's outcome is unknown. */
    let pending: AddFile[] = [];
    try {
      // After a failed attempt the index may hold keys of this batch; the table's txn says they are not in.
      if (failures > 0) index.rollbackAfter(position);
      while (!stopping || after === position) {
        const chunk = stream.read(after, READ_CHUNK, READ_CHUNK_BYTES);
        if (chunk.length > 0) {
          if (after === position) {
            deadline = now() + windowMs;
            index.beginBatch();
          }
          const records: PositionedRecord[] = [];
          for (const entry of chunk) {
            const decoded = decodeHubRecord(entry.data);
            records.push({ rows: decoded.rows, position: entry.position });
            rows += decoded.rows.length;
            for (const line of decoded.invalid) {
              invalid.push(JSON.stringify({ position: entry.position, line: line.line, error: line.code, message: line.message }));
            }
          }
          const admitted = index.admitRecords(records);
          batch ??= await openDataFileBatch({ tablePath, schema: EVENTS_SCHEMA, partitionColumns: EVENTS_PARTITION_COLUMNS });
          batch.append(admitted);
          admittedRows += admitted.length;
          after = chunk.at(-1)!.position;
          if (rows >= maxBatchRows) break;
          // A drain asked for everything so far: no need to wait out the window.
          if (drainWaiters.length > 0 && after >= stream.lastPosition()) break;
          continue;
        }
        if (stopping) break;
        if (after > position && (now() >= deadline || drainWaiters.length > 0)) break;
        const timeout = Math.min(idlePollMs, after > position ? Math.max(1, deadline - now()) : idlePollMs);
        await stream.waitForData(after, { timeoutMs: timeout, signal: stopController.signal });
      }
      if (after === position) return;
      const last = after;
      // Bad lines never reach the table and are never silently dropped: they are kept with their reason.
      if (invalid.length > 0) {
        await mkdir(join(workDir, 'quarantine'), { recursive: true });
        await appendFile(join(workDir, 'quarantine', `upto-${String(last).padStart(20, '0')}.ndjson`), `${invalid.join('\n')}\n`);
      }
      // DuckDB writes the Parquet files on its own thread while this one makes the batch's keys durable (the index's
      // commit and its fsyncs), instead of one after the other.
      const finishing = batch ? batch.finish() : Promise.resolve([]);
      batch = undefined;
      let keysFailed: { error: unknown } | undefined;
      try {
        // The batch's keys are durable before the table can hold its rows: a crash from here on leaves keys of
        // positions after the table's txn, which the next start forgets (rollbackAfter) and admits again. So does
        // a failure of the files after this commit: the retry begins with rollbackAfter.
        index.commitBatch();
      } catch (error) {
        keysFailed = { error };
      }
      const adds = await finishing;
      pending = adds;
      if (keysFailed !== undefined) throw keysFailed.error;
      failpoint('delta-writer:before-commit');
      const commitOptions = {
        operation: 'STREAMING UPDATE',
        operationParameters: { outputMode: 'Append', queryId: appId, epochId: String(last) },
        isBlindAppend: true,
      };
      const actions: Action[] = [{ txn: { appId, version: last, lastUpdated: now() } }, ...adds.map((add) => ({ add }))];
      let result: AppendResult | { committed: true; version: number } | undefined;
      if (tableVersion !== undefined) {
        // The usual case: nobody else writes this table, so the next version is ours without replaying the log.
        // The commit is an exclusive create, so a writer that got there first makes this fail, never overwritten.
        try {
          result = { committed: true, version: (await commitActions(tablePath, tableVersion + 1, actions, { ...commitOptions, readVersion: tableVersion })).version };
        } catch (error) {
          if (!(error instanceof DeltaCommitConflictError)) throw error;
        }
      }
      result ??= await appendWithRetry(tablePath, {
        ...commitOptions,
        // The table's txn is already past where this batch starts: an earlier attempt of ours whose commit landed
        // although it reported an error (an I/O error after the link, fsyncing the log directory), or another writer
        // of this stream, holds some or all of these positions. Committing the batch would store them twice.
        buildActions: (current) => ((txnVersion(current, appId) ?? 0) > position ? null : actions),
      });
      failpoint('delta-writer:after-commit');
      pending = [];
      if (result.committed) {
        position = last;
        tableVersion = result.version;
        commits++;
        rowsWritten += admittedRows;
        duplicatesDropped += rows - admittedRows;
        quarantinedLines += invalid.length;
        lastCommitAt = now();
        // This commit took the version after the last one we knew, or was built on a snapshot whose txn was still
        // `position`: no earlier failed attempt's commit landed, so nothing references their files.
        await discard(unconfirmed.splice(0));
        if (isCheckpointVersion(result.version, checkpointInterval)) await checkpoint(result.version);
      } else {
        // The table moved on without this batch: resume from its txn, forget the keys recorded after it, and drop
        // this attempt's files, which no commit references. Earlier attempts' files may be the ones in the table.
        position = Math.max(position, txnVersion(result.snapshot, appId) ?? position);
        tableVersion = result.snapshot.version;
        snapshot = result.snapshot;
        unconfirmed.length = 0;
        await discard(adds);
        index.rollbackAfter(position);
      }
      stream.commitConsumer('delta-writer', position);
      if (now() - lastExpiry >= Math.min(EXPIRE_EVERY_MS, options.dedupWindowMs)) {
        index.expire();
        lastExpiry = now();
      }
    } finally {
      // A batch that failed before its keys were committed takes them back (committed ones wait for rollbackAfter).
      try {
        index.abortBatch();
      } catch (error) {
        logError('could not roll back the dedup index; the next batch tries again', error);
      }
      await batch?.abort();
      unconfirmed.push(...pending);
    }
  }

  async function checkpoint(version: number): Promise<void> {
    try {
      // Falls back to reading the log afresh when it cannot advance (say, the log was cleaned up past it).
      snapshot = await advanceSnapshot(snapshot, version).catch(() => loadSnapshot(tablePath, { version }));
      await writeCheckpoint(snapshot);
    } catch (error) {
      // A missing checkpoint only slows readers down; the commit itself is done.
      logError('checkpoint failed', error);
    }
  }

  const loop = (async () => {
    while (!stopping) {
      try {
        await runBatch();
        failures = 0;
        lastError = undefined;
      } catch (error) {
        // Never skip: the same positions are read and tried again after a pause.
        failures++;
        lastError = error instanceof Error ? error.message : String(error);
        logError('the Delta writer could not commit a batch; retrying', error);
        await wait(Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures, 12)));
      }
      for (const waiter of [...drainWaiters]) {
        if (position >= waiter.target) {
          drainWaiters.splice(drainWaiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    }
  })();

  return {
    status() {
      const last = stream.lastPosition();
      return {
        tablePath,
        appId,
        position,
        lag: Math.max(0, last - position),
        tableVersion,
        commits,
        rowsWritten,
        duplicatesDropped,
        quarantinedLines,
        healthy: lastError === undefined,
        ...(lastError === undefined ? {} : { lastError }),
        ...(lastCommitAt === undefined ? {} : { lastCommitAt }),
      };
    },
    drain() {
      const target = stream.lastPosition();
      if (position >= target) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push({ target, resolve }));
    },
    async close() {
      stopping = true;
      stopController.abort();
      await loop;
      // What was read but not committed stays in the stream and the next start picks it up.
      index.close();
      for (const waiter of drainWaiters.splice(0)) waiter.resolve();
    },
  };
}
