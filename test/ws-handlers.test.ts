import { readFileSync } from 'node:fs';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWsAuthorizer } from '../runtime/handlers/ws-authorizer.ts';
import type { WsEvent } from '../runtime/handlers/ws-message-handler.ts';
import { createWsMessageHandler } from '../runtime/handlers/ws-message-handler.ts';
import { fakeVerifier, MemorySink } from './support/memory-sink.ts';

const load = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/apigw/${name}`, import.meta.url), 'utf8'));
const authorizerFixture = load('ws-authorizer.json') as APIGatewayRequestAuthorizerEvent;
const messageFixture = load('ws-message.json') as WsEvent;

function authorizerEvent(token: string | undefined): APIGatewayRequestAuthorizerEvent {
  const copy = structuredClone(authorizerFixture);
  copy.queryStringParameters = token === undefined ? {} : { auth_token: token };
  return copy;
}

function message(routeKey: string, body: unknown, playerId: string | null = 'player-7'): WsEvent {
  const copy = structuredClone(messageFixture);
  copy.requestContext.routeKey = routeKey;
  if (playerId === null) delete copy.requestContext.authorizer;
  else copy.requestContext.authorizer = { playerId, scope: 'guest' };
  copy.body = typeof body === 'string' ? body : JSON.stringify(body);
  return copy;
}

function setup() {
  const sink = new MemorySink();
  const handler = createWsMessageHandler({ verifier: fakeVerifier, sink, now: () => Date.UTC(2024, 1, 22), logError: () => {} });
  return { sink, handler };
}
const frame = (result: { body?: string }) => JSON.parse(result.body ?? 'null');
const good = { event_id: 'e1', event_type: 'Login', updated_at: '2024-02-22 03:03:02', event_data: 'hi' };

test('the authorizer allows a good token on $connect and hands the player id on as context', async () => {
  const result = await createWsAuthorizer({ verifier: fakeVerifier })(authorizerEvent('good-player-7'));
  assert.is(result.principalId, 'player-7');
  assert.equal(result.policyDocument.Statement, [
    { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: authorizerFixture.methodArn },
  ]);
  assert.equal(result.context, { playerId: 'player-7', scope: 'guest' });
});

test('the authorizer throws "Unauthorized" (API Gateway: 401) for a missing or bad token', async () => {
  const authorize = createWsAuthorizer({ verifier: fakeVerifier });
  for (const token of [undefined, '', 'garbage']) {
    try {
      await authorize(authorizerEvent(token));
      assert.unreachable(`allowed ${token}`);
    } catch (error) {
      assert.is((error as Error).message, 'Unauthorized');
    }
  }
});

test('put-records: ack with id, accepted and rejected; rows stamped with the connection player and source ws', async () => {
  const { sink, handler } = setup();
  const result = await handler(message('put-records', { action: 'put-records', id: 'b1', events: [good, { ...good, extra: 1 }] }));
  assert.equal(frame(result), {
    type: 'ack',
    id: 'b1',
    accepted: 1,
    rejected: [{ index: 1, error: 'unknown_field', message: frame(result).rejected[0].message, field: 'extra' }],
  });
  assert.equal(sink.rows().map((r) => [r.player_id, r.source, r.received_at]), [['player-7', 'ws', '2024-02-22T00:00:00.000000Z']]);
});

test('ping gets pong; $connect and $disconnect succeed silently', async () => {
  const { handler } = setup();
  assert.equal(frame(await handler(message('ping', { action: 'ping' }))), { type: 'pong' });
  assert.equal(await handler(message('$connect', '')), { statusCode: 200 });
  assert.equal(await handler(message('$disconnect', '')), { statusCode: 200 });
});

test('bad messages get an error frame with a stable code (and the batch id when known), nothing stored', async () => {
  const { sink, handler } = setup();
  const cases: Array<[string, unknown, string, string | undefined]> = [
    ['$default', '{oops', 'malformed_json', undefined],
    ['$default', { id: 'x1' }, 'missing_field', 'x1'],
    ['$default', { action: 'delete-everything', id: 'x2' }, 'unknown_action', 'x2'],
    ['$default', [1, 2], 'missing_field', undefined],
    ['put-records', { action: 'put-records', events: [good] }, 'missing_field', undefined],
    ['put-records', { action: 'put-records', id: 7, events: [good] }, 'invalid_value', undefined],
    ['put-records', { action: 'put-records', id: 'x3' }, 'missing_field', 'x3'],
    ['put-records', { action: 'put-records', id: 'x4', events: 'all of them' }, 'wrong_type', 'x4'],
    ['put-records', { action: 'put-records', id: 'x5', events: [] }, 'invalid_value', 'x5'],
    ['put-records', { action: 'put-records', id: 'x6', events: Array(501).fill(good) }, 'too_many_events', 'x6'],
  ];
  for (const [route, body, code, id] of cases) {
    const reply = frame(await handler(message(route, body)));
    assert.is(reply.type, 'error', JSON.stringify(body).slice(0, 50));
    assert.is(reply.error, code, JSON.stringify(body).slice(0, 50));
    assert.is(reply.id, id);
    assert.type(reply.message, 'string');
  }
  assert.is(sink.records.length, 0);
});

test('a connection without an authorized player stores nothing', async () => {
  const { sink, handler } = setup();
  const reply = frame(await handler(message('put-records', { action: 'put-records', id: 'b', events: [good] }, null)));
  assert.is(reply.error, 'unauthorized');
  assert.is(sink.records.length, 0);
});

test('a stream failure is an error frame stream_unavailable: no ack, so the client re-sends', async () => {
  const { sink, handler } = setup();
  sink.mode = 'throw';
  const reply = frame(await handler(message('put-records', { action: 'put-records', id: 'b9', events: [good] })));
  assert.equal([reply.type, reply.id, reply.error], ['error', 'b9', 'stream_unavailable']);
});

test.run();
