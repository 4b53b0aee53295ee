import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { dedupKey } from '../../core/dedup-key.ts';
import type { StoredRow } from '../../core/event.ts';

/** A decoded row and the hub-stream position of the record it came from. */
export interface PositionedRow {
  readonly row: StoredRow;
  readonly position: number;
}

/**
 * The local Delta writer's memory of which events it has stored, for the dedup rule: a row whose key was first
 * received within `windowMs` of it (by `received_at`, server time) is a re-send and is dropped. Entries expire with
 * the window, so the index is bounded by the window, not by the table. It lives in SQLite beside the table, so
 * memory stays flat however long the pipeline runs.
 *
 * Each key remembers the stream position it came from. The table's `txn` is the truth about what was committed:
 * after a crash between recording keys and committing the batch, `rollbackAfter(txn)` forgets the keys of the
 * uncommitted batch, which is then read again from the stream and admitted again.
 */
export class DedupIndex {
  readonly #db: Database.Database;
  readonly #admit: (rows: readonly PositionedRow[]) => StoredRow[];
  readonly windowMs: number;
  /** The latest received_at seen (epoch µs): the index's notion of now, so a late backlog keeps its keys. */
  #latest = Number.NEGATIVE_INFINITY;

  private constructor(db: Database.Database, windowMs: number) {
    this.#db = db;
    this.windowMs = windowMs;
    // One statement per row: a new key is inserted; a known key is taken over only when its first receipt is
    // outside the window. `changes` says which rows were admitted.
    const admitOne = db.prepare<[string, number, number, number]>(
      `INSERT INTO seen (key, received_at, position) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET received_at = excluded.received_at, position = excluded.position
       WHERE excluded.received_at - seen.received_at > ?`,
    );
    this.#admit = db.transaction((rows: readonly PositionedRow[]) => {
      const admitted: StoredRow[] = [];
      for (const { row, position } of rows) {
        const receivedAt = epochMicros(row.received_at);
        if (receivedAt > this.#latest) this.#latest = receivedAt;
        if (admitOne.run(dedupKey(row), receivedAt, position, this.windowMs * 1000).changes > 0) admitted.push(row);
      }
      return admitted;
    });
  }

  static open(options: { path: string; windowMs: number }): DedupIndex {
    mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    try {
      db.pragma('journal_mode = WAL');
      // FULL: keys of a committed batch must not vanish in a power loss, or a later re-send would be stored twice.
      db.pragma('synchronous = FULL');
      db.exec(`
        CREATE TABLE IF NOT EXISTS seen (
          key TEXT PRIMARY KEY,
          received_at INTEGER NOT NULL, -- epoch microseconds, the precision of received_at
          position INTEGER NOT NULL
        ) WITHOUT ROWID;
        -- No index on received_at: keeping one up to date costs more on every insert than the occasional full
        -- scan of expire() does.
        DROP INDEX IF EXISTS seen_by_time;
      `);
      return new DedupIndex(db, options.windowMs);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /**
   * Keeps the rows that are not re-sends (first occurrence wins inside the batch too) and records their keys,
   * atomically: either every admitted key is recorded or none is.
   */
  admit(rows: readonly PositionedRow[]): StoredRow[] {
    return this.#admit(rows);
  }

  /**
   * Forgets keys recorded from positions after `position`: their batch never reached the table. Needed only at
   * start and after a failed batch, so it scans rather than keep a second index up to date on every insert.
   */
  rollbackAfter(position: number): number {
    return this.#db.prepare('DELETE FROM seen WHERE position > ?').run(position).changes;
  }

  /**
   * Deletes keys first received more than the window before the latest received_at seen: a re-send that late
   * counts as a new event anyway. The stream's own time, not the wall clock: a backlog processed days later still
   * finds its keys. A full scan: the writer calls it once a minute, not per batch.
   */
  expire(): number {
    if (this.#latest === Number.NEGATIVE_INFINITY) return 0;
    return this.#db.prepare('DELETE FROM seen WHERE received_at < ?').run(this.#latest - this.windowMs * 1000).changes;
  }

  size(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM seen').get() as { n: number }).n;
  }

  close(): void {
    this.#db.close();
  }
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ` (a stored row's canonical form) as epoch microseconds; Date.parse stops at ms. */
function epochMicros(iso: string): number {
  return Date.parse(iso) * 1000 + Number(iso.slice(23, 26));
}
