import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatEpochMs, parseUpdatedAt } from '../runtime/core/timestamp.ts';

const iso = (text: string) => {
  const result = parseUpdatedAt(text);
  if (!result.ok) throw new Error(`${text}: ${result.reason}`);
  return result.iso;
};
const reason = (text: string) => {
  const result = parseUpdatedAt(text);
  return result.ok ? undefined : result.reason;
};

test('the original API form is read as UTC with microseconds', () => {
  assert.is(iso('2024-02-22 03:03:02'), '2024-02-22T03:03:02.000000Z');
  assert.is(iso('2024-02-22 03:03:02.5'), '2024-02-22T03:03:02.500000Z');
  assert.is(iso('2024-02-22 03:03:02.123456'), '2024-02-22T03:03:02.123456Z');
});

test('ISO-8601 with Z or an offset is normalised to UTC', () => {
  assert.is(iso('2024-02-22T03:03:02Z'), '2024-02-22T03:03:02.000000Z');
  assert.is(iso('2024-02-22T03:03:02.1+02:00'), '2024-02-22T01:03:02.100000Z');
  assert.is(iso('2024-02-22T23:30:00-0130'), '2024-02-23T01:00:00.000000Z');
  assert.is(iso('2024-03-01T00:30:00+01:00'), '2024-02-29T23:30:00.000000Z');
});

test('fractions beyond microseconds are truncated, not rounded', () => {
  assert.is(iso('2024-02-22T03:03:02.1234567Z'), '2024-02-22T03:03:02.123456Z');
  assert.is(iso('2024-02-22T03:03:02.999999999Z'), '2024-02-22T03:03:02.999999Z');
});

test('the year range is 1970–9999 in UTC', () => {
  assert.is(iso('1970-01-01 00:00:00'), '1970-01-01T00:00:00.000000Z');
  assert.is(iso('9999-12-31 23:59:59.999999'), '9999-12-31T23:59:59.999999Z');
  assert.is(iso('1969-12-31T23:30:00-01:00'), '1970-01-01T00:30:00.000000Z');
  assert.match(reason('1969-12-31 23:59:59')!, /year/);
  assert.match(reason('0075-01-01 00:00:00')!, /year/);
  assert.match(reason('9999-12-31T23:59:59-01:00')!, /year/);
});

test('impossible dates and times are refused', () => {
  for (const bad of [
    '2023-02-29 00:00:00',
    '2024-13-01 00:00:00',
    '2024-00-10 00:00:00',
    '2024-04-31 00:00:00',
    '2024-01-01 24:00:00',
    '2024-01-01 23:60:00',
    '2024-01-01 23:59:60',
    '2024-01-01T00:00:00+24:00',
  ]) {
    assert.ok(reason(bad), bad);
  }
  assert.is(iso('2024-02-29 12:00:00'), '2024-02-29T12:00:00.000000Z');
});

test('other shapes are refused with a reason that says what is expected', () => {
  assert.match(reason('2024-02-22T03:03:02')!, /zone/);
  for (const bad of ['', 'yesterday', '2024-02-22', '2024-02-22 03:03', '2024-2-22 03:03:02', '2024-02-22 03:03:02Z',
    '2024-02-22 03:03:02.', '2024-02-22 03:03:02.1234567890', ' 2024-02-22 03:03:02', '1708570982', '2024-02-22T03:03:02+2']) {
    assert.ok(reason(bad), JSON.stringify(bad));
  }
});

test('server times are formatted with microseconds', () => {
  assert.is(formatEpochMs(Date.UTC(2024, 1, 22, 3, 3, 2, 7)), '2024-02-22T03:03:02.007000Z');
  assert.is(formatEpochMs(Date.UTC(2024, 1, 22, 3, 3, 2, 7) + 0.25), '2024-02-22T03:03:02.007250Z');
});

test.run();
