// The wire protocol of ARCHITECTURE.md ("REST API", "WebSocket API") as the client sees it. Browser-safe: no Node APIs.

/** What a game sends: the event contract. `event_data` may be any JSON value; the server stores non-strings as JSON text. */
export interface TelemetryEvent {
  readonly event_id: string;
  readonly event_type: string;
  readonly updated_at: string;
  readonly event_data?: unknown;
}

/** One event the server refused inside an accepted batch. */
export interface Rejection {
  readonly index: number;
  readonly error: string;
  readonly message: string;
}

export type ServerFrame =
  | { readonly type: 'ack'; readonly id: string; readonly accepted: number; readonly rejected: readonly Rejection[] }
  | {
      readonly type: 'error';
      readonly id: string | undefined;
      readonly error: string;
      readonly message: string;
      readonly retryAfterMs: number | undefined;
    }
  | { readonly type: 'pong' };

/** Error codes that mean "not now": the same batch is sent again later. Any other code refuses it for good. */
export const RETRYABLE_ERRORS: ReadonlySet<string> = new Set(['rate_limited', 'stream_unavailable']);

export const PING_FRAME = '{"action":"ping"}';

/** The WebSocket message for a batch, from events already turned into JSON text. */
export function putRecordsFrame(id: string, eventsJson: readonly string[]): string {
  return `{"action":"put-records","id":${JSON.stringify(id)},"events":[${eventsJson.join(',')}]}`;
}

/** The REST `POST /put-records` body for the same batch. */
export function putRecordsBody(eventsJson: readonly string[]): string {
  return `{"events":[${eventsJson.join(',')}]}`;
}

/** Bytes of the frame around the events, for a batch id of `idLength` characters (ids are ASCII). */
export function frameOverheadBytes(idLength: number): number {
  return putRecordsFrame('x'.repeat(idLength), []).length;
}

/** A server frame, or undefined for anything this client does not understand (it is ignored, not fatal). */
export function parseServerFrame(text: string): ServerFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const frame = value as Record<string, unknown>;
  if (frame.type === 'pong') return { type: 'pong' };
  if (frame.type === 'ack' && typeof frame.id === 'string') {
    const rejected = Array.isArray(frame.rejected) ? frame.rejected.map(toRejection) : [];
    const accepted = typeof frame.accepted === 'number' ? frame.accepted : 0;
    return { type: 'ack', id: frame.id, accepted, rejected };
  }
  if (frame.type === 'error') {
    return {
      type: 'error',
      id: typeof frame.id === 'string' ? frame.id : undefined,
      error: typeof frame.error === 'string' ? frame.error : 'unknown',
      message: typeof frame.message === 'string' ? frame.message : '',
      retryAfterMs: typeof frame.retry_after_ms === 'number' ? frame.retry_after_ms : undefined,
    };
  }
  return undefined;
}

export function toRejection(item: unknown): Rejection {
  const entry = (item ?? {}) as Record<string, unknown>;
  return {
    index: typeof entry.index === 'number' ? entry.index : -1,
    error: typeof entry.error === 'string' ? entry.error : 'unknown',
    message: typeof entry.message === 'string' ? entry.message : '',
  };
}

/** UTF-8 length of a string without encoding it (what the 128 KiB message limit counts). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 UTF-16 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}
