import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { dedupIdentity } from '../../core/dedup-key.ts';
import type { StoredRow } from '../../core/event.ts';
import { epochMicros } from '../../core/timestamp.ts';

/** A decoded row and the hub-stream position of the record it came from. */
export interface PositionedRow {
  readonly row: StoredRow;
  readonly position: number;
}

/** The decoded rows of one hub-stream record and its position: the writer's unit, with no object per row. */
export interface PositionedRecord {
  readonly rows: readonly StoredRow[];
  readonly position: number;
}

/**
 * The local Delta writer's memory of which events it has stored, for the dedup rule: a row whose key was first
 * received within `windowMs` of it (by `received_at`, server time) is a re-send and is dropped. Entries expire with
 * the window, so the index is bounded by the window, not by the table. It lives in SQLite beside the table, so
 * memory stays flat however long the pipeline runs.
 *
 * The key is stored as (updated_at, the rest of the key), in that order. Events arrive with updated_at close to
 * now, so new keys go in at the end of the B-tree, where its pages are already cached, and a batch dirties a few
 * pages rather than one per row; re-sends are looked up in the same recent end. Keyed by player first, a batch's
 * keys landed all over a tree of millions, and every batch rewrote most of its leaf pages (the writer fell
 * behind as the index grew). Expiry is a range scan of the oldest updated_at for the same reason.
 *
 * Each key remembers the stream position it came from. The table's `txn` is the truth about what was committed:
 * after a crash between recording keys and committing the batch, `rollbackAfter(txn)` forgets the keys of the
 * uncommitted batch, which is then read again from the stream and admitted again.
 */
export class DedupIndex {
  readonly #db: Database.Database;
  readonly #admitRows: (rows: readonly PositionedRow[]) => StoredRow[];
  readonly #admitRecords: (records: readonly PositionedRecord[]) => StoredRow[];
  readonly windowMs: number;
  /** The latest received_at seen (epoch µs): the index's notion of now, so a late backlog keeps its keys. */
  #latest = Number.NEGATIVE_INFINITY;
  /** Between beginBatch() and commitBatch()/abortBatch(). */
  #inBatch = false;
  /** The `#latest` of the last full sweep (see `expire`). */
  #lastSweep = Number.NEGATIVE_INFINITY;

