/**
 * `npm run query -- "SQL"`: DuckDB over the events table's current snapshot. The table is called `events`, with
 * the partition column `event_type` restored.
 */
import { duckdb } from '../../delta/duckdb.ts';
import { createSnapshotView } from '../../delta/query-view.ts';
import { loadSnapshot } from '../../delta/snapshot.ts';
import { runTableCommand, usage } from './command-line.ts';
import type { OutputFormat } from './format-rows.ts';
import { formatRows } from './format-rows.ts';

const HELP = `Usage: npm run query -- "<SQL>" [--format table|json|csv] [--data-dir ./data] [--version N]

Runs DuckDB SQL over the Delta table of events (current snapshot, or --version N for time travel).
The table is called "events": event_id, event_type, updated_at, event_data, player_id, received_at, source.

Examples:
  npm run query -- "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC"
  npm run query -- "SELECT * FROM events ORDER BY received_at DESC LIMIT 10" --format json`;

const exitCode = await runTableCommand(
  HELP,
  { format: { type: 'string', default: 'table' }, version: { type: 'string' } },
  async ({ values, positionals }, { tablePath }) => {
    const format = values.format as OutputFormat;
    if (positionals.length !== 1) return usage('Give exactly one SQL statement (quote it).', HELP);
    if (!['table', 'json', 'csv'].includes(format)) return usage(`Unknown --format ${format}.`, HELP);
    const snapshot = await loadSnapshot(tablePath, values.version === undefined ? {} : { version: Number(values.version) });
    const connection = await duckdb();
    await createSnapshotView(connection, 'events', snapshot);
    const reader = await connection.runAndReadAll(positionals[0]!);
    console.log(formatRows(reader.columnNames(), wholeNumbersAsNumbers(reader.columnTypes(), reader.getRowObjectsJson()), format));
    return 0;
  },
);

/** DuckDB's JSON form gives 64-bit integers as text; counts and sums read better as numbers when they fit. */
function wholeNumbersAsNumbers(types: readonly { toString(): string }[], rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const wide = new Set(['BIGINT', 'HUGEINT', 'UBIGINT', 'UHUGEINT']);
  const columns = Object.keys(rows[0] ?? {}).filter((_, index) => wide.has(String(types[index])));
  if (columns.length === 0) return rows;
  for (const row of rows) {
    for (const column of columns) {
      const value = row[column];
      if (typeof value === 'string' && Number.isSafeInteger(Number(value))) row[column] = Number(value);
    }
  }
  return rows;
}

process.exitCode = exitCode;
