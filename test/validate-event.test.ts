import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateEvent } from '../runtime/core/validate-event.ts';

const ORIGINAL_EXAMPLE = {
  event_id: '00006',
  event_type: 'Login',
  updated_at: '2024-02-22 03:03:02',
  event_data: 'The only thing we have to fear is fear itself.',
};

const rejection = (input: unknown) => {
  const result = validateEvent(input);
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(input)}`);
  return result.error;
};
const accepted = (input: unknown) => {
  const result = validateEvent(input);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.event;
};

test("the original API's example is accepted unchanged", () => {
  assert.equal(accepted(ORIGINAL_EXAMPLE), { ...ORIGINAL_EXAMPLE, updated_at: '2024-02-22T03:03:02.000000Z' });
});

test('event_data: absent or null is null, a string stays, other JSON values become their JSON text', () => {
  const { event_data: _, ...withoutData } = ORIGINAL_EXAMPLE;
  assert.is(accepted(withoutData).event_data, null);
  assert.is(accepted({ ...ORIGINAL_EXAMPLE, event_data: null }).event_data, null);
  assert.is(accepted({ ...ORIGINAL_EXAMPLE, event_data: '' }).event_data, '');
  assert.is(accepted({ ...ORIGINAL_EXAMPLE, event_data: { score: 10, items: ['a'] } }).event_data, '{"score":10,"items":["a"]}');
  assert.is(accepted({ ...ORIGINAL_EXAMPLE, event_data: 42 }).event_data, '42');
  assert.is(accepted({ ...ORIGINAL_EXAMPLE, event_data: false }).event_data, 'false');
  assert.is(accepted({ ...ORIGINAL_EXAMPLE, event_data: [1, 2] }).event_data, '[1,2]');
});

test('event_data is limited to 32 KiB as UTF-8, not as characters', () => {
  assert.ok(accepted({ ...ORIGINAL_EXAMPLE, event_data: 'x'.repeat(32 * 1024) }));
  assert.equal(rejection({ ...ORIGINAL_EXAMPLE, event_data: 'x'.repeat(32 * 1024 + 1) }).code, 'too_large');
  // 'é' is two bytes: 16 Ki of them fit, one more does not.
  assert.ok(accepted({ ...ORIGINAL_EXAMPLE, event_data: 'é'.repeat(16 * 1024) }));
  const error = rejection({ ...ORIGINAL_EXAMPLE, event_data: 'é'.repeat(16 * 1024 + 1) });
  assert.is(error.code, 'too_large');
  assert.is(error.field, 'event_data');
  assert.is(rejection({ ...ORIGINAL_EXAMPLE, event_data: { blob: 'x'.repeat(32 * 1024) } }).code, 'too_large');
});

test('unknown fields are refused with a pointer to event_data', () => {
  const error = rejection({ ...ORIGINAL_EXAMPLE, score: 10 });
  assert.is(error.code, 'unknown_field');
  assert.is(error.field, 'score');
  assert.match(error.message, /event_data/);
  assert.is(rejection({ ...ORIGINAL_EXAMPLE, player_id: 'someone-else' }).code, 'unknown_field');
  assert.is(rejection(JSON.parse('{"__proto__": {"x": 1}, "event_id": "1"}')).code, 'unknown_field');
});

test('missing fields name the field', () => {
  for (const field of ['event_id', 'event_type', 'updated_at'] as const) {
    const { [field]: _, ...rest } = ORIGINAL_EXAMPLE;
    const error = rejection(rest);
    assert.is(error.code, 'missing_field', field);
    assert.is(error.field, field);
    assert.is(rejection({ ...ORIGINAL_EXAMPLE, [field]: null }).code, 'missing_field');
  }
});

test('wrong types name the field', () => {
  for (const field of ['event_id', 'event_type', 'updated_at'] as const) {
    for (const value of [1, true, {}, [], 1.5]) {
      const error = rejection({ ...ORIGINAL_EXAMPLE, [field]: value });
      assert.is(error.code, 'wrong_type', `${field}=${JSON.stringify(value)}`);
      assert.is(error.field, field);
    }
  }
  for (const notAnObject of [null, 1, 'event', [], [ORIGINAL_EXAMPLE], true]) {
    assert.is(rejection(notAnObject).code, 'wrong_type');
  }
});

test('event_id and event_type lengths and characters', () => {
  assert.ok(accepted({ ...ORIGINAL_EXAMPLE, event_id: 'x'.repeat(128) }));
  assert.is(rejection({ ...ORIGINAL_EXAMPLE, event_id: 'x'.repeat(129) }).code, 'invalid_value');
  assert.is(rejection({ ...ORIGINAL_EXAMPLE, event_id: '' }).field, 'event_id');
  assert.ok(accepted({ ...ORIGINAL_EXAMPLE, event_type: 't'.repeat(64) }));
  assert.is(rejection({ ...ORIGINAL_EXAMPLE, event_type: 't'.repeat(65) }).code, 'invalid_value');
  assert.is(rejection({ ...ORIGINAL_EXAMPLE, event_type: '' }).code, 'invalid_value');
  for (const bad of ['a\nb', 'tab\there', 'nul\u0000', 'del\u007f', 'c1\u0085', 'lone\ud800']) {
    const error = rejection({ ...ORIGINAL_EXAMPLE, event_type: bad });
    assert.is(error.code, 'invalid_value', JSON.stringify(bad));
    assert.is(error.field, 'event_type');
  }
  for (const fine of ['New Game', 'a/b', 'x=y', '%', '#', '?', 'Élan vital', '敵を倒した', '🎮 Play', 'Killed Enemy']) {
    assert.is(accepted({ ...ORIGINAL_EXAMPLE, event_type: fine }).event_type, fine);
  }
});

test('bad timestamps get invalid_timestamp on updated_at', () => {
  for (const bad of ['2024-02-30 00:00:00', 'now', '2024-02-22T03:03:02', '1900-01-01 00:00:00']) {
    const error = rejection({ ...ORIGINAL_EXAMPLE, updated_at: bad });
    assert.is(error.code, 'invalid_timestamp', bad);
    assert.is(error.field, 'updated_at');
  }
});

test('validation never throws, whatever the input', () => {
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  const odd = [undefined, Symbol.iterator, () => 1, new Date(), Object.create(null), { event_id: 1n }];
  for (const input of odd) assert.not.throws(() => validateEvent(input));
  for (const data of [1n, cycle, () => 1, Symbol.iterator]) {
    assert.is(rejection({ ...ORIGINAL_EXAMPLE, event_data: data }).code, 'wrong_type');
  }
});

test.run();
