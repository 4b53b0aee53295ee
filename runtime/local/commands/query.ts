/**
 * `npm run query -- "SQL"`: DuckDB over the events table's current snapshot. The table is called `events`, with
 * the partition column `event_type` restored.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { closeDuckDb, duckdb } from '../../delta/duckdb.ts';
import { DeltaTableNotFoundError } from '../../delta/errors.ts';
import { createSnapshotView } from '../../delta/query-view.ts';
import { loadSnapshot } from '../../delta/snapshot.ts';
import { LOCAL_ENV } from '../config.ts';
import { eventsTablePath } from '../delta-writer/events-table.ts';
import type { OutputFormat } from './format-rows.ts';
import { formatRows } from './format-rows.ts';

const HELP = `Usage: npm run query -- "<SQL>" [--format table|json|csv] [--data-dir ./data] [--version N]

Runs DuckDB SQL over the Delta table of events (current snapshot, or --version N for time travel).
The table is called "events": event_id, event_type, updated_at, event_data, player_id, received_at, source.

Examples:
  npm run query -- "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC"
  npm run query -- "SELECT * FROM events ORDER BY received_at DESC LIMIT 10" --format json`;

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'table' },
        'data-dir': { type: 'string' },
        version: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const format = values.format as OutputFormat;
  if (!['table', 'json', 'csv'].includes(format) || positionals.length !== 1) {
    console.error(positionals.length !== 1 ? `Give exactly one SQL statement (quote it).\n\n${HELP}` : `Unknown --format ${format}.\n\n${HELP}`);
    return 2;
  }
  const dataDir = resolve(values['data-dir'] ?? process.env[LOCAL_ENV.dataDir] ?? './data');
  const tablePath = eventsTablePath(dataDir);
  try {
    const snapshot = await loadSnapshot(tablePath, values.version === undefined ? {} : { version: Number(values.version) });
    const connection = await duckdb();
    await createSnapshotView(connection, 'events', snapshot);
    const reader = await connection.runAndReadAll(positionals[0]!);
    console.log(formatRows(reader.columnNames(), wholeNumbersAsNumbers(reader.columnTypes(), reader.getRowObjectsJson()), format));
    return 0;
  } catch (error) {
    if (error instanceof DeltaTableNotFoundError) {
      console.error(`No events table at ${tablePath}: start the pipeline (npm start) and send events first, or pass --data-dir.`);
    } else {
      console.error((error as Error).message);
    }
    return 1;
  } finally {
    await closeDuckDb();
  }
}

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

process.exitCode = await main();
