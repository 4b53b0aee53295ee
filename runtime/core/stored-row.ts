import type { StoredRow } from './event.ts';
import { STORED_ROW_COLUMNS } from './event.ts';
import type { ErrorCode } from './errors.ts';
import { parseUpdatedAt } from './timestamp.ts';
import { validateEventFields } from './validate-event.ts';

/**
 * Decoding of hub records back into stored rows, for the consumers (the Delta writer, tests, tools). The intake
 * only writes valid rows, but a consumer re-checks each line so a bad record is quarantined, never half-written.
 */
export interface InvalidLine {
  /** 0-based line number within the record. */
  readonly line: number;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface DecodedRecord {
  readonly rows: StoredRow[];
  readonly invalid: InvalidLine[];
}

const COLUMNS: ReadonlySet<string> = new Set(STORED_ROW_COLUMNS);
const decoder = new TextDecoder('utf-8', { fatal: false });

export function decodeHubRecord(data: Uint8Array | string): DecodedRecord {
  const text = typeof data === 'string' ? data : decoder.decode(data);
  const rows: StoredRow[] = [];
  const invalid: InvalidLine[] = [];
  const lines = text.split('\n');
  // A well-formed record ends in '\n', which leaves one empty string after the split.
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, index) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      invalid.push({ line: index, code: 'malformed_json', message: (error as Error).message });
      return;
    }
    const result = parseStoredRow(value);
    if ('row' in result) rows.push(result.row);
    else invalid.push({ line: index, code: result.code, message: result.message });
  });
  return { rows, invalid };
}

export function parseStoredRow(value: unknown): { row: StoredRow } | { code: ErrorCode; message: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'wrong_type', message: 'a stored row must be a JSON object' };
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (Object.hasOwn(record, key) && !COLUMNS.has(key)) return { code: 'unknown_field', message: `unknown column '${key}'` };
  }
  // The intake turns structured event_data into text, so a stored row holds a string or null, nothing else.
  const data = record.event_data;
  if (data !== null && data !== undefined && typeof data !== 'string') {
    return { code: 'wrong_type', message: 'event_data of a stored row must be a string or null' };
  }
  const checked = validateEventFields(record);
  if (!checked.ok) return { code: checked.error.code, message: checked.error.message };
  const { player_id, received_at, source } = record;
  if (typeof player_id !== 'string' || player_id.length === 0) {
    return { code: 'missing_field', message: 'player_id must be a non-empty string' };
  }
  if (typeof received_at !== 'string') return { code: 'missing_field', message: 'received_at must be a string' };
  const receivedAt = parseUpdatedAt(received_at);
  if (!receivedAt.ok) return { code: 'invalid_timestamp', message: `received_at: ${receivedAt.reason}` };
  if (source !== 'rest' && source !== 'ws') return { code: 'invalid_value', message: "source must be 'rest' or 'ws'" };
  const event = checked.event;
  return {
    row: {
      event_id: event.event_id,
      event_type: event.event_type,
      updated_at: event.updated_at,
      event_data: event.event_data,
      player_id,
      received_at: receivedAt.iso,
      source,
    },
  };
}
