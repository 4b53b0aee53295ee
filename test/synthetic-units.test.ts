// Unit tests of the synthetic client's pure parts: no network.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BatchBuilder, restPutRecordBody, restPutRecordsBody, wsPutRecordsFrame } from '../clients/synthetic/batches.ts';
import { EVENT_TYPES, EventGenerator, MOVIE_QUOTES, type SyntheticEvent, utcTimestampNow } from '../clients/synthetic/events.ts';
import { DEFAULT_OPTIONS, backendUrlFor, parseCliArgs } from '../clients/synthetic/options.ts';
import { Quota } from '../clients/synthetic/quota.ts';
import { retryAfterMs } from '../clients/synthetic/rest-player.ts';
import { LatencySample, percentile } from '../clients/synthetic/stats.ts';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;

test('events: the original shape, types from the list, ASCII JSON, unique ids', () => {
  const generator = new EventGenerator('run1', 3);
  const ids = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const json = generator.next();
    assert.is(Buffer.byteLength(json), json.length, 'ASCII: length is the byte size');
    const event = JSON.parse(json) as SyntheticEvent;
    assert.equal(Object.keys(event), ['event_id', 'event_type', 'updated_at', 'event_data']);
    assert.ok((EVENT_TYPES as readonly string[]).includes(event.event_type), event.event_type);
    assert.ok(MOVIE_QUOTES.includes(event.event_data));
    assert.match(event.updated_at, TIMESTAMP);
    assert.is(event.event_id, `run1-3-${i}`);
    ids.add(event.event_id);
  }
  assert.is(ids.size, 2000);
  assert.is(generator.count, 2000);
});

test('events: updated_at is UTC now with microseconds', () => {
  const before = Date.now();
  const stamp = utcTimestampNow();
  const after = Date.now();
  assert.match(stamp, TIMESTAMP);
  const parsed = Date.parse(`${stamp.replace(' ', 'T').slice(0, 23)}Z`);
  assert.ok(parsed >= before - 1 && parsed <= after + 1, `${stamp} not within [${before}, ${after}]`);
  assert.ok(MOVIE_QUOTES.length >= 20);
  for (const quote of MOVIE_QUOTES) assert.is(Buffer.byteLength(quote), quote.length, quote);
});

test('batches: at most maxEvents per batch, split by bytes, ids unique, frames are valid JSON', () => {
  const builder = new BatchBuilder({
    generator: new EventGenerator('r', 0),
    idPrefix: 'r-0',
    maxEvents: 50,
    maxBytes: 2000,
    format: wsPutRecordsFrame,
  });
  const batches = builder.build(120);
  assert.ok(batches.length > 3, 'the byte limit splits before the event limit');
  assert.is(batches.reduce((n, b) => n + b.events.length, 0), 120);
  assert.is(new Set(batches.map((b) => b.id)).size, batches.length);
  for (const batch of batches) {
    assert.ok(batch.payload.length <= 2000, `${batch.payload.length} bytes`);
    const frame = JSON.parse(batch.payload) as { action: string; id: string; events: unknown[] };
    assert.is(frame.action, 'put-records');
    assert.is(frame.id, batch.id);
    assert.equal(frame.events, batch.events.map((e) => JSON.parse(e)));
  }
  const byCount = new BatchBuilder({ generator: new EventGenerator('r', 1), idPrefix: 'r-1', maxEvents: 7, maxBytes: 1 << 20, format: wsPutRecordsFrame });
  assert.equal(byCount.build(20).map((b) => b.events.length), [7, 7, 6]);
});

test('batches: REST bodies', () => {
  const events = ['{"a":1}', '{"b":2}'];
  assert.is(restPutRecordsBody('x', events), '{"events":[{"a":1},{"b":2}]}');
  assert.is(restPutRecordBody('x', events.slice(0, 1)), '{"a":1}');
});

test('options: defaults, per-transport endpoint, every problem reported at once', () => {
  const parsed = parseCliArgs([]);
  assert.is(parsed.kind, 'run');
  if (parsed.kind !== 'run') return;
  assert.is(parsed.options.transport, 'ws');
  assert.is(parsed.options.backendEndpoint, 'ws://127.0.0.1:8787/');
  assert.is(parsed.options.maxCount, DEFAULT_OPTIONS.maxCount);
  assert.is(parsed.options.progress, false, 'no progress bar when stderr is not a terminal');

  const rest = parseCliArgs(['--transport', 'rest', '--batch', '1', '--no-progress', '--json'], true);
  assert.ok(rest.kind === 'run' && rest.options.backendEndpoint === 'http://127.0.0.1:8787/' && !rest.options.progress && rest.options.json);

  const bad = parseCliArgs(['--batch', '501', '--players', '0', '--transport', 'udp', '--login-endpoint', 'nope']);
  assert.is(bad.kind, 'invalid');
  if (bad.kind === 'invalid') assert.is(bad.problems.length, 4, bad.problems.join('\n'));
  assert.is(parseCliArgs(['--bogus']).kind, 'invalid');
  assert.is(parseCliArgs(['-h']).kind, 'help');
});

test('options: one backend URL serves both transports', () => {
  assert.is(backendUrlFor('ws', 'http://127.0.0.1:8787').href, 'ws://127.0.0.1:8787/');
  assert.is(backendUrlFor('rest', 'wss://example.com/prod').href, 'https://example.com/prod/');
  assert.is(backendUrlFor('ws', 'wss://example.com/prod/').href, 'wss://example.com/prod/');
});

test('stats: nearest-rank percentiles, bounded reservoir', () => {
  assert.is(percentile([], 50), 0);
  assert.is(percentile([1, 2, 3, 4], 50), 2);
  assert.is(percentile([1, 2, 3, 4], 99), 4);
  const sample = new LatencySample(100);
  for (let i = 1; i <= 10_000; i++) sample.add(i);
  assert.is(sample.count, 10_000);
  const [p50 = 0] = sample.percentiles(50);
  assert.ok(p50 > 2000 && p50 < 8000, `p50 ${p50} of a uniform sample of 1..10000`);
});

test('rest: Retry-After as seconds or HTTP date', () => {
  assert.is(retryAfterMs('2'), 2000);
  assert.is(retryAfterMs(null), undefined);
  assert.is(retryAfterMs('soon'), undefined);
  const now = Date.parse('2024-02-22T03:03:02Z');
  assert.is(retryAfterMs('Thu, 22 Feb 2024 03:03:05 GMT', now), 3000);
});

test('quota: shares max-count, paces to the rate, stops on demand', async () => {
  const unlimited = new Quota(250, 0);
  assert.equal([await unlimited.take(100), await unlimited.take(100), await unlimited.take(100), await unlimited.take(100)], [100, 100, 50, 0]);

  const paced = new Quota(300, 1000);
  const started = performance.now();
  let total = 0;
  for (let n = await paced.take(500); n > 0; n = await paced.take(500)) {
    assert.ok(n <= 200, `chunks of about 100 ms worth, got ${n}`);
    total += n;
  }
  const elapsed = performance.now() - started;
  assert.is(total, 300);
  assert.ok(elapsed >= 150 && elapsed < 1500, `300 events at 1000/s took ${elapsed} ms`);

  const forever = new Quota(0, 1);
  await forever.take(10); // the initial chunk
  const waiting = forever.take(10);
  forever.stop();
  assert.is(await waiting, 0);
});

test.run();
