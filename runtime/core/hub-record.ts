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
  let bytes = 0;
  let key = '';
  const flush = () => {
    if (lines.length === 0) return;
    records.push({ partitionKey: key, data: encoder.encode(lines.join('')) });
    lines = [];
    bytes = 0;
  };
  let budget = maxBytes;
  for (const row of rows) {
    const line = `${JSON.stringify(row)}\n`;
    const size = utf8Bytes(line);
    if (lines.length > 0 && (row.player_id !== key || bytes + size > budget)) flush();
    if (row.player_id !== key || lines.length === 0) {
      key = row.player_id;
      // Kinesis counts the partition key against the record limit, so the data gets what the key leaves.
      budget = maxBytes - utf8Bytes(key);
    }
    if (size > budget) throw new RangeError(`a stored row of ${size} bytes exceeds the record limit of ${budget}`);
    lines.push(line);
    bytes += size;
  }
  flush();
  return records;
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
