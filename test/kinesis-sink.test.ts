import type { KinesisClient, PutRecordsCommand, PutRecordsCommandOutput, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createKinesisSink, KINESIS_LIMITS } from '../runtime/adapters/kinesis-sink.ts';
import type { KinesisPutRecordsClient, KinesisSinkOptions } from '../runtime/adapters/kinesis-sink.ts';
import { sinkContract } from './sink-contract.ts';

// Compile-time: the real client fits the adapter's structural interface.
const realClientFits: KinesisClient extends KinesisPutRecordsClient ? true : never = true;
void realClientFits;

interface SentRecord {
  partitionKey: string;
  data: Buffer;
}

/**
 * An in-memory shard that answers like Kinesis. `failEntry` returns an ErrorCode to fail one entry of one call;
 * `failCall` returns an error to throw instead of answering.
 */
class FakeKinesis implements KinesisPutRecordsClient {
  readonly shard: SentRecord[] = [];
  readonly calls: Array<{ input: PutRecordsCommand['input']; bytes: number }> = [];
  failEntry: (record: SentRecord, call: number) => string | undefined = () => undefined;
  failCall: (call: number) => Error | undefined = () => undefined;

  async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const input = command.input;
    const records = input.Records ?? [];
    const call = this.calls.length + 1;
    this.calls.push({
      input,
      bytes: records.reduce((sum, r) => sum + (r.Data?.byteLength ?? 0) + Buffer.byteLength(r.PartitionKey ?? ''), 0),
    });
    await Promise.resolve();
    const thrown = this.failCall(call);
    if (thrown) throw thrown;
    let failedCount = 0;
    const results: PutRecordsResultEntry[] = records.map((entry) => {
      const record = { partitionKey: entry.PartitionKey!, data: Buffer.from(entry.Data!) };
      const errorCode = this.failEntry(record, call);
      if (errorCode) {
        failedCount++;
        return { ErrorCode: errorCode, ErrorMessage: `${errorCode} for ${record.data.toString().slice(0, 20)}` };
      }
      this.shard.push(record);
      return { SequenceNumber: String(this.shard.length), ShardId: 'shardId-000000000000' };
    });
    return { FailedRecordCount: failedCount, Records: results, $metadata: {} };
  }
}

function sinkWith(fake: FakeKinesis, options: Partial<KinesisSinkOptions> = {}) {
  const delays: number[] = [];
  const sink = createKinesisSink({
    client: fake,
    streamName: 'hub',
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0.5,
    ...options,
  } as KinesisSinkOptions);
  return { sink, delays };
}

const record = (text: string, partitionKey = 'player-1') => ({ partitionKey, data: Buffer.from(text) });
const named = (name: string, message: string) => Object.assign(new Error(message), { name });

sinkContract('Kinesis (fake client)', async () => {
  const fake = new FakeKinesis();
  return { sink: sinkWith(fake).sink, stored: async () => fake.shard, close: async () => {} };
});

test('splits at 500 records per call, keeping the order', async () => {
  const fake = new FakeKinesis();
  const records = Array.from({ length: 1200 }, (_, i) => record(`r${i}`));
  const { failed } = await sinkWith(fake).sink.putRecords(records);
  assert.equal(failed, []);
  assert.equal(
    fake.calls.map((c) => c.input.Records!.length),
    [500, 500, 200],
  );
  assert.equal(
    fake.shard.map((r) => r.data.toString()),
    records.map((r) => r.data.toString()),
  );
  assert.is(fake.calls[0]!.input.StreamName, 'hub');
});

test('splits at 10 MiB per call, counting partition keys', async () => {
  const fake = new FakeKinesis();
  const key = 'player-1';
  // Exactly 1 MiB each with its key: ten fill a call to the byte.
  const full = KINESIS_LIMITS.recordMaxBytes - Buffer.byteLength(key);
  const records = Array.from({ length: 12 }, () => ({ partitionKey: key, data: Buffer.alloc(full, 0x61) }));
  const { failed } = await sinkWith(fake).sink.putRecords(records);
  assert.equal(failed, []);
  assert.equal(
    fake.calls.map((c) => c.input.Records!.length),
    [10, 2],
  );
  assert.is(fake.calls[0]!.bytes, KINESIS_LIMITS.requestMaxBytes);

  // One more byte of key per record pushes the tenth into the next call.
  const fake2 = new FakeKinesis();
  const half = 512 * 1024;
  await sinkWith(fake2).sink.putRecords(Array.from({ length: 21 }, () => ({ partitionKey: key, data: Buffer.alloc(half) })));
  assert.equal(
    fake2.calls.map((c) => c.input.Records!.length),
    [19, 2],
  );
  for (const call of fake2.calls) assert.ok(call.bytes <= KINESIS_LIMITS.requestMaxBytes);
});

