/**
 * The contract every RecordSink keeps (Kinesis with a fake client, the SQLite hub stream). Each implementation's
 * test file calls `sinkContract` with a setup that returns a fresh sink and a way to read what it stored.
 */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { HubRecord, RecordSink } from '../runtime/adapters/sink.ts';
import { LIMITS } from '../runtime/core/limits.ts';

export interface StoredRecord {
  partitionKey: string;
  data: Buffer;
}

export interface SinkFixture {
  sink: RecordSink;
  /** Everything the sink made durable, in stream order. */
  stored: () => Promise<StoredRecord[]>;
  close: () => Promise<void>;
}

export function sinkContract(name: string, setup: () => Promise<SinkFixture>): void {
  const test = suite<{ fixture?: SinkFixture }>(`sink contract: ${name}`, {});

  test.before.each(async (context) => {
    context.fixture = await setup();
  });
  test.after.each(async (context) => {
    await context.fixture?.close();
    context.fixture = undefined;
  });

  const fixtureOf = (context: { fixture?: SinkFixture }): SinkFixture => {
    if (!context.fixture) throw new Error('setup did not run');
    return context.fixture;
  };

  test('stores records byte for byte and in order', async (context) => {
    const { sink, stored } = fixtureOf(context);
    const records: HubRecord[] = [
      { partitionKey: 'player-1', data: Buffer.from('{"event_id":"1"}\n{"event_id":"2"}\n') },
      // Any bytes, not only valid UTF-8: the archive keeps records exactly as written.
      { partitionKey: 'player-2', data: new Uint8Array([0, 255, 0xc3, 0x28, 10, 13, 0]) },
      { partitionKey: 'player-1', data: randomBytes(64 * 1024) },
      { partitionKey: 'player-3', data: Buffer.from('é ☃ 😀\n') },
    ];
    const result = await sink.putRecords(records);
    assert.equal(result.failed, []);
    const out = await stored();
    assert.is(out.length, records.length);
    out.forEach((record, i) => {
      assert.is(record.partitionKey, records[i]!.partitionKey);
      assert.ok(Buffer.from(records[i]!.data).equals(record.data), `record ${i} bytes differ`);
    });
  });

  test('an empty call stores nothing and fails nothing', async (context) => {
    const { sink, stored } = fixtureOf(context);
    assert.equal((await sink.putRecords([])).failed, []);
    assert.equal(await stored(), []);
  });

  test('concurrent calls all resolve and every record is stored once', async (context) => {
    const { sink, stored } = fixtureOf(context);
    const calls = Array.from({ length: 50 }, (_, c) =>
      Array.from({ length: 3 }, (_, r) => ({ partitionKey: `player-${c % 7}`, data: Buffer.from(`call ${c} record ${r}\n`) })),
    );
    const results = await Promise.all(calls.map((records) => sink.putRecords(records)));
    for (const result of results) assert.equal(result.failed, []);
    const out = (await stored()).map((record) => record.data.toString());
    assert.equal([...out].sort(), calls.flat().map((record) => record.data.toString()).sort());
    // Within one call the order holds.
    for (const [c, records] of calls.entries()) {
      const at = records.map((record) => out.indexOf(record.data.toString()));
      assert.equal([...at].sort((a, b) => a - b), at, `call ${c} out of order`);
    }
  });

  test('a too-large record fails by index while the others are stored', async (context) => {
    const { sink, stored } = fixtureOf(context);
    const records: HubRecord[] = [
      { partitionKey: 'player-1', data: Buffer.from('first\n') },
      { partitionKey: 'player-1', data: Buffer.alloc(LIMITS.recordMaxBytes + 1, 0x61) },
      { partitionKey: 'player-1', data: Buffer.from('third\n') },
    ];
    const { failed } = await sink.putRecords(records);
    assert.is(failed.length, 1);
    assert.is(failed[0]!.index, 1);
    assert.is(failed[0]!.code, 'too_large');
    assert.equal(
      (await stored()).map((record) => record.data.toString()),
      ['first\n', 'third\n'],
    );
  });

  test('the size limit counts data plus partition key, as Kinesis does', async (context) => {
    const { sink, stored } = fixtureOf(context);
    const key = 'player-ü';
    const fits = LIMITS.recordMaxBytes - Buffer.byteLength(key);
    const { failed } = await sink.putRecords([
      { partitionKey: key, data: Buffer.alloc(fits, 0x62) },
      { partitionKey: key, data: Buffer.alloc(fits + 1, 0x62) },
    ]);
    assert.equal(
      failed.map((f) => [f.index, f.code]),
      [[1, 'too_large']],
    );
    const out = await stored();
    assert.is(out.length, 1);
    assert.is(out[0]!.data.byteLength, fits);
  });

  test('an empty or over-long partition key fails that record only', async (context) => {
    const { sink, stored } = fixtureOf(context);
    const { failed } = await sink.putRecords([
      { partitionKey: '', data: Buffer.from('a\n') },
      { partitionKey: 'ok', data: Buffer.from('b\n') },
      { partitionKey: 'k'.repeat(257), data: Buffer.from('c\n') },
    ]);
    assert.equal(
      failed.map((f) => f.index),
      [0, 2],
    );
    assert.equal(
      (await stored()).map((record) => record.data.toString()),
      ['b\n'],
    );
  });

  test('partition keys are preserved', async (context) => {
    const { sink, stored } = fixtureOf(context);
    const keys = ['a', '3f1c9a52-6b7e-4d0e-9f00-1c2d3e4f5a6b', 'us-east-1:0d8c…', 'ключ', 'k'.repeat(256)];
    const { failed } = await sink.putRecords(keys.map((partitionKey) => ({ partitionKey, data: Buffer.from('x\n') })));
    assert.equal(failed, []);
    assert.equal(
      (await stored()).map((record) => record.partitionKey),
      keys,
    );
  });

  test.run();
}
