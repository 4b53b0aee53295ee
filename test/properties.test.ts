/**
 * Property-based tests of the intake's pure core and its two handlers, against an independent model
 * (test/support/arbitraries.ts). Run sizes keep the whole file to a few seconds on a busy machine; set
 * FC_NUM_RUNS_FACTOR (e.g. 10) for a longer hunt, FC_SEED to replay a reported failure.
 */
import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StoredRow, ValidEvent } from '../runtime/core/event.ts';
import { STORED_ROW_COLUMNS } from '../runtime/core/event.ts';
import type { ErrorCode } from '../runtime/core/errors.ts';
import { ERROR_CODES } from '../runtime/core/errors.ts';
import { packRows } from '../runtime/core/hub-record.ts';
import { acceptAndPack, acceptEvents } from '../runtime/core/intake.ts';
import { decodeHubRecord } from '../runtime/core/stored-row.ts';
import { parseUpdatedAt } from '../runtime/core/timestamp.ts';
import { validateEvent } from '../runtime/core/validate-event.ts';
import { createRestHandler, SUCCESS_BODY } from '../runtime/handlers/rest-handler.ts';
import type { WsEvent } from '../runtime/handlers/ws-message-handler.ts';
import { createWsMessageHandler, PARSED_BODY } from '../runtime/handlers/ws-message-handler.ts';
import { selectRoute } from '../runtime/local/gateway/api-gateway-events.ts';
import {
  anyEventInputArb,
  anyString,
  codeUnit,
  emoji,
  loneSurrogate,
  nearlyValidEventArb,
  playerIdArb,
  referenceTimestamp,
  referenceValidate,
  roughTimestampArb,
  storedRowsArb,
  timestampCaseArb,
  trickyString,
  trickyUnit,
  utf8Length,
  validEventArb,
} from './support/arbitraries.ts';
import { fakeVerifier, MemorySink } from './support/memory-sink.ts';

const FACTOR = Number(process.env.FC_NUM_RUNS_FACTOR ?? 1);
const SEED = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };
const runs = (numRuns: number): fc.Parameters<unknown> => ({ numRuns: Math.max(1, Math.round(numRuns * FACTOR)), ...SEED });

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);
const isCode = (code: unknown): code is ErrorCode => typeof code === 'string' && CODES.has(code);
const FIELDS = new Set(['event_id', 'event_type', 'updated_at', 'event_data']);
const CANONICAL_TIME = /^(\d{4})-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const CONTROL = /\p{Cc}/u;
const KiB = 1024;
const MiB = 1024 * KiB;
/** The server clock the handlers get, and the received_at it must produce (written out, not computed). */
const NOW = Date.UTC(2024, 1, 22, 3, 3, 3, 500);
const NOW_ISO = '2024-02-22T03:03:03.500000Z';

