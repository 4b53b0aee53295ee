/**
 * The one-machine hub stream: an append-only log in a SQLite file that stands in for the Kinesis stream.
 *
 * Producers append through the sink port (`putRecords`); consumers (archiver, Delta writer) read by position and
 * keep their own committed position here so retention never deletes what they have not read.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { FailedRecord, HubRecord, PutRecordsResult, RecordSink } from '../../adapters/sink.ts';
import { StreamUnavailableError } from '../../core/errors.ts';
import { LIMITS } from '../../core/limits.ts';

export interface HubStreamOptions {
  /** The SQLite file; its parent directory is created. */
  readonly path: string;
  /** Records older than this may be deleted once every registered consumer has read them. Default 24 hours. */
  readonly retentionMs?: number;
  /** How often `trim()` runs on its own; 0 turns the timer off. Default 1 minute. */
  readonly trimIntervalMs?: number;
  /** How long a write waits for another process holding the write lock before failing. Default 5 s. */
  readonly busyTimeoutMs?: number;
  /** Clock in epoch milliseconds (tests inject one). */
  readonly now?: () => number;
}

export interface StreamEntry {
  /** Strictly increasing, never reused (not even after retention deleted older records). Starts at 1. */
  readonly position: number;
  readonly partitionKey: string;
  readonly data: Buffer;
  /** Epoch milliseconds when the append committed. */
  readonly appendedAt: number;
}

export interface AppendResult extends PutRecordsResult {
  /** One per input record: its stream position, or null when it is listed in `failed`. */
  readonly positions: ReadonlyArray<number | null>;
}

export interface HubStreamStats {
  /** The highest position ever assigned (it survives trimming); 0 when nothing was ever appended. */
  readonly lastPosition: number;
  /** The oldest retained position; null when no record is retained. */
  readonly oldestPosition: number | null;
  /** Retained records. */
  readonly records: number;
  /** Committed position of every registered consumer. */
  readonly consumers: Readonly<Record<string, number>>;
  /** Group-commit transactions committed / failed by this process since `open`. */
  readonly commits: number;
  readonly failedCommits: number;
}

