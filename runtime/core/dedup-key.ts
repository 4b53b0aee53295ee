import { createHash } from 'node:crypto';
import type { StoredRow } from './event.ts';

/**
 * The dedup rule's key (ARCHITECTURE.md): a re-send is the same (player_id, event_id, event_type, updated_at).
 * event_id alone would merge different players' events (the original test client reuses 20 ids), and a client
 * that reuses one id for different event types loses nothing. The four values are joined with a separator that
 * cannot occur in them (validated text has no NUL in event_type; other fields are length-prefixed), then hashed
 * to 16 bytes: a fixed-size key keeps the dedup index small, and 128 bits make a collision negligible.
 */
export function dedupKeyText(row: Pick<StoredRow, 'player_id' | 'event_id' | 'event_type' | 'updated_at'>): string {
  return `${row.player_id.length}:${row.player_id}\u0000${row.event_id.length}:${row.event_id}\u0000${row.event_type}\u0000${row.updated_at}`;
}

export function dedupKey(row: Pick<StoredRow, 'player_id' | 'event_id' | 'event_type' | 'updated_at'>): Buffer {
  return createHash('sha256').update(dedupKeyText(row)).digest().subarray(0, 16);
}

/** The default dedup window: 24 hours of server time. */
export const DEFAULT_DEDUP_WINDOW_MS = 24 * 60 * 60 * 1000;
