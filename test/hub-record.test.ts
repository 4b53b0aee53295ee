import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StoredRow } from '../runtime/core/event.ts';
import { STORED_ROW_COLUMNS } from '../runtime/core/event.ts';
import { packRows } from '../runtime/core/hub-record.ts';
import { acceptEvents } from '../runtime/core/intake.ts';
import { decodeHubRecord } from '../runtime/core/stored-row.ts';

const MiB = 1024 * 1024;

function row(i: number, player = 'player-1', data: string | null = `quote ${i}`): StoredRow {
  return {
    event_id: String(i).padStart(5, '0'),
    event_type: i % 2 ? 'Login' : 'New Game',
    updated_at: '2024-02-22T03:03:02.000000Z',
    event_data: data,
    player_id: player,
    received_at: '2024-02-22T03:03:03.123456Z',
    source: 'ws',
  };
}

test('rows are packed as NDJSON lines in stored-row column order and decode back unchanged', () => {
  const rows = [row(1), row(2, 'player-1', null), row(3, 'player-1', 'unicode: 敵 🎮 "quoted"\nnewline')];
  const records = packRows(rows);
  assert.is(records.length, 1);
  const text = new TextDecoder().decode(records[0]!.data);
  assert.ok(text.endsWith('\n'));
  assert.is(text.split('\n').length, 4);
  assert.equal(Object.keys(JSON.parse(text.split('\n')[0]!)), [...STORED_ROW_COLUMNS]);
  assert.is(records[0]!.partitionKey, 'player-1');
  assert.equal(decodeHubRecord(records[0]!.data), { rows, invalid: [] });
});

test('a batch is split into as few records of at most 1 MiB as possible', () => {
  const big = 'x'.repeat(30 * 1024);
  const rows = Array.from({ length: 100 }, (_, i) => row(i, 'p', big));
  const records = packRows(rows);
  const lineBytes = new TextEncoder().encode(`${JSON.stringify(rows[0])}\n`).byteLength;
  const perRecord = Math.floor((MiB - 1) / lineBytes); // the 1-byte partition key 'p' counts too
  assert.is(records.length, Math.ceil(rows.length / perRecord));
  for (const record of records) assert.ok(record.data.byteLength + 1 <= MiB);
  // Greedy in order: every record but the last is too full to take the next row.
  for (const record of records.slice(0, -1)) assert.ok(record.data.byteLength + 1 + lineBytes > MiB);
  assert.equal(records.flatMap((r) => decodeHubRecord(r.data).rows), rows);
});

test('the byte limit counts UTF-8 bytes, including escapes', () => {
  const rows = Array.from({ length: 10 }, (_, i) => row(i, 'p', '敵'.repeat(10_000)));
  for (const record of packRows(rows, 100_000)) assert.ok(record.data.byteLength + 1 <= 100_000);
  const escapes = Array.from({ length: 10 }, (_, i) => row(i, 'p', '\u0001'.repeat(10_000)));
  const records = packRows(escapes, 200_000);
  for (const record of records) assert.ok(record.data.byteLength + 1 <= 200_000);
  assert.equal(records.flatMap((r) => decodeHubRecord(r.data).rows), escapes);
});

test('the partition key counts against the record limit, as Kinesis counts it', () => {
  const key = 'k'.repeat(200);
  const rows = Array.from({ length: 40 }, (_, i) => row(i, key, 'x'.repeat(1000)));
  for (const record of packRows(rows, 10_000)) assert.ok(record.data.byteLength + 200 <= 10_000);
});

test('rows of different players go to records with their own partition key', () => {
  const records = packRows([row(1, 'a'), row(2, 'a'), row(3, 'b')]);
  assert.equal(records.map((r) => [r.partitionKey, decodeHubRecord(r.data).rows.length]), [['a', 2], ['b', 1]]);
});

test('an empty batch packs to no record', () => {
  assert.equal(packRows([]), []);
});

test('decoding reports bad lines by number and keeps the good ones', () => {
  const good = JSON.stringify(row(1));
  const text = [good, '{not json', JSON.stringify({ ...row(2), extra: 1 }), JSON.stringify({ ...row(3), player_id: '' }),
    JSON.stringify({ ...row(4), source: 'carrier-pigeon' }), JSON.stringify({ ...row(5), received_at: 'later' }), ''].join('\n');
  const decoded = decodeHubRecord(text);
  assert.equal(decoded.rows, [row(1)]);
  assert.equal(decoded.invalid.map((i) => [i.line, i.code]), [
    [1, 'malformed_json'], [2, 'unknown_field'], [3, 'missing_field'], [4, 'invalid_value'], [5, 'invalid_timestamp'],
  ]);
});

test('acceptEvents enriches valid events from the server side only and reports the rest by index', () => {
  const { rows, rejected } = acceptEvents(
    [
      { event_id: '1', event_type: 'Login', updated_at: '2024-02-22 03:03:02' },
      { event_id: '2', event_type: 'Login', updated_at: '2024-02-22 03:03:02', player_id: 'forged' },
      'not an event',
    ],
    { playerId: 'verified-sub', source: 'rest', receivedAt: '2024-02-22T03:03:03.000000Z' },
  );
  assert.equal(rows, [{ event_id: '1', event_type: 'Login', updated_at: '2024-02-22T03:03:02.000000Z', event_data: null,
    player_id: 'verified-sub', received_at: '2024-02-22T03:03:03.000000Z', source: 'rest' }]);
  assert.equal(rejected.map((r) => [r.index, r.error, r.field]), [[1, 'unknown_field', 'player_id'], [2, 'wrong_type', undefined]]);
});

test.run();
