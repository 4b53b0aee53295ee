import type { Source, StoredRow, ValidEvent } from './event.ts';
import { LIMITS } from './limits.ts';

/** One hub-stream record (a Kinesis record on AWS, a row of the SQLite stream locally). */
export interface HubRecord {
  /** The player id, so one player's records stay in order on one shard. */
  readonly partitionKey: string;
  /** NDJSON: one stored row per line, each line ending in `\n`; at most LIMITS.recordMaxBytes. */
  readonly data: Uint8Array;
}

export interface Enrichment {
  /** The verified token's `sub`, never anything from the body. */
  readonly playerId: string;
  /** Server time when the event was accepted, milliseconds since the epoch, already formatted. */
  readonly receivedAt: string;
  readonly source: Source;
}

export function enrich(event: ValidEvent, with_: Enrichment): StoredRow {
  // Built field by field so the JSON line has the stored-row column order whatever the event object held.
  return {
    event_id: event.event_id,
    event_type: event.event_type,
    updated_at: event.updated_at,
    event_data: event.event_data,
    player_id: with_.playerId,
    received_at: with_.receivedAt,
    source: with_.source,
  };
}

const encoder = new TextEncoder();

/**
 * Packs rows into as few NDJSON records as possible, each at most `maxBytes` of data plus partition key.
 * Rows keep their order.
 * Packing matters for cost: Kinesis bills each record rounded up to 1 KB and Firehose to 5 KB.
 */
export function packRows(rows: readonly StoredRow[], maxBytes: number = LIMITS.recordMaxBytes): HubRecord[] {
  const records: HubRecord[] = [];
  let lines: string[] = [];
  // Sizes are tracked as an upper bound (3 UTF-8 bytes per UTF-16 unit) and counted exactly only once the bound
  // nears the budget: most batches are far below 1 MiB, and counting every character is the costly part.
  let bound = 0;
  let exact = -1;
  let key = '';
  let budget = maxBytes;
  const flush = () => {
    if (lines.length === 0) return;
    records.push({ partitionKey: key, data: encoder.encode(lines.join('')) });
    lines = [];
    bound = 0;
    exact = -1;
  };
  let tail = '';
  let tailRow: StoredRow | undefined;
  for (const row of rows) {
    if (tailRow === undefined || row.player_id !== tailRow.player_id || row.received_at !== tailRow.received_at || row.source !== tailRow.source) {
      tail = lineTail(row);
      tailRow = row;
    }
    const line = rowLine(row, tail);
    if (lines.length > 0 && row.player_id !== key) flush();
    if (lines.length === 0) {
      key = row.player_id;
      // Kinesis counts the partition key against the record limit, so the data gets what the key leaves.
      budget = maxBytes - utf8Bytes(key);
    }
    const lineBound = line.length * 3;
    if (bound + lineBound > budget) {
      const size = utf8Bytes(line);
      if (exact < 0) exact = lines.reduce((sum, l) => sum + utf8Bytes(l), 0);
      if (lines.length > 0 && exact + size > budget) {
        flush();
        key = row.player_id;
        budget = maxBytes - utf8Bytes(key);
        exact = 0;
      }
      if (size > budget) throw new RangeError(`a stored row of ${size} bytes exceeds the record limit of ${budget}`);
      exact += size;
    } else if (exact >= 0) {
      exact += utf8Bytes(line);
    }
    bound += lineBound;
    lines.push(line);
  }
  flush();
  return records;
}

const quote = JSON.stringify;

/** The NDJSON line of a row, in stored-row column order; what JSON.stringify(row) gives, built field by field. */
function rowLine(row: StoredRow, tail: string): string {
  return (
    `{"event_id":${quote(row.event_id)},"event_type":${quote(row.event_type)},"updated_at":${quote(row.updated_at)},` +
    `"event_data":${row.event_data === null ? 'null' : quote(row.event_data)}${tail}`
  );
}

/** The enrichment's part of a line, the same for every row of a request. */
function lineTail(row: StoredRow): string {
  return `,"player_id":${quote(row.player_id)},"received_at":${quote(row.received_at)},"source":${quote(row.source)}}\n`;
}

function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3; // includes a lone surrogate, which UTF-8 encoders write as U+FFFD (3 bytes)
  }
  return bytes;
}