/** The contract of a normalised event (ARCHITECTURE.md "Event"), checked on the value alone. */
function assertValidEvent(event: ValidEvent): void {
  assert.equal(Object.keys(event).sort(), ['event_data', 'event_id', 'event_type', 'updated_at']);
  assert.type(event.event_id, 'string');
  assert.ok(event.event_id.length >= 1 && event.event_id.length <= 128, 'event_id length');
  assert.type(event.event_type, 'string');
  assert.ok(event.event_type.length >= 1 && event.event_type.length <= 64, 'event_type length');
  assert.not.ok(CONTROL.test(event.event_type), 'event_type has a control character');
  const year = CANONICAL_TIME.exec(event.updated_at)?.[1];
  assert.ok(year !== undefined && Number(year) >= 1970 && Number(year) <= 9999, `updated_at ${event.updated_at}`);
  if (event.event_data !== null) {
    assert.type(event.event_data, 'string');
    assert.ok(event.event_data.isWellFormed(), 'event_data is not valid Unicode');
    assert.ok(utf8Length(event.event_data) <= 32 * KiB, 'event_data over 32 KiB');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. validateEvent

test('validateEvent: any input gets a contract-abiding event or a known error code, as the reference decides', () => {
  fc.assert(
    fc.property(anyEventInputArb, (input) => {
      const result = validateEvent(input);
      const expected = referenceValidate(input);
      if (result.ok) {
        assertValidEvent(result.event);
        assert.equal(result.event, expected, 'accepted, but not as the contract normalises it');
      } else {
        assert.ok(isCode(result.error.code), `unknown code ${result.error.code}`);
        assert.type(result.error.message, 'string');
        assert.ok(result.error.field === undefined || typeof result.error.field === 'string');
        assert.is(expected, undefined, `rejected (${result.error.code}: ${result.error.message}) a valid event`);
      }
    }),
    runs(3000),
  );
});

test('validateEvent: hostile strings and near-limit values in any field never throw', () => {
  const hostile = fc.oneof(anyString, trickyString({ maxLength: 300 }), fc.string({ unit: codeUnit, maxLength: 200 }));
  fc.assert(
    fc.property(
      fc.oneof(
        hostile,
        fc.record({ event_id: hostile, event_type: hostile, updated_at: hostile, event_data: hostile }, { requiredKeys: [] }),
        fc.tuple(validEventArb, fc.constantFrom('event_id', 'event_type', 'updated_at', 'event_data'), hostile).map(
          ([{ input }, field, value]) => ({ ...input, [field]: value }),
        ),
      ),
      (input) => {
        const result = validateEvent(input);
        if (result.ok) assertValidEvent(result.event);
        else assert.ok(isCode(result.error.code));
        assert.equal(result.ok ? result.event : undefined, referenceValidate(input));
      },
    ),
    runs(1500),
  );
});

test('validateEvent: every valid event of the model is accepted as the model normalises it, and again unchanged', () => {
  fc.assert(
    fc.property(validEventArb, ({ input, expected }) => {
      const first = validateEvent(input);
      if (!first.ok) throw new Error(`rejected ${first.error.code}: ${first.error.message}`);
      assert.equal(first.event, expected);
      assertValidEvent(first.event);
      // Normalisation is idempotent: the stored form validates to itself (the decoder re-checks stored rows).
      const second = validateEvent({ ...first.event });
      assert.equal(second, { ok: true, event: first.event });
    }),
    runs(1500),
  );
});

test('validateEvent: only the four fields are allowed; any other key is unknown_field naming that key', () => {
  fc.assert(
    fc.property(
      validEventArb,
      fc.string({ unit: trickyUnit, minLength: 1, maxLength: 12 }).filter((k) => !FIELDS.has(k)),
      fc.jsonValue({ maxDepth: 1 }),
      ({ input }, key, value) => {
        const object = { ...input };
        Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
        const result = validateEvent(object);
        assert.equal(result.ok ? 'ok' : [result.error.code, result.error.field], ['unknown_field', key]);
      },
    ),
    runs(500),
  );
});

// ---------------------------------------------------------------------------------------------------------------
// 2. Timestamps

test('parseUpdatedAt: any in-range instant, in any accepted form and offset, reads back as the same instant', () => {
  fc.assert(
    fc.property(timestampCaseArb, ({ text, canonical }) => {
      const parsed = parseUpdatedAt(text);
      assert.equal(parsed, { ok: true, iso: canonical }, text);
    }),
    runs(3000),
  );
});

test('parseUpdatedAt: wall-clock fields in or out of range are accepted exactly when the calendar model says', () => {
  fc.assert(
    fc.property(roughTimestampArb, (text) => {
      const parsed = parseUpdatedAt(text);
      const expected = referenceTimestamp(text);
      assert.equal(parsed.ok ? parsed.iso : undefined, expected, text);
      if (!parsed.ok) assert.type(parsed.reason, 'string');
    }),
    runs(3000),
  );
});

test('parseUpdatedAt: edited timestamps and arbitrary strings agree with the reference parser', () => {
  const edited = fc
    .tuple(timestampCaseArb, fc.nat(), fc.oneof(fc.constant(''), fc.string({ unit: trickyUnit, minLength: 1, maxLength: 2 }), fc.constantFrom('0', '9', ' ', 'T', 'Z', '+', ':', '.')), fc.integer({ min: 0, max: 2 }))
    .map(([{ text }, at, insert, remove]) => {
      const i = at % (text.length + 1);
      return text.slice(0, i) + insert + text.slice(i + remove);
    });
  fc.assert(
    fc.property(fc.oneof(edited, anyString), (text) => {
      const parsed = parseUpdatedAt(text);
      assert.equal(parsed.ok ? parsed.iso : undefined, referenceTimestamp(text), JSON.stringify(text));
    }),
    runs(3000),
  );
});

// ---------------------------------------------------------------------------------------------------------------
// 3. Packing and decoding hub records

const lineOf = (row: StoredRow) => `${JSON.stringify(row)}\n`;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How to pick a record limit for some rows: the default 1 MiB, 2–20 KiB, or right at a boundary of their sizes. */
type LimitChoice = { kind: 'default' } | { kind: 'fixed'; bytes: number } | { kind: 'boundary'; start: number; count: number; delta: number };

// Kept independent of the rows (no chain) so that fast-check shrinks rows and limit together.
const limitChoiceArb: fc.Arbitrary<LimitChoice> = fc.oneof(
  fc.constant({ kind: 'default' as const }),
  fc.integer({ min: 2 * KiB, max: 20 * KiB }).map((bytes) => ({ kind: 'fixed' as const, bytes })),
  { arbitrary: fc.record({ kind: fc.constant('boundary' as const), start: fc.nat(), count: fc.integer({ min: 1, max: 8 }), delta: fc.integer({ min: -2, max: 2 }) }), weight: 2 },
);

/** The limit a choice means for these rows; never below what the largest row needs (packRows refuses those). */
function limitFor(rows: readonly StoredRow[], choice: LimitChoice): number {
  const needed = Math.max(0, ...rows.map((row) => utf8Length(lineOf(row)) + utf8Length(row.player_id)));
  let limit: number;
  if (choice.kind === 'default') limit = MiB;
  else if (choice.kind === 'fixed') limit = choice.bytes;
  else {
    const start = rows.length === 0 ? 0 : choice.start % rows.length;
    const slice = rows.slice(start, start + choice.count);
    limit = slice.reduce((sum, row) => sum + utf8Length(lineOf(row)), 0) + utf8Length(slice[0]?.player_id ?? '') + choice.delta;
  }
  return Math.max(limit, needed);
}

/** Packing's contract, with sizes measured as Kinesis does: data bytes plus the key's UTF-8 bytes. */
function assertPacking(rows: StoredRow[], limit: number): void {
  const records = packRows(rows, limit);
  const decoded = records.map((record) => decodeHubRecord(record.data));
  // Round trip: every record decodes cleanly, and the records together hold exactly the rows, in order.
  decoded.forEach((d) => assert.equal(d.invalid, []));
  assert.equal(decoded.flatMap((d) => d.rows), rows);

  let offset = 0;
  records.forEach((record, i) => {
    const text = decoder.decode(record.data);
    const lines = text.split('\n');
    assert.is(lines.pop(), '', 'a record ends with a newline');
    assert.ok(lines.length > 0, 'no empty records');
    const mine = rows.slice(offset, offset + lines.length);
    offset += lines.length;
    // NDJSON in stored-row column order, one row per line, all of the record's player.
    lines.forEach((line, j) => {
      assert.equal(Object.keys(JSON.parse(line)), [...STORED_ROW_COLUMNS]);
      assert.is(`${line}\n`, lineOf(mine[j]!));
    });
    for (const row of mine) assert.is(row.player_id, record.partitionKey);
    const keyBytes = encoder.encode(record.partitionKey).byteLength;
    assert.ok(record.data.byteLength + keyBytes <= limit, `record ${i}: ${record.data.byteLength} + key ${keyBytes} > ${limit}`);
    // Greedy maximality: a record closed with the same player next only because the next row would not fit.
    const next = rows[offset];
    if (next !== undefined && next.player_id === record.partitionKey) {
      assert.ok(
        record.data.byteLength + utf8Length(lineOf(next)) + keyBytes > limit,
        `record ${i} could have taken the next row (${record.data.byteLength} + ${utf8Length(lineOf(next))} + ${keyBytes} <= ${limit})`,
      );
    }
  });
  assert.is(offset, rows.length);
}

test('packRows/decodeHubRecord: rows round-trip in order, per player, within the limit, greedily packed', () => {
  fc.assert(
    fc.property(
      storedRowsArb(),
      limitChoiceArb,
      (rows, choice) => assertPacking(rows, limitFor(rows, choice)),
    ),
    runs(400),
  );
});

test('packRows: the partition key counts its UTF-8 bytes against the limit for any key a token could carry', () => {
  // A JWT `sub` is JSON text, which may hold lone surrogates ("\ud800"); UTF-8 encoders (TextEncoder, Buffer, the
  // AWS SDK) write each as U+FFFD, 3 bytes. Small rows of one player, limits right at the rows' boundaries.
  const key = fc.string({ unit: fc.oneof(loneSurrogate, emoji, fc.constantFrom('a', 'é')), minLength: 1, maxLength: 4 });
  const rowsArb = fc
    .tuple(key, fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 5 }))
    .map(([player, data]): StoredRow[] =>
      data.map((text, i) => ({
        event_id: String(i),
        event_type: 'Login',
        updated_at: '2024-02-22T03:03:02.000000Z',
        event_data: text,
        player_id: player,
        received_at: NOW_ISO,
        source: 'ws',
      })),
    );
  fc.assert(
    fc.property(
      rowsArb,
      limitChoiceArb,
      (rows, choice) => assertPacking(rows, limitFor(rows, choice)),
    ),
    runs(300),
  );
});

