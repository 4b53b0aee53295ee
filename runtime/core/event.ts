/** The event contract: what a client sends and what the table stores (ARCHITECTURE.md, "Event" and "Stored row"). */

export const EVENT_FIELDS = ['event_id', 'event_type', 'updated_at', 'event_data'] as const;

/** An event that passed validation, normalised: `updated_at` as ISO-8601 UTC with microseconds. */
export interface ValidEvent {
  readonly event_id: string;
  readonly event_type: string;
  readonly updated_at: string;
  readonly event_data: string | null;
}

export type Source = 'rest' | 'ws';

/** One row of the Delta table, in column order. Timestamps are ISO-8601 UTC strings with microseconds. */
export interface StoredRow extends ValidEvent {
  readonly player_id: string;
  readonly received_at: string;
  readonly source: Source;
}

export const STORED_ROW_COLUMNS = [
  'event_id',
  'event_type',
  'updated_at',
  'event_data',
  'player_id',
  'received_at',
  'source',
] as const satisfies readonly (keyof StoredRow)[];