export interface WaitOptions {
  /** Give up waiting after this long; appends by other processes are only seen this way. Default 1 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** The page size of a new stream file. */
const PAGE_SIZE = 16 * 1024;
/** The WAL is folded back into the file once it holds this much: SQLite's default (1000 pages of 4 KiB). */
const CHECKPOINT_BYTES = 4000 * 1024;

/** wal_autocheckpoint (counted in pages) for CHECKPOINT_BYTES at the file's own page size. */
function checkpointPages(db: Database.Database): number {
  return Math.max(1, Math.round(CHECKPOINT_BYTES / Number(db.pragma('page_size', { simple: true }))));
}

interface PendingAppend {
  readonly records: readonly HubRecord[];
  /** Indices into `records` that passed validation and go into the transaction. */
  readonly valid: readonly number[];
  readonly rejected: readonly FailedRecord[];
  readonly resolve: (result: AppendResult) => void;
}

interface Waiter {
  readonly afterPosition: number;
  readonly done: () => void;
}

type Statements = ReturnType<typeof prepareStatements>;

type Row = { position: number; partition_key: string; data: Buffer; appended_at: number };

export class HubStream implements RecordSink {
  static open(options: HubStreamOptions): HubStream {
    mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    try {
      // busy_timeout first: switching to WAL needs a lock another process may briefly hold.
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      // Only a new file takes it (an existing one keeps its own). Records are a few to a few hundred KiB, and
      // SQLite writes the WAL and checkpoints page by page, two system calls a page: larger pages mean far fewer.
      db.pragma(`page_size = ${PAGE_SIZE}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not switch ${options.path} to WAL (got ${mode})`);
      // FULL: a resolved append must survive power loss, not only a process kill.
      db.pragma('synchronous = FULL');
      db.pragma(`wal_autocheckpoint = ${checkpointPages(db)}`);
      db.exec(`
        CREATE TABLE IF NOT EXISTS records (
          position INTEGER PRIMARY KEY AUTOINCREMENT,
          partition_key TEXT NOT NULL,
          data BLOB NOT NULL,
          appended_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS consumers (
          name TEXT PRIMARY KEY,
          position INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS meta (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL
        );
      `);
      // The stream's identity: positions restart at 1 in a new stream file, so a consumer that keeps its position
      // elsewhere (the Delta table's txn) must know which stream a position belongs to.
      db.prepare("INSERT INTO meta (key, value) VALUES ('stream_id', ?) ON CONFLICT (key) DO NOTHING").run(randomUUID());
      return new HubStream(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  readonly path: string;
  /** A random id given to the stream file when it is created; positions are meaningful only within it. */
  readonly id: string;
  readonly retentionMs: number;
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #stmt: Statements;
  /** Started on the first append: a consumer-only handle (another thread's) never needs a writer thread. */
  #writer: AppendWriter | undefined;
  readonly #busyTimeoutMs: number;
  readonly #trimTimer: NodeJS.Timeout | undefined;

  /** Appends of the current tick, not sent to the writer yet. */
  #queue: PendingAppend[] = [];
  #sendScheduled = false;
  /** Messages sent to the writer and not answered yet. */
  #unanswered = 0;
  /** Resolved when nothing is queued or unanswered any more (close waits for it). */
  #drained: (() => void) | undefined;
  #waiters = new Set<Waiter>();
  #closing: Promise<void> | undefined;

  private constructor(db: Database.Database, options: HubStreamOptions) {
    this.#db = db;
    this.path = options.path;
    this.retentionMs = options.retentionMs ?? DAY_MS;
    this.#now = options.now ?? Date.now;
    this.#stmt = prepareStatements(db);
    this.id = (db.prepare("SELECT value FROM meta WHERE key = 'stream_id'").get() as { value: string }).value;
    this.#busyTimeoutMs = Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000));

    const trimIntervalMs = options.trimIntervalMs ?? 60_000;
    if (trimIntervalMs > 0) {
      this.#trimTimer = setInterval(() => {
        try {
          this.trim();
        } catch {
          // A busy or failing disk is retried at the next tick; appends report their own failures.
        }
      }, trimIntervalMs);
      this.#trimTimer.unref();
    }
  }

  /** The sink port. Resolves once every record not in `failed` is committed to disk. */
  async putRecords(records: readonly HubRecord[]): Promise<PutRecordsResult> {
    const { failed } = await this.append(records);
    return { failed };
  }

  /**
   * `putRecords` that also reports the position each record got. Appends made in the same tick are committed
   * together in one transaction (group commit): one fsync for many callers. A failing transaction fails every
   * record of the group (`stream_unavailable`); nothing is partially acknowledged.
   */
  append(records: readonly HubRecord[]): Promise<AppendResult> {
    if (this.#closing) return Promise.reject(new StreamUnavailableError('The hub stream is closed'));
    const valid: number[] = [];
    const rejected: FailedRecord[] = [];
    records.forEach((record, index) => {
      const problem = checkRecord(record);
      if (problem) rejected.push({ index, ...problem });
      else valid.push(index);
    });
    if (valid.length === 0) {
      return Promise.resolve({ failed: rejected, positions: records.map(() => null) });
    }
    return new Promise<AppendResult>((resolve) => {
      this.#queue.push({ records, valid, rejected, resolve });
      this.#scheduleSend();
    });
  }

  /**
   * Records after `afterPosition`, in position order: at most `limit`, and stopping before `maxBytes` of data
   * would be exceeded (but always at least one record, so a reader cannot get stuck behind a large one).
   */
  read(afterPosition: number, limit: number, maxBytes = Number.POSITIVE_INFINITY): StreamEntry[] {
    this.#assertOpen();
    const entries: StreamEntry[] = [];
    let bytes = 0;
    for (const row of this.#stmt.read.iterate(afterPosition, Math.max(0, Math.trunc(limit)))) {
      if (entries.length > 0 && bytes + row.data.byteLength > maxBytes) break;
      bytes += row.data.byteLength;
      entries.push({ position: row.position, partitionKey: row.partition_key, data: row.data, appendedAt: row.appended_at });
    }
    return entries;
  }

  /** The highest position ever assigned, also by other processes; 0 when nothing was ever appended. */
  lastPosition(): number {
    this.#assertOpen();
    return this.#stmt.lastPosition.get()?.seq ?? 0;
  }

  /**
   * Resolves when an append in this process commits past `afterPosition`, when data is already there, after
   * `timeoutMs` (appends by other processes are only noticed by the caller reading again), on abort or on close.
   * It never rejects: a consumer loop re-reads and checks its own stop condition.
   */
  waitForData(afterPosition: number, options: WaitOptions = {}): Promise<void> {
    if (this.#closing || options.signal?.aborted || this.lastPosition() > afterPosition) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', done);
        this.#waiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { afterPosition, done };
      const timer = setTimeout(done, options.timeoutMs ?? 1000);
      options.signal?.addEventListener('abort', done, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** Registers a consumer (a new one starts at 0: it reads from the oldest retained record); returns its position. */
  registerConsumer(name: string): number {
    this.#assertOpen();
    this.#stmt.registerConsumer.run(name, this.#now());
    return this.consumerPosition(name)!;
  }

  /** The committed position of a consumer, or undefined when it is not registered. */
  consumerPosition(name: string): number | undefined {
    this.#assertOpen();
    return this.#stmt.consumerPosition.get(name)?.position;
  }

  /**
   * Records that `name` has processed everything up to `position`. A position never moves backwards (an older
   * commit arriving late is ignored); an unknown consumer is registered. Returns the resulting position.
   */
  commitConsumer(name: string, position: number): number {
    this.#assertOpen();
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new RangeError(`consumer position must be a non-negative integer, got ${position}`);
    }
    const last = this.lastPosition();
    if (position > last) throw new RangeError(`consumer position ${position} is past the last position ${last}`);
    this.#stmt.commitConsumer.run(name, position, this.#now());
    return this.consumerPosition(name)!;
  }

  /** Forgets a consumer, so it no longer holds back retention. */
  removeConsumer(name: string): boolean {
    this.#assertOpen();
    return this.#stmt.removeConsumer.run(name).changes > 0;
  }

  /**
   * Deletes records older than the retention that every registered consumer has read (with no consumer, age
   * alone decides). Runs on a timer; returns how many records it deleted.
   */
  trim(): number {
    this.#assertOpen();
    const cutoff = this.#now() - this.retentionMs;
    const run = this.#db.transaction((): number => {
      const { position: minConsumer, consumers } = this.#stmt.minConsumer.get()!;
      const readUpTo = consumers > 0 ? (minConsumer ?? 0) : this.lastPosition();
      if (readUpTo <= 0) return 0;
      const keepFrom = this.#stmt.firstKept.get(readUpTo, cutoff)?.position ?? readUpTo + 1;
      return this.#stmt.deleteBefore.run(keepFrom).changes;
    });
    return run.immediate();
  }

  stats(): HubStreamStats {
    this.#assertOpen();
    const { oldest: oldestPosition, newest } = this.#stmt.ends.get()!;
    // Positions are contiguous: appends take the next one, and trimming deletes only from the oldest end.
    const records = oldestPosition === null || newest === null ? 0 : newest - oldestPosition + 1;
    // fromEntries defines own properties, so a consumer named "__proto__" cannot touch the prototype.
    const consumers = Object.fromEntries(this.#stmt.consumers.all().map((row) => [row.name, row.position]));
    return {
      lastPosition: this.lastPosition(),
      oldestPosition,
      records,
      consumers,
      commits: this.#writer?.commits ?? 0,
      failedCommits: this.#writer?.failedCommits ?? 0,
    };
  }

  /**
   * Stops taking appends (later `putRecords` reject with StreamUnavailableError), lets the queued group commit
   * finish so its callers still get their answer, then checkpoints the WAL and closes the file. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#queue.length > 0 || this.#unanswered > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      if (this.#trimTimer) clearInterval(this.#trimTimer);
      for (const waiter of [...this.#waiters]) waiter.done();
      try {
        // Folds the WAL back into the main file; fails harmlessly when another process still reads it.
        this.#db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // The WAL stays valid; the next opener checkpoints it.
      }
      await this.#writer?.close();
      this.#db.close();
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (!this.#db.open) throw new StreamUnavailableError('The hub stream is closed');
  }

  #scheduleSend(): void {
    if (this.#sendScheduled) return;
    this.#sendScheduled = true;
    // setImmediate lets every append made in this tick go to the writer in one message.
    setImmediate(() => this.#send());
  }

  /**
   * Sends the tick's appends to the writer in one message, without waiting for the commit before. The writer
   * commits every message that reached it while its previous transaction ran in its next one (group commit, one
   * fsync for many callers), so a commit starts as soon as the previous one ends instead of after a round trip
   * through this thread, and takes everything that is waiting.
   */
  #send(): void {
    this.#sendScheduled = false;
    const groups = this.#queue;
    this.#queue = [];
    if (groups.length === 0) return;
    const keys: string[] = [];
    const lengths: number[] = [];
    let total = 0;
    for (const group of groups) {
      for (const index of group.valid) {
        const record = group.records[index]!;
        keys.push(record.partitionKey);
        lengths.push(record.data.byteLength);
        total += record.data.byteLength;
      }
    }
    // One buffer for all the data, handed over to the writer thread rather than copied into the message; not
    // zero-filled first, every byte is written below.
    const data = Buffer.allocUnsafeSlow(total);
    let offset = 0;
    for (const group of groups) {
      for (const index of group.valid) {
        const bytes = group.records[index]!.data;
        data.set(bytes, offset);
        offset += bytes.byteLength;
      }
    }
    this.#writer ??= new AppendWriter(this.path, this.#busyTimeoutMs, checkpointPages(this.#db));
    this.#unanswered++;
    void this.#writer.append(keys, lengths, data, this.#now()).then((result) => {
      this.#unanswered--;
      this.#settle(groups, result);
      if (this.#unanswered === 0 && this.#queue.length === 0) this.#drained?.();
    });
  }

  #settle(groups: readonly PendingAppend[], flat: { positions: number[] } | { error: string }): void {
    if ('error' in flat) {
      const message = `The hub stream could not commit: ${flat.error}`;
      for (const group of groups) {
        const failed = [
          ...group.rejected,
          ...group.valid.map((index) => ({ index, code: 'stream_unavailable', message })),
        ].sort((a, b) => a.index - b.index);
        group.resolve({ failed, positions: group.records.map(() => null) });
      }
      return;
    }
    let next = 0;
    for (const group of groups) {
      const assigned: Array<number | null> = group.records.map(() => null);
      for (const index of group.valid) assigned[index] = flat.positions[next++]!;
      group.resolve({ failed: group.rejected, positions: assigned });
    }
    const last = flat.positions.at(-1);
    if (last !== undefined) {
      for (const waiter of [...this.#waiters]) if (last > waiter.afterPosition) waiter.done();
    }
  }
}

/**
 * The worker thread that commits appends (append-worker.mjs). Appends are sent as they come; the worker commits
 * everything that reached it while its previous transaction ran in its next one, and answers for each append.
 */
class AppendWriter {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (reply: { positions: number[] } | { error: string }) => void>();
  #nextId = 0;
  #failure: string | undefined;
  /** Transactions committed / failed (an append refused because the writer is gone counts as failed too). */
  commits = 0;
  failedCommits = 0;

  constructor(path: string, busyTimeoutMs: number, checkpointPages: number) {
    this.#worker = new Worker(new URL('./append-worker.mjs', import.meta.url), {
      workerData: { path, busyTimeoutMs, checkpointPages },
    });
    this.#worker.unref();
    this.#worker.on('message', (reply: { ids?: number[]; counts?: number[]; positions?: number[]; error?: string }) => {
      if (reply.ids === undefined) return;
      if (reply.error === undefined) this.commits++;
      else this.failedCommits++;
      let next = 0;
      reply.ids.forEach((id, i) => {
        const settle = this.#pending.get(id);
        this.#pending.delete(id);
        if (reply.error !== undefined) settle?.({ error: reply.error });
        else {
          const count = reply.counts![i]!;
          settle?.({ positions: reply.positions!.slice(next, next + count) });
          next += count;
        }
      });
    });
    // A dead writer fails every waiting append rather than leaving it hanging; nothing was acknowledged.
    const fail = (reason: string) => {
      if (this.#failure === undefined && this.#pending.size > 0) this.failedCommits++;
      this.#failure = reason;
      for (const settle of this.#pending.values()) settle({ error: reason });
      this.#pending.clear();
    };
    this.#worker.on('error', (error) => fail(`the stream writer failed: ${error.message}`));
    this.#worker.on('exit', (code) => fail(`the stream writer exited (${code})`));
  }

  /** `data` holds the records' bytes one after the other (`lengths`); it is transferred, not copied. */
  append(keys: string[], lengths: number[], data: Buffer<ArrayBuffer>, appendedAt: number): Promise<{ positions: number[] } | { error: string }> {
    if (this.#failure !== undefined) {
      this.failedCommits++;
      return Promise.resolve({ error: this.#failure });
    }
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker.postMessage({ id, keys, lengths, data, appendedAt }, [data.buffer]);
    });
  }

  async close(): Promise<void> {
    if (this.#failure !== undefined) return;
    await new Promise<void>((resolve) => {
      this.#worker.once('exit', () => resolve());
      this.#worker.on('message', (reply: { closed?: boolean }) => {
        if (reply.closed) void this.#worker.terminate();
      });
      this.#worker.postMessage({ close: true });
    });
  }
}

