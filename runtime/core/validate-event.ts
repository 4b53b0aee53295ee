import type { ValidEvent } from './event.ts';
import { EVENT_FIELDS } from './event.ts';
import type { ErrorCode } from './errors.ts';
import { LIMITS } from './limits.ts';
import { parseUpdatedAt } from './timestamp.ts';

export interface EventRejection {
  readonly code: ErrorCode;
  readonly message: string;
  readonly field?: string;
}

export type EventValidation = { ok: true; event: ValidEvent } | { ok: false; error: EventRejection };

const KNOWN_FIELDS: ReadonlySet<string> = new Set(EVENT_FIELDS);
// Control characters (C0, DEL, C1): they cannot name a partition directory safely. Unpaired surrogates are
// caught by isWellFormed, which is much faster than a look-around regular expression.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
const encoder = new TextEncoder();

function reject(code: ErrorCode, message: string, field?: string): EventValidation {
  return { ok: false, error: field === undefined ? { code, message } : { code, message, field } };
}

/** Checks one event against the contract. Never throws: any input gets an event or a stable error code. */
export function validateEvent(input: unknown): EventValidation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return reject('wrong_type', 'an event must be a JSON object');
  }
  const record = input as Record<string, unknown>;
  for (const key in record) {
    if (Object.hasOwn(record, key) && !KNOWN_FIELDS.has(key)) {
      return reject(
        'unknown_field',
        `unknown field '${truncate(key)}': an event has event_id, event_type, updated_at and event_data; put custom data in event_data`,
        key,
      );
    }
  }
  return validateEventFields(record);
}

/**
 * The four event fields of `record`, checked and normalised; other properties are not looked at (the stored-row
 * decoder checks its own three and the key set).
 */
export function validateEventFields(record: Record<string, unknown>): EventValidation {
  const eventId = record.event_id;
  if (eventId === undefined || eventId === null) return reject('missing_field', 'event_id is required', 'event_id');
  if (typeof eventId !== 'string') return reject('wrong_type', 'event_id must be a string', 'event_id');
  if (eventId.length === 0 || eventId.length > LIMITS.eventIdMaxChars) {
    return reject('invalid_value', `event_id must be 1–${LIMITS.eventIdMaxChars} characters`, 'event_id');
  }
  if (!eventId.isWellFormed()) return reject('invalid_value', 'event_id is not valid Unicode', 'event_id');

  const eventType = record.event_type;
  if (eventType === undefined || eventType === null) {
    return reject('missing_field', 'event_type is required', 'event_type');
  }
  if (typeof eventType !== 'string') return reject('wrong_type', 'event_type must be a string', 'event_type');
  if (eventType.length === 0 || eventType.length > LIMITS.eventTypeMaxChars) {
    return reject('invalid_value', `event_type must be 1–${LIMITS.eventTypeMaxChars} characters`, 'event_type');
  }
  if (CONTROL_CHARACTER.test(eventType) || !eventType.isWellFormed()) {
    return reject('invalid_value', 'event_type must contain only printable characters', 'event_type');
  }

  const updatedAt = record.updated_at;
  if (updatedAt === undefined || updatedAt === null) {
    return reject('missing_field', 'updated_at is required', 'updated_at');
  }
  if (typeof updatedAt !== 'string') return reject('wrong_type', 'updated_at must be a string', 'updated_at');
  const parsed = parseUpdatedAt(updatedAt);
  if (!parsed.ok) return reject('invalid_timestamp', `updated_at: ${parsed.reason}`, 'updated_at');

  const data = record.event_data;
  let eventData: string | null;
  if (data === undefined || data === null) {
    eventData = null;
  } else if (typeof data === 'string') {
    eventData = data;
  } else {
    // Any other JSON value is kept as its JSON text, so structured custom data needs no client-side encoding.
    const text = jsonText(data);
    if (text === undefined) return reject('wrong_type', 'event_data must be a string or a JSON value', 'event_data');
    eventData = text;
  }
  if (eventData !== null) {
    if (!eventData.isWellFormed()) return reject('invalid_value', 'event_data is not valid Unicode', 'event_data');
    // Cheap bound first: a UTF-16 string of n units is at most 3n UTF-8 bytes.
    if (eventData.length * 3 > LIMITS.eventDataMaxBytes && utf8Length(eventData) > LIMITS.eventDataMaxBytes) {
      return reject('too_large', `event_data must be at most ${LIMITS.eventDataMaxBytes} bytes as UTF-8`, 'event_data');
    }
  }

  return { ok: true, event: { event_id: eventId, event_type: eventType, updated_at: parsed.iso, event_data: eventData } };
}

function jsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value) as string | undefined;
  } catch {
    return undefined; // only reachable from code, not from parsed JSON: BigInt or a cycle
  }
}

function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