test('retries only the failed entries, with growing backoff', async () => {
  const fake = new FakeKinesis();
  fake.failEntry = (r, call) =>
    call <= 2 && ['b', 'd'].includes(r.data.toString()) ? 'ProvisionedThroughputExceededException' : undefined;
  const { sink, delays } = sinkWith(fake, { baseDelayMs: 100 });
  const { failed } = await sink.putRecords(['a', 'b', 'c', 'd', 'e'].map((t) => record(t)));
  assert.equal(failed, []);
  assert.equal(
    fake.calls.map((c) => c.input.Records!.map((r) => Buffer.from(r.Data!).toString())),
    [['a', 'b', 'c', 'd', 'e'], ['b', 'd'], ['b', 'd']],
  );
  assert.equal(
    fake.shard.map((r) => r.data.toString()),
    ['a', 'c', 'e', 'b', 'd'],
  );
  // Jitter 0.5 puts each delay at 3/4 of its ceiling: 100, then 200.
  assert.equal(delays, [75, 150]);
});

test('jitter stays between half and all of the ceiling, which is capped', async () => {
  for (const [random, expected] of [
    [0, [25, 50, 100, 150]],
    [0.999999, [50, 100, 200, 300]],
  ] as const) {
    const fake = new FakeKinesis();
    fake.failEntry = () => 'InternalFailure';
    const { sink, delays } = sinkWith(fake, { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 300, random: () => random });
    await sink.putRecords([record('a')]);
    assert.equal(
      delays.map((d) => Math.round(d)),
      expected,
    );
  }
});

test('gives up after maxAttempts and reports what still failed by index, with Kinesis\' message', async () => {
  const fake = new FakeKinesis();
  fake.failEntry = (r) => (r.data.toString() === 'b' ? 'InternalFailure' : undefined);
  const { sink, delays } = sinkWith(fake, { maxAttempts: 3 });
  const { failed } = await sink.putRecords([
    record('a'),
    record('b'),
    record('c'),
    { partitionKey: 'p', data: Buffer.alloc(KINESIS_LIMITS.recordMaxBytes) },
  ]);
  assert.equal(
    failed.map((f) => [f.index, f.code]),
    [
      [1, 'stream_unavailable'],
      [3, 'too_large'],
    ],
  );
  assert.match(failed[0]!.message, /InternalFailure for b/);
  assert.is(fake.calls.length, 3);
  assert.is(delays.length, 2);
  assert.equal(
    fake.shard.map((r) => r.data.toString()),
    ['a', 'c'],
  );
});

test('a thrown send is retried, and after the last attempt its records fail instead of throwing', async () => {
  const fake = new FakeKinesis();
  fake.failCall = (call) => (call <= 2 ? named('TimeoutError', 'socket hang up') : undefined);
  const { sink } = sinkWith(fake);
  assert.equal((await sink.putRecords([record('a'), record('b')])).failed, []);
  assert.is(fake.calls.length, 3);
  assert.equal(
    fake.shard.map((r) => r.data.toString()),
    ['a', 'b'],
  );

  const down = new FakeKinesis();
  down.failCall = () => named('ProvisionedThroughputExceededException', 'Rate exceeded for stream hub');
  const { sink: downSink, delays } = sinkWith(down, { maxAttempts: 4 });
  const { failed } = await downSink.putRecords([record('a'), record('b')]);
  assert.equal(
    failed.map((f) => [f.index, f.code]),
    [
      [0, 'stream_unavailable'],
      [1, 'stream_unavailable'],
    ],
  );
  assert.match(failed[0]!.message, /Rate exceeded/);
  assert.is(down.calls.length, 4);
  assert.is(delays.length, 3);
});

test('an error no retry can fix fails at once', async () => {
  const fake = new FakeKinesis();
  fake.failCall = () => named('ResourceNotFoundException', 'Stream hub under account 1 not found.');
  const { sink, delays } = sinkWith(fake);
  const { failed } = await sink.putRecords([record('a')]);
  assert.equal(
    failed.map((f) => f.code),
    ['stream_unavailable'],
  );
  assert.match(failed[0]!.message, /not found/);
  assert.is(fake.calls.length, 1);
  assert.equal(delays, []);
});

test('addresses the stream by ARN when given one', async () => {
  const fake = new FakeKinesis();
  const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/hub';
  const { sink } = sinkWith(fake, { streamName: undefined, streamArn: arn } as Partial<KinesisSinkOptions>);
  await sink.putRecords([record('a')]);
  assert.is(fake.calls[0]!.input.StreamARN, arn);
  assert.is(fake.calls[0]!.input.StreamName, undefined);
  assert.throws(() => createKinesisSink({ client: fake } as unknown as KinesisSinkOptions), /streamName or a streamArn/);
});

test.run();
