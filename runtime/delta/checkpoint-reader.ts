import { LIST, VARCHAR, listValue } from '@duckdb/node-api';
import type { Action } from './actions.ts';
import { duckdb } from './duckdb.ts';
import { DeltaLogError } from './errors.ts';

/** The checkpoint columns that carry table state; others (old `commitInfo`, `cdc`) are not state and are skipped. */
const STATE_COLUMNS = ['protocol', 'metaData', 'add', 'remove', 'txn', 'domainMetadata'] as const;

/**
 * Reads a classic checkpoint (one file, or all parts of a multi-part one) into actions shaped like JSON commit
 * lines (`{"add": {...}}`), so one normaliser serves checkpoints and commits alike.
 *
 * DuckDB's `to_json` does the Parquet → JSON mapping: MAP columns (`partitionValues`, `tags`, `configuration`,
 * `format.options`) become plain JSON objects and BIGINTs become JSON numbers, exactly as in a commit file.
 * (The JS value converter would hand maps back as `{key, value}` entry arrays instead.) Parts may have written
 * different optional columns, hence `union_by_name`.
 */
export async function readCheckpointActions(paths: readonly string[]): Promise<Action[]> {
  const connection = await duckdb();
  const columns = STATE_COLUMNS.map((name) => `'${name}'`).join(', ');
  let rows: unknown[][];
  try {
    const reader = await connection.runAndReadAll(
      `SELECT to_json(state)::VARCHAR AS action
       FROM (SELECT COLUMNS(c -> c IN (${columns})) FROM read_parquet($files, union_by_name = true)) AS state`,
      { files: listValue([...paths]) },
      { files: LIST(VARCHAR) },
    );
    rows = reader.getRows();
  } catch (error) {
    const message = `Cannot read checkpoint ${paths.join(', ')}: ${(error as Error).message}`;
    throw new DeltaLogError(message, { cause: error });
  }

  const actions: Action[] = [];
  for (const [text] of rows) {
    if (typeof text !== 'string') continue;
    const row = JSON.parse(text) as Record<string, unknown>;
    for (const name of STATE_COLUMNS) {
      const value = row[name];
      if (value !== null && value !== undefined) actions.push({ [name]: value } as Action);
    }
  }
  return actions;
}