/** Prepared once: every call on the hot path reuses them. */
function prepareStatements(db: Database.Database) {
  return {
    read: db.prepare<[number, number], Row>(
      'SELECT position, partition_key, data, appended_at FROM records WHERE position > ? ORDER BY position LIMIT ?',
    ),
    // sqlite_sequence keeps the last AUTOINCREMENT value even after every row was deleted.
    lastPosition: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'records'"),
    // Both ends of the primary key: two lookups, one per subquery (SQLite reads only the first or last row for a
    // lone MIN or MAX; both in one SELECT, or COUNT(*), read every page of the table, and /health asks often).
    ends: db.prepare<[], { oldest: number | null; newest: number | null }>(
      'SELECT (SELECT MIN(position) FROM records) AS oldest, (SELECT MAX(position) FROM records) AS newest',
    ),
    registerConsumer: db.prepare<[string, number]>(
      'INSERT INTO consumers (name, position, updated_at) VALUES (?, 0, ?) ON CONFLICT (name) DO NOTHING',
    ),
    consumerPosition: db.prepare<[string], { position: number }>('SELECT position FROM consumers WHERE name = ?'),
    commitConsumer: db.prepare<[string, number, number]>(
      `INSERT INTO consumers (name, position, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET position = max(position, excluded.position), updated_at = excluded.updated_at`,
    ),
    removeConsumer: db.prepare<[string]>('DELETE FROM consumers WHERE name = ?'),
    consumers: db.prepare<[], { name: string; position: number }>('SELECT name, position FROM consumers ORDER BY name'),
    minConsumer: db.prepare<[], { position: number | null; consumers: number }>(
      'SELECT MIN(position) AS position, COUNT(*) AS consumers FROM consumers',
    ),
    // The first record that is still young (or past the limit) bounds the deletable prefix, so trimming only
    // visits the rows it deletes instead of scanning every retained record.
    firstKept: db.prepare<[number, number], { position: number }>(
      'SELECT position FROM records WHERE position <= ? AND appended_at >= ? ORDER BY position LIMIT 1',
    ),
    deleteBefore: db.prepare<[number]>('DELETE FROM records WHERE position < ?'),
  };
}

/** Same rules as the Kinesis adapter, so a record the local stream takes would be taken on AWS too. */
function checkRecord(record: HubRecord): { code: string; message: string } | undefined {
  const keyLength = record.partitionKey.length;
  if (keyLength < 1 || keyLength > 256) {
    return { code: 'invalid_value', message: `partition key must be 1-256 characters, got ${keyLength}` };
  }
  // Kinesis counts the partition key towards the record size limit.
  const size = record.data.byteLength + Buffer.byteLength(record.partitionKey, 'utf8');
  if (size > LIMITS.recordMaxBytes) {
    return {
      code: 'too_large',
      message: `record is ${size} bytes with its partition key; the limit is ${LIMITS.recordMaxBytes}`,
    };
  }
  return undefined;
}

/** better-sqlite3 binds Buffers as BLOBs; wrap the caller's bytes without copying. */
