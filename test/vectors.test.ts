/**
 * The shared vectors (test/vectors/*.json) through the TypeScript code: validateEvent, decodeHubRecord and the local
 * writer's DedupIndex. glue/test_telemetry_transforms.py runs the same files through the Glue job's transforms.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StoredRow } from '../runtime/core/event.ts';
import { decodeHubRecord } from '../runtime/core/stored-row.ts';
import { validateEvent } from '../runtime/core/validate-event.ts';
import { DedupIndex } from '../runtime/local/delta-writer/dedup-index.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8')) as T;
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The vector macros: {"$repeat": s, "times": n} and {"$concat": [parts]}. */
function expand(value: Json): Json {
  if (Array.isArray(value)) return value.map(expand);
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 2 && '$repeat' in value && 'times' in value) {
    return (value.$repeat as string).repeat(value.times as number);
  }
  if (keys.length === 1 && '$concat' in value) return (value.$concat as Json[]).map(expand).join('');
  // fromEntries defines properties, so a "__proto__" key stays an ordinary own property.
  return Object.fromEntries(keys.map((key) => [key, expand(value[key]!)]));
}

function withWithout(base: JsonObject, set: Json | undefined, remove: Json | undefined): JsonObject {
  const removed = new Set((remove as string[] | undefined) ?? []);
  const entries = [...Object.entries(base), ...Object.entries(expand(set ?? {}) as JsonObject)];
  return Object.fromEntries(entries.filter(([key]) => !removed.has(key)));
}

// --- events.json ---------------------------------------------------------------------------------------------------

interface EventCase {
  name: string;
  input?: Json;
  with?: JsonObject;
  without?: string[];
  expect: { event?: JsonObject; error?: { code: string; field?: string } };
  message_includes?: string;
}

const events = loadVectors<{ base_event: JsonObject; cases: EventCase[] }>('events.json');

for (const vector of events.cases) {
  test(`events: ${vector.name}`, () => {
    const input = 'input' in vector ? expand(vector.input!) : withWithout(events.base_event, vector.with, vector.without);
    const result = validateEvent(input);
    const expect = expand(vector.expect as Json) as EventCase['expect'];
    if (expect.event) {
      if (!result.ok) assert.unreachable(`rejected: ${result.error.code} ${result.error.message}`);
      else assert.equal(result.event, expect.event);
    } else {
      if (result.ok) assert.unreachable(`accepted: ${JSON.stringify(result.event).slice(0, 200)}`);
      else {
        const { code, field } = result.error;
        assert.equal(field === undefined ? { code } : { code, field }, expect.error);
        if (vector.message_includes) assert.match(result.error.message, vector.message_includes);
      }
    }
  });
}

// --- records.json --------------------------------------------------------------------------------------------------

interface RecordCase {
  name: string;
  lines?: Json[];
  trailing_newline?: boolean;
  text?: string;
  data_base64?: string;
  rows: Json[];
  invalid: Array<{ line: number; code: string }>;
}

const records = loadVectors<{ base_row: JsonObject; cases: RecordCase[] }>('records.json');

const isRowShorthand = (value: Json): value is JsonObject =>
  isObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((key) => key === 'row_with' || key === 'row_without');

/** The record as the vector gives it, plus its UTF-8 bytes when it is given as text: both must decode alike. */
function recordInputs(vector: RecordCase): Array<string | Uint8Array> {
  if (vector.data_base64 !== undefined) return [new Uint8Array(Buffer.from(vector.data_base64, 'base64'))];
  const text =
    vector.text ??
    vector.lines!.map((line) => {
      if (typeof line === 'string') return line;
      if (isRowShorthand(line)) return JSON.stringify(withWithout(records.base_row, line.row_with, line.row_without));
      return JSON.stringify(expand(line));
    }).join('\n') + (vector.trailing_newline === false ? '' : '\n');
  return [text, new TextEncoder().encode(text)];
}

for (const vector of records.cases) {
  test(`records: ${vector.name}`, () => {
    const rows = vector.rows.map((row) => (isRowShorthand(row) ? withWithout(records.base_row, row.row_with, row.row_without) : expand(row)));
    for (const data of recordInputs(vector)) {
      const decoded = decodeHubRecord(data);
      const as = typeof data === 'string' ? 'text' : 'bytes';
      assert.equal(decoded.rows, rows, as);
      assert.equal(decoded.invalid.map(({ line, code }) => ({ line, code })), vector.invalid, as);
      for (const invalid of decoded.invalid) assert.ok(invalid.message.length > 0);
    }
  });
}

// --- dedup.json ----------------------------------------------------------------------------------------------------

interface DedupCase {
  name: string;
  window_ms: number;
  expire_at?: string;
  ts_divergence?: string;
  rows: Array<{ batch: number; with?: JsonObject; stored: boolean }>;
}

const dedup = loadVectors<{ base_row: JsonObject; cases: DedupCase[] }>('dedup.json');

for (const vector of dedup.cases) {
  test(`dedup: ${vector.name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vectors-dedup-'));
    const index = DedupIndex.open({ path: join(dir, 'dedup.sqlite'), windowMs: vector.window_ms });
    try {
      const entries = vector.rows.map((entry) => ({ ...entry, row: withWithout(dedup.base_row, entry.with, undefined) as unknown as StoredRow }));
      const stored = new Set<StoredRow>();
      for (const batch of [...new Set(entries.map((entry) => entry.batch))].sort((a, b) => a - b)) {
        const rows = entries.filter((entry) => entry.batch === batch).map(({ row }) => ({ row, position: batch + 1 }));
        for (const row of index.admit(rows)) stored.add(row);
        // The local writer expires keys between batches (relative to the latest received_at, not the clock).
        index.expire();
      }
      const actual = entries.map(({ row }) => stored.has(row));
      const expected = entries.map((entry) => entry.stored);
      if (vector.ts_divergence === undefined) assert.equal(actual, expected);
      else {
        // Written to the contract; the TypeScript code is known to disagree. When it agrees, drop ts_divergence.
        assert.not.equal(actual, expected, `the TypeScript code now meets the contract: remove ts_divergence from '${vector.name}'`);
      }
    } finally {
      index.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('every vector file was read', () => {
  assert.ok(events.cases.length > 100);
  assert.ok(records.cases.length > 40);
  assert.ok(dedup.cases.length > 10);
});

test.run();