test('acceptAndPack: the very records and rejections of packRows(acceptEvents(...)), for any events and limit', () => {
  const eventsArb = fc.array(
    fc.oneof(validEventArb.map((c) => c.input), nearlyValidEventArb, anyEventInputArb),
    { maxLength: 12 },
  );
  fc.assert(
    fc.property(eventsArb, playerIdArb, fc.integer({ min: 2 * KiB, max: 64 * KiB }), (events, playerId, limit) => {
      const enrichment = { playerId, receivedAt: NOW_ISO, source: 'ws' as const };
      const { rows, rejected } = acceptEvents(events, enrichment);
      // A row too big for a small limit is refused by both, with the same error.
      let expected: unknown;
      try {
        expected = { records: packRows(rows, limit), accepted: rows.length, rejected };
      } catch (error) {
        expected = (error as Error).message;
      }
      let actual: unknown;
      try {
        actual = acceptAndPack(events, enrichment, limit);
      } catch (error) {
        actual = (error as Error).message;
      }
      const bytes = (value: unknown) =>
        typeof value === 'string' ? value : { ...(value as object), records: (value as { records: { partitionKey: string; data: Uint8Array }[] }).records.map((r) => [r.partitionKey, Buffer.from(r.data).toString('hex')]) };
      assert.equal(bytes(actual), bytes(expected));
    }),
    runs(300),
  );
});

