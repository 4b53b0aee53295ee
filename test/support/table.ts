import { closeDuckDb, duckdb } from '../../runtime/delta/duckdb.ts';
import { createSnapshotView } from '../../runtime/delta/query-view.ts';
import { loadSnapshot } from '../../runtime/delta/snapshot.ts';
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
