import type { StoredRow } from './event.ts';
import type { ErrorCode } from './errors.ts';
import { TelemetryError } from './errors.ts';
import type { Enrichment, HubRecord } from './hub-record.ts';
import { enrich, eventLine, lineTail, RecordPacker } from './hub-record.ts';
import { LIMITS } from './limits.ts';
import { validateEvent } from './validate-event.ts';

/** One event of a batch that was not accepted; the others of the batch are stored all the same. */
export interface RejectedEvent {
  readonly index: number;
  readonly error: ErrorCode;
  readonly message: string;
  readonly field?: string;
}

export interface AcceptedBatch {
  readonly rows: StoredRow[];
  readonly rejected: RejectedEvent[];
}

/** Validates and enriches each event; invalid ones are reported by index, never thrown. */
export function acceptEvents(events: readonly unknown[], enrichment: Enrichment): AcceptedBatch {
  const rows: StoredRow[] = [];
  const rejected: RejectedEvent[] = [];
  events.forEach((event, index) => {
    const result = validateEvent(event);
    if (result.ok) rows.push(enrich(result.event, enrichment));
    else rejected.push({ index, error: result.error.code, message: result.error.message, ...fieldOf(result.error) });
  });
  return { rows, rejected };
}

export interface PackedBatch {
  /** The accepted events as hub records, ready for the sink. */
  readonly records: HubRecord[];
  readonly accepted: number;
  readonly rejected: RejectedEvent[];
}

/**
 * acceptEvents and packRows in one pass, for the intake's hot path: each valid event's NDJSON line is written
 * into the records as soon as it is checked, with no stored-row object in between. The same lines, in the same
 * records, as `packRows(acceptEvents(events, enrichment).rows)`.
 */
export function acceptAndPack(events: readonly unknown[], enrichment: Enrichment, maxBytes = LIMITS.recordMaxBytes): PackedBatch {
  const packer = new RecordPacker(maxBytes);
  const tail = lineTail(enrichment);
  const rejected: RejectedEvent[] = [];
  let accepted = 0;
  for (let index = 0; index < events.length; index++) {
    const result = validateEvent(events[index]);
    if (result.ok) {
      packer.add(enrichment.playerId, eventLine(result.event, tail));
      accepted++;
    } else rejected.push({ index, error: result.error.code, message: result.error.message, ...fieldOf(result.error) });
  }
  return { records: packer.finish(), accepted, rejected };
}

/** Parses a request body or message; a syntax error becomes `malformed_json`. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TelemetryError('malformed_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

/** The `events` array of a batch (`{"events": [...]}`), checked for shape and count. */
export function batchEvents(body: unknown): unknown[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TelemetryError('invalid_request', 'a batch must be a JSON object with an "events" array');
  }
  const events = (body as { events?: unknown }).events;
  if (events === undefined) throw new TelemetryError('missing_field', 'a batch needs an "events" array', 'events');
  if (!Array.isArray(events)) throw new TelemetryError('wrong_type', '"events" must be an array', 'events');
  if (events.length === 0) throw new TelemetryError('invalid_value', '"events" must hold at least one event', 'events');
  if (events.length > LIMITS.batchMaxEvents) {
    throw new TelemetryError(
      'too_many_events',
      `a batch holds at most ${LIMITS.batchMaxEvents} events; this one has ${events.length}: split it`,
      'events',
    );
  }
  return events;
}

function fieldOf(error: { field?: string }): { field?: string } {
  return error.field === undefined ? {} : { field: error.field };
}