// ---------------------------------------------------------------------------------------------------------------
// 4. decodeHubRecord on anything

/** Lines as decodeHubRecord must number them: split on \n, without the empty string a final \n leaves. */
function linesOf(data: Uint8Array | string): string[] {
  const lines = (typeof data === 'string' ? data : new TextDecoder().decode(data)).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function assertDecodeAccounts(data: Uint8Array | string): void {
  const { rows, invalid } = decodeHubRecord(data);
  const lines = linesOf(data);
  const numbers = invalid.map((entry) => entry.line);
  for (const entry of invalid) {
    assert.ok(isCode(entry.code), `unknown code ${entry.code}`);
    assert.type(entry.message, 'string');
    assert.ok(Number.isInteger(entry.line) && entry.line >= 0 && entry.line < lines.length, `line ${entry.line} of ${lines.length}`);
  }
  assert.equal(numbers, [...new Set(numbers)].sort((a, b) => a - b), 'one report per line, in order');
  // Every non-empty line is either a row or a reported bad line (a blank line may be reported or skipped).
  const badNonEmpty = invalid.filter((entry) => lines[entry.line] !== '').length;
  assert.is(rows.length + badNonEmpty, lines.filter((line) => line !== '').length);
  for (const row of rows) assertValidEvent({ event_id: row.event_id, event_type: row.event_type, updated_at: row.updated_at, event_data: row.event_data });
}

const jsonLine = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.object({ maxDepth: 1 }),
  storedRowsArb().map((rows) => rows[0] ?? {}),
).map((value) => JSON.stringify(value));

test('decodeHubRecord: arbitrary bytes, strings and JSON lines never throw, and every line is accounted for', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.string({ unit: fc.oneof(trickyUnit, fc.constant('\n')), maxLength: 80 }),
        fc.array(fc.oneof(jsonLine, trickyString(), fc.constant('')), { maxLength: 6 }).map((lines) => lines.join('\n')),
        fc.array(jsonLine, { maxLength: 6 }).map((lines) => encoder.encode(lines.map((l) => `${l}\n`).join(''))),
      ),
      (data) => assertDecodeAccounts(data),
    ),
    runs(1500),
  );
});

/** A line that must not decode: garbage, or a stored row broken in a way the contract forbids. */
const badLineArb = fc.oneof(
  fc.string({ unit: trickyUnit, minLength: 1, maxLength: 30 }).filter((s) => !s.includes('\n') && !/"player_id"/.test(s)),
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)).filter((s) => !/"player_id"/.test(s)),
  fc
    .tuple(
      storedRowsArb().filter((rows) => rows.length > 0),
      fc.constantFrom<[string, unknown]>(
        ['event_id', undefined],
        ['event_type', undefined],
        ['updated_at', undefined],
        ['player_id', undefined],
        ['received_at', undefined],
        ['source', undefined],
        ['source', 'http'],
        ['event_data', 5],
        ['event_data', { a: 1 }],
        ['updated_at', 'yesterday'],
        ['received_at', '2024-02-30T00:00:00.000000Z'],
        ['player_id', ''],
        ['event_type', 'bad\u0007type'],
        ['event_id', ''],
        ['extra', 1],
      ),
    )
    .map(([rows, [field, value]]) => {
      const row: Record<string, unknown> = { ...rows[0] };
      if (value === undefined) delete row[field];
      else row[field] = value;
      return JSON.stringify(row);
    }),
);

