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
 * Packs NDJSON lines into as few records as possible, each at most `maxBytes` of data plus partition key, in the
 * order they are added; a change of partition key starts a new record. The intake adds each event's line as soon
 * as it is validated (no row object in between); `packRows` adds the lines of ready-made rows.
 * Packing matters for cost: Kinesis bills each record rounded up to 1 KB and Firehose to 5 KB.
 */
export class RecordPacker {
  readonly #maxBytes: number;
  readonly #records: HubRecord[] = [];
  #text = '';
  #count = 0;
  // Sizes are tracked as an upper bound (3 UTF-8 bytes per UTF-16 unit) and counted exactly only once the bound
  // nears the budget: most batches are far below 1 MiB, and counting every character is the costly part.
  #bound = 0;
  #exact = -1;
  #key = '';
  #budget = 0;

  constructor(maxBytes: number = LIMITS.recordMaxBytes) {
    this.#maxBytes = maxBytes;
  }

  /** Adds one line (ending in `\n`) for `partitionKey`. Throws a RangeError for a line no record can hold. */
  add(partitionKey: string, line: string): void {
    if (this.#count > 0 && partitionKey !== this.#key) this.#flush();
    if (this.#count === 0) this.#start(partitionKey);
    const lineBound = line.length * 3;
    if (this.#bound + lineBound > this.#budget) {
      const size = utf8Bytes(line);
      if (this.#exact < 0) this.#exact = utf8Bytes(this.#text);
      if (this.#count > 0 && this.#exact + size > this.#budget) {
        this.#flush();
        this.#start(partitionKey);
        this.#exact = 0;
      }
      if (size > this.#budget) throw new RangeError(`a stored row of ${size} bytes exceeds the record limit of ${this.#budget}`);
      this.#exact += size;
    } else if (this.#exact >= 0) {
      this.#exact += utf8Bytes(line);
    }
    this.#bound += lineBound;
    // One growing string: V8 keeps the pieces as a rope and flattens it once, when the record is encoded.
    this.#text += line;
    this.#count++;
  }

  /** The records, the last one closed. The packer is empty afterwards. */
  finish(): HubRecord[] {
    this.#flush();
    return this.#records.splice(0);
  }

  #start(partitionKey: string): void {
    this.#key = partitionKey;
    // Kinesis counts the partition key against the record limit, so the data gets what the key leaves.
    this.#budget = this.#maxBytes - utf8Bytes(partitionKey);
  }

  #flush(): void {
    if (this.#count === 0) return;
    this.#records.push({ partitionKey: this.#key, data: encodeUtf8(this.#text) });
    this.#text = '';
    this.#count = 0;
    this.#bound = 0;
    this.#exact = -1;
  }
}

/** Packs rows into as few NDJSON records as possible (see RecordPacker); rows keep their order. */
export function packRows(rows: readonly StoredRow[], maxBytes: number = LIMITS.recordMaxBytes): HubRecord[] {
  const packer = new RecordPacker(maxBytes);
  let tail = '';
  let tailRow: StoredRow | undefined;
  for (const row of rows) {
    if (tailRow === undefined || row.player_id !== tailRow.player_id || row.received_at !== tailRow.received_at || row.source !== tailRow.source) {
      tail = lineTail({ playerId: row.player_id, receivedAt: row.received_at, source: row.source });
      tailRow = row;
    }
    packer.add(row.player_id, eventLine(row, tail));
  }
  return packer.finish();
}

// What JSON.stringify escapes in a string: '"', '\\', control characters and (unpaired) surrogates.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify of a string, exactly; most strings need no escape, and checking is cheaper than the call. */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/**
 * The NDJSON line of an event with its enrichment's `tail`, in stored-row column order: what JSON.stringify of the
 * stored row gives, built field by field.
 */
export function eventLine(event: ValidEvent, tail: string): string {
  return (
    `{"event_id":${quote(event.event_id)},"event_type":${quote(event.event_type)},"updated_at":${quote(event.updated_at)},` +
    `"event_data":${event.event_data === null ? 'null' : quote(event.event_data)}${tail}`
  );
}

/** The enrichment's part of a line, the same for every row of a request. */
export function lineTail(with_: Enrichment): string {
  return `,"player_id":${quote(with_.playerId)},"received_at":${quote(with_.receivedAt)},"source":${quote(with_.source)}}\n`;
}

// Records are encoded one after another into a shared slab and handed out as views of it: allocating an
// ArrayBuffer per record costs more than encoding the record (and TextEncoder.encode walks a string built by
// concatenation piece by piece, several times slower than encodeInto). A slab's bytes are never written twice, so a
// record stays valid for as long as it is referenced, and the slab is freed with its last record.
const SLAB_BYTES = 1024 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

function encodeUtf8(text: string): Uint8Array {
  // Each UTF-16 unit is at most 3 UTF-8 bytes, so the text always fits in what is checked for.
  const bound = text.length * 3;
  if (slab.length - slabUsed < bound) {
    slab = new Uint8Array(Math.max(SLAB_BYTES, bound));
    slabUsed = 0;
  }
  const start = slabUsed;
  slabUsed += encoder.encodeInto(text, slab.subarray(start)).written;
  return slab.subarray(start, slabUsed);
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
