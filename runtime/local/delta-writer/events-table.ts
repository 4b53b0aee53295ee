import { join } from 'node:path';
import type { StructType } from '../../delta/actions.ts';
import { STORED_ROW_COLUMNS } from '../../core/event.ts';

/** Where the table lives under the data directory, as the original service's README lays it out. */
export function eventsTablePath(dataDir: string): string {
  return join(dataDir, 'delta_lake_events_db', 'events');
}

export const EVENTS_PARTITION_COLUMNS = ['event_type'] as const;

/** The stored row as a Delta schema, in column order (ARCHITECTURE.md, "Stored row"). */
export const EVENTS_SCHEMA: StructType = {
  type: 'struct',
  fields: STORED_ROW_COLUMNS.map((name) => ({
    name,
    type: name === 'updated_at' || name === 'received_at' ? 'timestamp' : 'string',
    nullable: name === 'event_data',
    metadata: {},
  })),
};