test('decodeHubRecord: good lines give their rows in order, each bad line is reported at its own line number', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(storedRowsArb().map((rows) => ({ rows })), badLineArb.map((bad) => ({ bad }))), { maxLength: 8 }),
      fc.boolean(),
      (items, asBytes) => {
        const lines = items.flatMap((item) => ('rows' in item ? item.rows.map((row) => JSON.stringify(row)) : [item.bad]));
        const text = lines.map((line) => `${line}\n`).join('');
        const { rows, invalid } = decodeHubRecord(asBytes ? encoder.encode(text) : text);
        assert.equal(rows, items.flatMap((item) => ('rows' in item ? item.rows : [])));
        let line = 0;
        const badAt: number[] = [];
        for (const item of items) {
          if ('rows' in item) line += item.rows.length;
          else badAt.push(line++);
        }
        assert.equal(invalid.map((entry) => entry.line), badAt);
        for (const entry of invalid) assert.ok(isCode(entry.code));
      },
    ),
    runs(400),
  );
});

// ---------------------------------------------------------------------------------------------------------------
// 5. WebSocket frames, without sockets

const WS_ROUTE_KEYS: ReadonlySet<string> = new Set(['put-records', 'ping']);

/** API Gateway's `$request.body.action`: the body parsed as JSON, its `action` if that names a route. */
function referenceRoute(body: string, routes: ReadonlySet<string>): string {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return '$default';
  }
  const action = typeof message === 'object' && message !== null ? (message as { action?: unknown }).action : undefined;
  return typeof action === 'string' && routes.has(action) ? action : '$default';
}

const jsonSpace = fc.constantFrom('', '', ' ', '\n', '\t', '\r\n', '  ');
const otherSpace = fc.constantFrom('\u00a0', '\ufeff', '\u2028', '\u000b', '\u000c', '\u3000');
const space = fc.oneof({ arbitrary: jsonSpace, weight: 4 }, { arbitrary: otherSpace, weight: 1 });
const actionKey = fc.constantFrom('"action"', '"\\u0061ction"', '"actio\\u006e"', '"Action"');
const actionValue = fc.constantFrom('"ping"', '"put-records"', '"pi\\u006eg"', '"put-record"', '"nope"', '1', 'null');
const goodEventsJson = fc.array(validEventArb.map((c) => c.input), { minLength: 1, maxLength: 3 }).map((events) => JSON.stringify(events));
const member = fc.oneof(
  { arbitrary: fc.tuple(actionKey, actionValue), weight: 3 },
  fc.tuple(fc.constant('"id"'), fc.oneof(fc.constantFrom('"b1"', '""', '7'), fc.string({ maxLength: 4 }).map((s) => JSON.stringify(s)))),
  fc.tuple(fc.constant('"events"'), fc.oneof(goodEventsJson, fc.constantFrom('[]', '{}', '"all"'))),
  fc.tuple(fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)), fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v))),
);
/**
 * Frames written out as text, the way a hand-rolled client might: spacing (some of it not JSON whitespace unless
 * `strict`), a leading "action", escaped or repeated keys, trailing junk.
 */
const frameTextArb = fc
  .record({
    strict: fc.boolean(),
    first: fc.option(fc.tuple(fc.constant('"action"'), actionValue), { freq: 1, nil: undefined }),
    members: fc.array(fc.tuple(space, member, space, space), { maxLength: 4 }),
    before: space,
    after: space,
    junk: fc.oneof({ arbitrary: fc.constant(''), weight: 4 }, { arbitrary: fc.constantFrom(',', '}', 'x', ' "action":"ping"'), weight: 1 }),
  })
  .map(({ strict, first, members, before, after, junk }) => {
    const sp = (text: string) => (strict && !/^[ \t\r\n]*$/.test(text) ? ' ' : text);
    const all = [...(first ? [['', first, '', ''] as const] : []), ...members];
    const body = all.map(([s1, [key, value], s2, s3]) => `${sp(s1)}${key}${sp(s2)}:${sp(s3)}${value}`).join(',');
    return `${sp(before)}{${body}}${sp(after)}${junk}`;
  });

const batchIdArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.constantFrom(undefined, '', 7, null, 'x'.repeat(128), 'x'.repeat(129)),
  trickyString({ minLength: 1 }),
);
const eventsArb = fc.oneof(
  { arbitrary: fc.array(anyEventInputArb, { maxLength: 6 }), weight: 4 },
  { arbitrary: fc.array(validEventArb.map((c) => c.input), { minLength: 1, maxLength: 6 }), weight: 4 },
  { arbitrary: fc.jsonValue({ maxDepth: 1 }), weight: 1 },
  {
    arbitrary: fc
      .tuple(validEventArb.filter((c) => JSON.stringify(c.input).length < 200), fc.integer({ min: 499, max: 501 }))
      .map(([c, n]) => Array(n).fill(c.input)),
    weight: 1,
  },
);
const putRecordsArb = fc
  .record({ action: fc.constant('put-records'), id: batchIdArb, events: eventsArb }, { requiredKeys: ['action'] })
  .map((message) => JSON.stringify(message));

/** A JSON message re-spelled with a second "action" member whose key is written with a JSON escape. */
const respelledArb = fc
  .tuple(
    fc.oneof(putRecordsArb, fc.constantFrom('{"action":"ping"}', '{"action":"put-records","id":"b1"}')),
    fc.constantFrom('"\\u0061ction"', '"actio\\u006e"', '"\\u0061\\u0063tion"'),
    actionValue,
  )
  .map(([json, key, value]) => `${json.slice(0, -1)},${key}:${value}}`);

const wsBodyArb = fc.oneof(
  { arbitrary: respelledArb, weight: 2 },
  { arbitrary: anyString, weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), weight: 2 },
  {
    arbitrary: fc
      .record({
        action: fc.oneof(fc.constantFrom('put-records', 'ping', 'Ping', 'put_records', '$default', '$connect', ''), fc.jsonValue({ maxDepth: 1 })),
        id: batchIdArb,
      }, { requiredKeys: ['action'] })
      .map((m) => JSON.stringify(m)),
    weight: 2,
  },
  { arbitrary: putRecordsArb, weight: 4 },
  { arbitrary: frameTextArb, weight: 4 },
);

test('selectRoute: a body that is not JSON takes the $default route, whatever it starts with', () => {
  // API Gateway evaluates $request.body.action on the parsed body; a body that does not parse has no action.
  const notJson = fc.oneof(wsBodyArb, frameTextArb).filter((body) => {
    try {
      JSON.parse(body);
      return false;
    } catch {
      return true;
    }
  });
  fc.assert(
    fc.property(notJson, (body) => {
      assert.is(selectRoute(body, WS_ROUTE_KEYS).route, referenceRoute(body, WS_ROUTE_KEYS), JSON.stringify(body));
    }),
    runs(2000),
  );
});

test('selectRoute: for any well-formed JSON frame the route is its parsed action (duplicate and escaped keys too)', () => {
  const validJson = fc.oneof(frameTextArb, putRecordsArb, respelledArb).filter((body) => {
    try {
      JSON.parse(body);
      return true;
    } catch {
      return false;
    }
  });
  fc.assert(
    fc.property(validJson, (body) => {
      assert.is(selectRoute(body, WS_ROUTE_KEYS).route, referenceRoute(body, WS_ROUTE_KEYS), body);
    }),
    runs(3000),
  );
});

const wsFixture = JSON.parse(readFileSync(new URL('./fixtures/apigw/ws-message.json', import.meta.url), 'utf8')) as WsEvent;

/** As the local gateway builds it: the selected route, and the body it already parsed for the selection. */
function wsMessage(selected: { route: string; parsed?: unknown }, body: string): WsEvent {
  const event = structuredClone(wsFixture);
  event.requestContext.routeKey = selected.route;
  if ('parsed' in selected) event[PARSED_BODY] = selected.parsed;
  event.requestContext.authorizer = { playerId: 'player-7', scope: 'guest' };
  event.body = body;
  return event;
}

interface Frame {
  type?: unknown;
  id?: unknown;
  accepted?: unknown;
  rejected?: unknown;
  error?: unknown;
  message?: unknown;
}

const expectedRows = (events: readonly unknown[], playerId: string, source: 'rest' | 'ws'): StoredRow[] =>
  events.flatMap((event) => {
    const valid = referenceValidate(event);
    return valid === undefined ? [] : [{ ...valid, player_id: playerId, received_at: NOW_ISO, source }];
  });

