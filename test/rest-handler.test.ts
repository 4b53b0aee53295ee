import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRestHandler, SUCCESS_BODY } from '../runtime/handlers/rest-handler.ts';
import { fakeVerifier, MemorySink } from './support/memory-sink.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/apigw/http-put-record.json', import.meta.url), 'utf8'));
const NOW = Date.UTC(2024, 1, 22, 3, 3, 3, 500);

function setup() {
  const sink = new MemorySink();
  const errors: unknown[] = [];
  const handler = createRestHandler({ verifier: fakeVerifier, sink, now: () => NOW, logError: (_m, e) => errors.push(e) });
  return { sink, handler, errors };
}

function event(overrides: { route?: string; authorization?: string | null; body?: string; base64?: boolean } = {}) {
  const copy = structuredClone(fixture) as APIGatewayProxyEventV2;
  if (overrides.route) {
    copy.routeKey = `POST /${overrides.route}`;
    copy.rawPath = `/${overrides.route}`;
  }
  if (overrides.authorization === null) delete copy.headers.authorization;
  else copy.headers.authorization = overrides.authorization ?? 'good-player-1';
  if (overrides.body !== undefined) copy.body = overrides.body;
  if (overrides.base64) {
    copy.body = Buffer.from(copy.body ?? '').toString('base64');
    copy.isBase64Encoded = true;
  }
  return copy;
}

const parse = (body: string | undefined) => JSON.parse(body ?? 'null');

test("the original API's request gets the original success body and stores the stamped row", async () => {
  const { sink, handler } = setup();
  const result = await handler(event());
  assert.is(result.statusCode, 200);
  assert.is(parse(result.body), SUCCESS_BODY);
  assert.equal(sink.rows(), [
    {
      event_id: '00006',
      event_type: 'Login',
      updated_at: '2024-02-22T03:03:02.000000Z',
      event_data: 'The only thing we have to fear is fear itself.',
      player_id: 'player-1',
      received_at: '2024-02-22T03:03:03.500000Z',
      source: 'rest',
    },
  ]);
  assert.is(sink.records[0]!.partitionKey, 'player-1');
});

test('Bearer tokens work as well as raw ones, and base64 bodies are decoded', async () => {
  const { sink, handler } = setup();
  assert.is((await handler(event({ authorization: 'Bearer good-p2', base64: true }))).statusCode, 200);
  assert.is(sink.rows()[0]!.player_id, 'p2');
});

test('missing and bad tokens get 401 "Unauthorized" and store nothing', async () => {
  const { sink, handler } = setup();
  for (const authorization of [null, '', 'Bearer ', 'garbage', 'Bearer bad-token']) {
    const result = await handler(event({ authorization }));
    assert.is(result.statusCode, 401, String(authorization));
    assert.is(parse(result.body), 'Unauthorized');
  }
  assert.is(sink.records.length, 0);
});

test('put-record: each kind of bad event gets 400 with its code and field, and nothing is stored', async () => {
  const { sink, handler } = setup();
  const cases: Array<[string, string, string | undefined, number]> = [
    ['{not json', 'malformed_json', undefined, 400],
    ['', 'invalid_request', undefined, 400],
    ['[]', 'wrong_type', undefined, 400],
    ['{"event_id":"1","event_type":"Login","updated_at":"2024-02-22 03:03:02","player_id":"x"}', 'unknown_field', 'player_id', 400],
    ['{"event_type":"Login","updated_at":"2024-02-22 03:03:02"}', 'missing_field', 'event_id', 400],
    ['{"event_id":7,"event_type":"Login","updated_at":"2024-02-22 03:03:02"}', 'wrong_type', 'event_id', 400],
    ['{"event_id":"1","event_type":"Login","updated_at":"22/02/2024"}', 'invalid_timestamp', 'updated_at', 400],
    [JSON.stringify({ event_id: '1', event_type: 'Login', updated_at: '2024-02-22 03:03:02', event_data: 'x'.repeat(40_000) }), 'too_large', 'event_data', 413],
  ];
  for (const [body, code, field, status] of cases) {
    const result = await handler(event({ body }));
    assert.is(result.statusCode, status, body.slice(0, 60));
    const parsed = parse(result.body);
    assert.is(parsed.error, code, body.slice(0, 60));
    assert.is(parsed.field, field);
    assert.type(parsed.message, 'string');
  }
  assert.is(sink.records.length, 0);
});

test('a body over 1 MiB gets 413 too_large', async () => {
  const { sink, handler } = setup();
  const result = await handler(event({ route: 'put-records', body: `{"events":[${'"x",'.repeat(300_000)}"x"]}` }));
  assert.is(result.statusCode, 413);
  assert.is(parse(result.body).error, 'too_large');
  assert.is(sink.records.length, 0);
});

test('put-records stores the valid events and reports the others by index', async () => {
  const { sink, handler } = setup();
  const good = { event_id: 'a', event_type: 'New Game', updated_at: '2024-02-22T03:03:02Z' };
  const body = JSON.stringify({ events: [good, { ...good, event_id: '' }, { ...good, event_id: 'b', event_data: { level: 3 } }, 5] });
  const result = await handler(event({ route: 'put-records', body }));
  assert.is(result.statusCode, 200);
  const parsed = parse(result.body);
  assert.is(parsed.accepted, 2);
  assert.equal(parsed.rejected.map((r: { index: number; error: string }) => [r.index, r.error]), [[1, 'invalid_value'], [3, 'wrong_type']]);
  assert.equal(sink.rows().map((r) => [r.event_id, r.event_data]), [['a', null], ['b', '{"level":3}']]);
  assert.is(sink.records.length, 1, 'one request is one packed record');
});

test('put-records refuses bad envelopes as a whole', async () => {
  const { sink, handler } = setup();
  const good = { event_id: 'a', event_type: 'Login', updated_at: '2024-02-22 03:03:02' };
  const cases: Array<[string, string]> = [
    ['[]', 'invalid_request'],
    ['{}', 'missing_field'],
    ['{"events":{}}', 'wrong_type'],
    ['{"events":[]}', 'invalid_value'],
    [JSON.stringify({ events: Array(501).fill(good) }), 'too_many_events'],
  ];
  for (const [body, code] of cases) {
    const result = await handler(event({ route: 'put-records', body }));
    assert.is(result.statusCode, 400, body.slice(0, 40));
    assert.is(parse(result.body).error, code);
  }
  assert.is((await handler(event({ route: 'put-records', body: JSON.stringify({ events: Array(500).fill(good) }) }))).statusCode, 200);
  assert.is(sink.rows().length, 500);
});

test('a stream failure answers 500 "Failed" so the client retries, and is logged', async () => {
  for (const mode of ['throw', 'fail'] as const) {
    const { sink, handler, errors } = setup();
    sink.mode = mode;
    const result = await handler(event());
    assert.is(result.statusCode, 500);
    assert.is(parse(result.body), 'Failed');
    assert.is(errors.length, 1);
  }
});

test('unknown routes are refused with not_found', async () => {
  const { handler } = setup();
  const result = await handler(event({ route: 'put-everything' }));
  assert.is(result.statusCode, 404);
  assert.is(parse(result.body).error, 'not_found');
});

test.run();
