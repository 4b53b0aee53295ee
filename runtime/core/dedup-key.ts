import type { StoredRow } from './event.ts';

/**
 * The dedup rule's key (ARCHITECTURE.md) is (player_id, event_id, event_type, updated_at): a re-send repeats all
 * four. event_id alone would merge different players' events (the original test client reuses 20 ids), and a
 * client that reuses one id for different event types loses nothing.
 *
 * This is the key without updated_at, which the local dedup index keeps beside it as a number (it leads that
 * index's order, so new keys go in at the end of the tree). player_id and event_id are length-prefixed and the
 * parts NUL-separated (event_type has no control characters), so two different triples never share a string.
 */
export function dedupIdentity(row: Pick<StoredRow, 'player_id' | 'event_id' | 'event_type'>): string {
  return `${row.player_id.length}:${row.player_id}\u0000${row.event_id.length}:${row.event_id}\u0000${row.event_type}`;
}

/** The default dedup window: 24 hours of server time. */
export const DEFAULT_DEDUP_WINDOW_MS = 24 * 60 * 60 * 1000;