const isBatchId = (id: unknown): id is string => typeof id === 'string' && id.length >= 1 && id.length <= 128;

test('WebSocket frames: route + handler always answer one ack, pong or error frame, and store exactly the acked rows', async () => {
  const sink = new MemorySink();
  const handler = createWsMessageHandler({ verifier: fakeVerifier, sink, now: () => NOW, logError: () => {} });
  await fc.assert(
    fc.asyncProperty(wsBodyArb, async (body) => {
      const before = sink.records.length;
      const reply = await handler(wsMessage(selectRoute(body, WS_ROUTE_KEYS), body));
      const added = sink.records.slice(before);
      const stored = added.flatMap((record) => decodeHubRecord(record.data).rows);

      assert.is(reply.statusCode, 200);
      assert.type(reply.body, 'string');
      const frame = JSON.parse(reply.body!) as Frame;
      assert.ok(frame.type === 'ack' || frame.type === 'pong' || frame.type === 'error', `frame type ${String(frame.type)}`);
      if (frame.type === 'error') {
        assert.ok(isCode(frame.error), `unknown code ${String(frame.error)}`);
        assert.type(frame.message, 'string');
        assert.ok(frame.id === undefined || isBatchId(frame.id));
      }
      if (frame.type !== 'ack') assert.is(added.length, 0, 'rows stored without an ack');

      // What the frame means, read with JSON.parse semantics (API Gateway routes on the parsed action).
      let message: unknown;
      try {
        message = JSON.parse(body);
      } catch {
        assert.equal([frame.type, frame.error], ['error', 'malformed_json']);
        return;
      }
      const object = typeof message === 'object' && message !== null ? (message as Record<string, unknown>) : {};
      const idOk = object.id === undefined || isBatchId(object.id);
      if (object.action === 'ping') {
        // A ping with a malformed "id" may be refused; a plain ping is answered.
        if (idOk) assert.equal(frame, { type: 'pong' });
        else assert.equal([frame.type, frame.error], ['error', 'invalid_value']);
        return;
      }
      const events = object.events;
      // The error the contract's reading of the frame calls for; an error frame carries the batch id once it is known.
      let expected: ErrorCode | undefined;
      if (!idOk) expected = 'invalid_value';
      else if (object.action === undefined) expected = 'missing_field';
      else if (object.action !== 'put-records') expected = 'unknown_action';
      else if (object.id === undefined) expected = 'missing_field';
      else if (events === undefined) expected = 'missing_field';
      else if (!Array.isArray(events)) expected = 'wrong_type';
      else if (events.length === 0) expected = 'invalid_value';
      else if (events.length > 500) expected = 'too_many_events';
      if (expected !== undefined) {
        assert.equal([frame.type, frame.error], ['error', expected], `reply ${reply.body!.slice(0, 200)} to ${body.slice(0, 200)}`);
        assert.is(frame.id, idOk ? object.id : undefined);
        return;
      }
      assert.ok(Array.isArray(events));
      assert.is(frame.type, 'ack', `expected an ack for ${body.slice(0, 200)}`);
      assert.is(frame.id, object.id);
      const rows = expectedRows(events, 'player-7', 'ws');
      assert.is(frame.accepted, rows.length);
      assert.is(stored.length, frame.accepted, 'ack count = rows stored by this call');
      assert.equal(stored, rows);
      for (const record of added) assert.is(record.partitionKey, 'player-7');
      const rejected = frame.rejected as { index: unknown; error: unknown; message: unknown }[];
      assert.ok(Array.isArray(rejected));
      assert.equal(
        rejected.map((r) => r.index),
        events.flatMap((event, index) => (referenceValidate(event) === undefined ? [index] : [])),
      );
      for (const r of rejected) assert.ok(isCode(r.error) && typeof r.message === 'string');
    }),
    runs(600),
  );
});

// ---------------------------------------------------------------------------------------------------------------
// 6. REST

const restFixture = JSON.parse(readFileSync(new URL('./fixtures/apigw/http-put-record.json', import.meta.url), 'utf8')) as APIGatewayProxyEventV2;

function restEvent(route: 'put-record' | 'put-records', body: string, base64: boolean): APIGatewayProxyEventV2 {
  const event = structuredClone(restFixture);
  event.routeKey = `POST /${route}`;
  event.rawPath = `/${route}`;
  event.headers.authorization = 'good-player-1';
  event.body = base64 ? Buffer.from(body, 'utf8').toString('base64') : body;
  event.isBase64Encoded = base64;
  return event;
}

