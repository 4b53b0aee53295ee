import type { StoredRow } from './event.ts';

/**
 * The dedup rule's key (ARCHITECTURE.md): a re-send is the same (player_id, event_id, event_type, updated_at).
 * event_id alone would merge different players' events (the original test client reuses 20 ids), and a client
 * that reuses one id for different event types loses nothing. player_id and event_id are length-prefixed and the
 * parts NUL-separated (event_type has no control characters, updated_at is canonical), so two different
 * four-tuples never share a key.
 */
export function dedupKey(row: Pick<StoredRow, 'player_id' | 'event_id' | 'event_type' | 'updated_at'>): string {
  return `${row.player_id.length}:${row.player_id}\u0000${row.event_id.length}:${row.event_id}\u0000${row.event_type}\u0000${row.updated_at}`;
}

/** The default dedup window: 24 hours of server time. */
export const DEFAULT_DEDUP_WINDOW_MS = 24 * 60 * 60 * 1000;
