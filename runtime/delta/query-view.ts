import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbTypeFor, sqlString } from './parquet-writer.ts';
import type { Snapshot } from './snapshot.ts';
import { dataFilePath } from './snapshot.ts';

/**
 * Makes a DuckDB view `name` over a snapshot's live files, with the partition columns restored from each file's
 * `partitionValues` (they are not stored in the data files) and the columns in schema order. This reads the
 * snapshot we computed, not whatever Parquet files happen to lie in the directory, so readers see exactly the
 * table's current version.
 */
export async function createSnapshotView(connection: DuckDBConnection, name: string, snapshot: Snapshot): Promise<void> {
  const quoted = quoteIdentifier(name);
  const partitions = new Set(snapshot.partitionColumns);
  const columns = snapshot.schema.fields.map((field) => ({ name: field.name, type: duckdbTypeFor(field.type) }));
  if (snapshot.files.length === 0) {
    const empty = columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdentifier(c.name)}`).join(', ');
    await connection.run(`CREATE OR REPLACE TEMP VIEW ${quoted} AS SELECT ${empty} WHERE false`);
    return;
  }
  const files = snapshot.files.map((add) => ({ path: dataFilePath(snapshot.tablePath, add.path), values: add.partitionValues }));
  const filesTable = quoteIdentifier(`${name}__files`);
  const partitionList = [...partitions];
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE ${filesTable} (filename VARCHAR${partitionList.map((p) => `, ${quoteIdentifier(p)} VARCHAR`).join('')})`,
  );
  const appender = await connection.createAppender(`${name}__files`, 'main', 'temp');
  for (const file of files) {
    appender.appendVarchar(file.path);
    for (const column of partitionList) {
      const value = file.values[column];
      if (value === null || value === undefined) appender.appendNull();
      else appender.appendVarchar(value);
    }
    appender.endRow();
  }
  appender.closeSync();
  const select = columns
    .map((c) =>
      partitions.has(c.name)
        ? `CAST(f.${quoteIdentifier(c.name)} AS ${c.type}) AS ${quoteIdentifier(c.name)}`
        : `d.${quoteIdentifier(c.name)}`,
    )
    .join(', ');
  const list = files.map((file) => sqlString(file.path)).join(', ');
  await connection.run(
    `CREATE OR REPLACE TEMP VIEW ${quoted} AS SELECT ${select} FROM read_parquet([${list}], filename = true, hive_partitioning = false) d ` +
      `JOIN ${filesTable} f ON d.filename = f.filename`,
  );
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