const jsonText = (value: unknown) => JSON.stringify(value) ?? 'null';
const restBodyArb = fc.oneof(
  { arbitrary: anyString, weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).map(jsonText), weight: 1 },
  { arbitrary: anyEventInputArb.map(jsonText), weight: 3 },
  { arbitrary: nearlyValidEventArb.map(jsonText), weight: 2 },
  { arbitrary: fc.record({ events: eventsArb }, { requiredKeys: [] }).map(jsonText), weight: 1 },
  { arbitrary: fc.record({ events: eventsArb }).map(jsonText), weight: 3 },
  { arbitrary: fc.array(anyEventInputArb, { maxLength: 3 }).map(jsonText), weight: 1 },
);

test('REST: any body gets 200, 400 or 413 with a coded error, and rows are stored only with a 200', async () => {
  const sink = new MemorySink();
  const handler = createRestHandler({ verifier: fakeVerifier, sink, now: () => NOW, logError: () => {} });
  await fc.assert(
    fc.asyncProperty(restBodyArb, fc.constantFrom<'put-record' | 'put-records'>('put-record', 'put-records'), fc.boolean(), async (body, route, base64) => {
      const before = sink.records.length;
      const reply = await handler(restEvent(route, body, base64));
      const added = sink.records.slice(before);
      const stored = added.flatMap((record) => decodeHubRecord(record.data).rows);
      assert.ok([200, 400, 413].includes(reply.statusCode!), `status ${reply.statusCode} for ${body.slice(0, 200)}`);
      const answer = JSON.parse(reply.body ?? '') as Record<string, unknown> | string;

      let message: unknown;
      let parses = true;
      try {
        message = JSON.parse(body);
      } catch {
        parses = false;
      }
      if (utf8Length(body) > MiB) {
        assert.equal([reply.statusCode, added.length], [413, 0]);
        return;
      }
      if (reply.statusCode !== 200) {
        assert.is(added.length, 0, 'rows stored with a failure status');
        assert.ok(typeof answer === 'object' && answer !== null && isCode(answer.error), `error body ${reply.body}`);
        const error = (answer as { error: string }).error;
        assert.is(reply.statusCode === 413, error === 'too_large', `${reply.statusCode} with ${error}`);
        if (!parses) assert.is(error, body.length === 0 ? 'invalid_request' : 'malformed_json');
      }
      if (route === 'put-record') {
        const valid = parses ? referenceValidate(message) : undefined;
        assert.is(reply.statusCode === 200, valid !== undefined, `put-record of ${body.slice(0, 200)} answered ${reply.body?.slice(0, 200)}`);
        if (valid !== undefined) {
          assert.is(answer, SUCCESS_BODY);
          assert.equal(stored, [{ ...valid, player_id: 'player-1', received_at: NOW_ISO, source: 'rest' }]);
        }
        return;
      }
      const events = typeof message === 'object' && message !== null && !Array.isArray(message) ? (message as { events?: unknown }).events : undefined;
      const batchOk = parses && Array.isArray(events) && events.length >= 1 && events.length <= 500;
      assert.is(reply.statusCode === 200, batchOk, `put-records of ${body.slice(0, 200)} answered ${reply.body?.slice(0, 200)}`);
      if (batchOk) {
        const rows = expectedRows(events, 'player-1', 'rest');
        const { accepted, rejected } = answer as { accepted: unknown; rejected: { index: number; error: unknown }[] };
        assert.is(accepted, rows.length);
        assert.equal(stored, rows);
        assert.is(rejected.length, events.length - rows.length);
        for (const r of rejected) assert.ok(isCode(r.error));
      }
    }),
    runs(600),
  );
});

test('REST: a body over 1 MiB (as sent, or decoded from base64) is 413 too_large; up to 1 MiB it is read', async () => {
  const sink = new MemorySink();
  const handler = createRestHandler({ verifier: fakeVerifier, sink, now: () => NOW, logError: () => {} });
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('x', 'é', '敵', '🎮'), fc.integer({ min: -4, max: 4 }), fc.boolean(), async (unit, delta, base64) => {
      const body = unit.repeat(Math.floor(MiB / utf8Length(unit)) + delta);
      const reply = await handler(restEvent('put-record', body, base64));
      if (utf8Length(body) > MiB) assert.equal([reply.statusCode, JSON.parse(reply.body!).error], [413, 'too_large']);
      else assert.equal([reply.statusCode, JSON.parse(reply.body!).error], [400, 'malformed_json']);
      assert.is(sink.records.length, 0);
    }),
    runs(40),
  );
});

test.run();