  private constructor(db: Database.Database, windowMs: number) {
    this.#db = db;
    this.windowMs = windowMs;
    // One statement per row: a new key is inserted; a known key is taken over only when its first receipt is
    // outside the window. `changes` says which rows were admitted. (One statement per chunk over json_each(?) was
    // measured slower: SQLite's json_each costs more per element than a prepared statement's run.)
    const admitOne = db.prepare<[number, string, number, number, number]>(
      `INSERT INTO event_keys (updated_at, identity, received_at, position) VALUES (?, ?, ?, ?)
       ON CONFLICT (updated_at, identity) DO UPDATE SET received_at = excluded.received_at, position = excluded.position
       WHERE excluded.received_at - event_keys.received_at > ?`,
    );
    const windowMicros = windowMs * 1000;
    // The rows of one record share their received_at (one request, one receipt), so it is parsed once per run.
    let receivedText = '';
    let receivedAt = 0;
    const admitRow = (row: StoredRow, position: number): boolean => {
      if (row.received_at !== receivedText) {
        receivedAt = epochMicros(row.received_at);
        receivedText = row.received_at;
        if (receivedAt > this.#latest) this.#latest = receivedAt;
      }
      return admitOne.run(epochMicros(row.updated_at), dedupIdentity(row), receivedAt, position, windowMicros).changes > 0;
    };
    // Rows are checked strictly in order, each against what the rows before it recorded: the first occurrence
    // wins inside a batch, and a key comes back only after its window, exactly as one statement per row says.
    this.#admitRows = db.transaction((rows: readonly PositionedRow[]) => {
      const admitted: StoredRow[] = [];
      for (const { row, position } of rows) if (admitRow(row, position)) admitted.push(row);
      return admitted;
    });
    const admitRecords = (records: readonly PositionedRecord[]): StoredRow[] => {
      const admitted: StoredRow[] = [];
      for (const { rows, position } of records) {
        for (let i = 0; i < rows.length; i++) if (admitRow(rows[i]!, position)) admitted.push(rows[i]!);
      }
      return admitted;
    };
    const admitRecordsAtomically = db.transaction(admitRecords);
    // Inside a batch the batch's transaction is the unit: a failed admit fails the batch, which rolls all of it
    // back. A savepoint per admit would make SQLite copy every page it touches to a statement journal first,
    // which cost about a sixth of the writer's CPU.
    this.#admitRecords = (records) => (this.#inBatch ? admitRecords(records) : admitRecordsAtomically(records));
  }

  static open(options: { path: string; windowMs: number }): DedupIndex {
    mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    try {
      // A rollback journal, not WAL: a batch's keys are mostly new pages at the end of the tree, which a rollback
      // journal writes once (only the few pages that existed before are journaled), where WAL writes every page
      // twice (to the log, then back at its checkpoint). Committing 50,000 keys took half the time. Only the writer
      // opens the index, so WAL's readers beside a writer are not needed.
      db.pragma('journal_mode = TRUNCATE');
      // FULL: keys of a committed batch must not vanish in a power loss, or a later re-send would be stored twice.
      db.pragma('synchronous = FULL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS event_keys (
          updated_at INTEGER NOT NULL, -- epoch microseconds
          identity TEXT NOT NULL, -- player_id, event_id, event_type (dedupIdentity)
          received_at INTEGER NOT NULL, -- epoch microseconds, the precision of received_at
          position INTEGER NOT NULL,
          PRIMARY KEY (updated_at, identity)
        ) WITHOUT ROWID;
        -- No index on received_at or position: keeping one up to date costs more on every insert than the rare
        -- full scans of the sweep and rollbackAfter do.
      `);
      migrateKeyedByPlayer(db);
      return new DedupIndex(db, options.windowMs);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /**
   * Keeps the rows that are not re-sends (first occurrence wins inside the batch too) and records their keys,
   * atomically: either every admitted key is recorded or none is. Outside a batch (see `beginBatch`) the keys are
   * durable when it returns.
   */
  admit(rows: readonly PositionedRow[]): StoredRow[] {
    return this.#admitRows(rows);
  }

  /** `admit` for whole records, in order: the same rule, without an object per row. */
  admitRecords(records: readonly PositionedRecord[]): StoredRow[] {
    return this.#admitRecords(records);
  }

  /**
   * Starts a micro-batch: the keys admitted until `commitBatch()` are written and made durable together (one WAL
   * sync per batch instead of one per admit), or not at all (`abortBatch()`, or a crash: SQLite then never
   * replays them). An admit that throws inside a batch may leave part of its keys in it: the batch must then be
   * aborted, as the writer does with any batch that fails.
   */
  beginBatch(): void {
    this.abortBatch(); // a batch whose ROLLBACK failed earlier
    this.#db.exec('BEGIN IMMEDIATE');
    this.#inBatch = true;
  }

  /** Makes the batch's keys durable (synchronous = FULL). Throws when the batch was lost to an error meanwhile. */
  commitBatch(): void {
    this.#db.exec('COMMIT');
    this.#inBatch = false;
  }

  /** Drops the keys of a batch that will not be committed; nothing to do when none is open. */
  abortBatch(): void {
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    this.#inBatch = false;
  }

  /**
   * Forgets keys recorded from positions after `position`: their batch never reached the table. Needed only at
   * start and after a failed batch, so it scans rather than keep a second index up to date on every insert.
   */
  rollbackAfter(position: number): number {
    return this.#db.prepare('DELETE FROM event_keys WHERE position > ?').run(position).changes;
  }

  /**
   * Deletes keys first received more than the window before the latest received_at seen: a re-send that late
   * counts as a new event anyway. The stream's own time, not the wall clock: a backlog processed days later still
   * finds its keys. The writer calls it about once a minute.
   *
   * Most keys are found by a range scan over the oldest updated_at. A key whose updated_at is later than its
   * received_at (a client clock running ahead) is out of that range and waits for a full sweep, which runs on the
   * first call and then once per quarter window of stream time: the index holds at most 1.25 windows of keys.
   */
  expire(): number {
    if (this.#latest === Number.NEGATIVE_INFINITY) return 0;
    const cutoff = this.#latest - this.windowMs * 1000;
    if (this.#latest - this.#lastSweep >= (this.windowMs * 1000) / 4) {
      this.#lastSweep = this.#latest;
      return this.#db.prepare('DELETE FROM event_keys WHERE received_at < ?').run(cutoff).changes;
    }
    return this.#db.prepare('DELETE FROM event_keys WHERE updated_at < ? AND received_at < ?').run(cutoff, cutoff).changes;
  }

  size(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM event_keys').get() as { n: number }).n;
  }

  close(): void {
    this.#db.close();
  }
}

/**
 * Indexes written before the key was ordered by updated_at kept one `seen (key, received_at, position)` table,
 * the key being the identity, NUL, then updated_at as text. Their keys move over once, in one transaction.
 */
function migrateKeyedByPlayer(db: Database.Database): void {
  const old = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seen'").get();
  if (old === undefined) return;
  const insert = db.prepare<[number, string, number, number]>(
    'INSERT OR REPLACE INTO event_keys (updated_at, identity, received_at, position) VALUES (?, ?, ?, ?)',
  );
  const page = db.prepare<[string]>('SELECT key, received_at, position FROM seen WHERE key > ? ORDER BY key LIMIT 10000');
  db.transaction(() => {
    // In pages, since a statement cannot write while another one is still reading.
    for (let after = ''; ; ) {
      const rows = page.all(after) as Array<{ key: string; received_at: number; position: number }>;
      if (rows.length === 0) break;
      for (const { key, received_at, position } of rows) {
        const split = key.lastIndexOf('\u0000');
        insert.run(epochMicros(key.slice(split + 1)), key.slice(0, split), received_at, position);
      }
      after = rows.at(-1)!.key;
    }
    db.exec('DROP TABLE seen');
  })();
}
