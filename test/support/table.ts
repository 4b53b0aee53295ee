import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { closeDuckDb, duckdb } from '../../runtime/delta/duckdb.ts';
import { listLog, readCommitFile } from '../../runtime/delta/log-files.ts';
import { createSnapshotView } from '../../runtime/delta/query-view.ts';
import type { Snapshot } from '../../runtime/delta/snapshot.ts';
import { dataFilePath, loadSnapshot } from '../../runtime/delta/snapshot.ts';
import { eventsTablePath } from '../../runtime/local/delta-writer/events-table.ts';

export interface TableRow {
  event_id: string;
  event_type: string;
  updated_at: string;
  event_data: string | null;
  player_id: string;
  received_at: string;
  source: string;
}

/** Every row of the events table's current snapshot, through the same DuckDB view `npm run query` uses. */
export async function tableRows(dataDir: string): Promise<TableRow[]> {
  const snapshot = await loadSnapshot(eventsTablePath(dataDir));
  const connection = await duckdb();
  await createSnapshotView(connection, 'events', snapshot);
  const reader = await connection.runAndReadAll(
    `SELECT event_id, event_type, strftime(updated_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS updated_at, event_data, player_id,
            strftime(received_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS received_at, source FROM events`,
  );
  return reader.getRowObjectsJson() as unknown as TableRow[];
}

export { closeDuckDb };

export const rowKey = (row: Pick<TableRow, 'player_id' | 'event_id' | 'event_type' | 'updated_at'>) =>
  JSON.stringify([row.player_id, row.event_id, row.event_type, row.updated_at]);

/**
 * What must hold of the events table after any fault: the log replays, every commit file is whole JSON with no gap in
 * versions and no temp file left in `_delta_log`, and every live file is there with the size, row count and stats its
 * add action claims, readable by a second Parquet reader (hyparquet). Returns the problems found (none = sound), the
 * rows as `npm run query` sees them, and the data files on disk that no live add references (allowed by the protocol,
 * VACUUM's to delete, but a writer that leaves one on every retry fills the disk).
 */
export async function checkTable(
  dataDir: string,
): Promise<{ problems: string[]; rows: TableRow[]; snapshot: Snapshot; unreferenced: string[] }> {
  const tablePath = eventsTablePath(dataDir);
  const problems: string[] = [];
  const snapshot = await loadSnapshot(tablePath);
  const listing = await listLog(tablePath);
  for (let version = snapshot.checkpointVersion ?? 0; version <= snapshot.version; version++) {
    const path = listing.commits.get(version);
    if (path === undefined) {
      if (version !== snapshot.checkpointVersion) problems.push(`commit ${version} is missing`);
      continue;
    }
    await readCommitFile(path, version).catch((error: Error) => problems.push(`commit ${version}: ${error.message}`));
  }
  for (const name of await readdir(listing.logPath)) {
    if (name.startsWith('.')) problems.push(`left in _delta_log: ${name}`);
  }
  let records = 0;
  for (const add of snapshot.files) {
    const path = dataFilePath(tablePath, add.path);
    const size = await stat(path).then((info) => info.size, () => undefined);
    if (size === undefined) {
      problems.push(`${add.path} is in the table but not on disk`);
      continue;
    }
    if (size !== add.size) problems.push(`${add.path} is ${size} bytes, its add says ${add.size}`);
    const numRecords = add.stats == null ? undefined : (JSON.parse(add.stats) as { numRecords?: number }).numRecords;
    const file = await asyncBufferFromFile(path);
    const footer = Number((await parquetMetadataAsync(file)).num_rows);
    const decoded = (await parquetReadObjects({ file })).length;
    if (numRecords !== footer || decoded !== footer) {
      problems.push(`${add.path}: stats say ${numRecords} rows, the footer ${footer}, hyparquet decodes ${decoded}`);
    }
    records += footer;
  }
  let rows: TableRow[] = [];
  try {
    rows = await tableRows(dataDir);
    if (rows.length !== records) problems.push(`the files hold ${records} rows, a query returns ${rows.length}`);
  } catch (error) {
    problems.push(`the table cannot be queried: ${(error as Error).message}`);
  }
  const live = new Set(snapshot.files.map((add) => dataFilePath(tablePath, add.path)));
  const unreferenced = (await readdir(tablePath, { recursive: true }))
    .map(String)
    .filter((name) => /\.(parquet|tmp)$/.test(name) && !name.startsWith('_delta_log'))
    .map((name) => join(tablePath, name))
    .filter((path) => !live.has(path));
  return { problems, rows, snapshot, unreferenced };
}
