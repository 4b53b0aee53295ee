/**
 * fast-check arbitraries for the event contract, and the integer model they are built from. The model (calendar
 * arithmetic, the reference timestamp parser, the reference validator) shares no code with runtime/: a property
 * compares the code under test with it, never with itself.
 */
import fc from 'fast-check';
import type { Source, StoredRow, ValidEvent } from '../../runtime/core/event.ts';

// ---------------------------------------------------------------------------------------------------------------
// Strings

/** One UTF-16 code unit, any of the 65 536 (lone surrogates included). */
export const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

const controlCharacter = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }),
  fc.integer({ min: 0x7f, max: 0x9f }),
).map((c) => String.fromCharCode(c));
export const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
/** Characters JSON.stringify escapes or that trip up line-based or byte-counting code. */
const awkwardCharacter = fc.constantFrom('"', '\\', '/', '\n', '\r', '\u2028', '\u2029', '\ufeff', '\u00a0', '\u200b', '\ufffd', '{', '}', ':', ',');
export const emoji = fc.constantFrom('🎮', '😀', '👨‍👩‍👧‍👦', '🏳️‍🌈', '\u{10ffff}', '\u{1f600}', 'é', 'e\u0301', '敵', 'Ω');

/** A unit for strings that are hard on the code: control characters, lone surrogates, emoji, escapes, anything. */
export const trickyUnit = fc.oneof(
  { arbitrary: fc.string({ minLength: 1, maxLength: 1 }), weight: 4 },
  { arbitrary: controlCharacter, weight: 2 },
  { arbitrary: loneSurrogate, weight: 2 },
  { arbitrary: awkwardCharacter, weight: 2 },
  { arbitrary: emoji, weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 2 },
  { arbitrary: codeUnit, weight: 1 },
);

export const trickyString = (constraints: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: trickyUnit, maxLength: 40, ...constraints });

/** A unit repeated to land just around a length or byte limit (cheaper than generating 32 KiB unit by unit). */
export function aroundLimit(limit: number, measure: (unit: string) => number, units = emoji): fc.Arbitrary<string> {
  return fc
    .tuple(fc.oneof(units, fc.constantFrom('a', '\u0000', '"', 'é', '敵', '\ud800')), fc.integer({ min: -2, max: 2 }))
    .map(([unit, delta]) => unit.repeat(Math.max(0, Math.floor(limit / measure(unit)) + delta)));
}

export const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Any string a client could put anywhere: plain, full Unicode, hostile, or long. */
export const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  trickyString(),
  aroundLimit(128, (u) => u.length),
  aroundLimit(64, (u) => u.length),
  aroundLimit(32 * 1024, utf8Length),
);

// ---------------------------------------------------------------------------------------------------------------
// Calendar model: integers only (Howard Hinnant's days_from_civil / civil_from_days), no Date.

export const SECONDS_PER_DAY = 86_400;
/** 9999-12-31T23:59:59Z, the last second of the contract's range. */
export const MAX_EPOCH_SECONDS = daysFromCivil(9999, 12, 31) * SECONDS_PER_DAY + SECONDS_PER_DAY - 1;

export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function daysInMonth(year: number, month: number): number {
  return daysFromCivil(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1) - daysFromCivil(year, month, 1);
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export interface LocalTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** Wall-clock fields of an epoch second (UTC, or shifted by an offset beforehand). */
export function fieldsOf(epochSeconds: number): LocalTime {
  const days = Math.floor(epochSeconds / SECONDS_PER_DAY);
  const rest = epochSeconds - days * SECONDS_PER_DAY;
  return {
    ...civilFromDays(days),
    hour: Math.floor(rest / 3600),
    minute: Math.floor((rest % 3600) / 60),
    second: rest % 60,
  };
}

/** The stored-row form: `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function canonical(epochSeconds: number, micros: number): string {
  const t = fieldsOf(epochSeconds);
  return `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}T${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}.${pad(micros, 6)}Z`;
}

/**
 * The reference reading of `updated_at` (ARCHITECTURE.md "Event", and the forms timestamp.ts documents): the space
 * form read as UTC, or ISO-8601 with T, Z or ±HH:MM / ±HHMM; fractions of 1–9 digits truncated to microseconds;
 * the instant must fall in UTC years 1970–9999. Returns the canonical text, or undefined when rejected.
 */
export function referenceTimestamp(text: string): string | undefined {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})([ Tt])([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(.*)$/s.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, separator, h, mi, s, fraction, zone] = m as unknown as string[];
  let offsetMinutes = 0;
  if (separator === ' ') {
    if (zone !== '') return undefined;
  } else if (zone !== 'Z' && zone !== 'z') {
    const z = /^([+-])([0-9]{2}):?([0-9]{2})$/.exec(zone!);
    if (!z) return undefined;
    const [oh, om] = [Number(z[2]), Number(z[3])];
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (z[1] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const utc = daysFromCivil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  if (utc < 0 || utc > MAX_EPOCH_SECONDS) return undefined;
  return canonical(utc, Number((fraction ?? '').padEnd(6, '0').slice(0, 6)));
}

// ---------------------------------------------------------------------------------------------------------------
// Timestamps

const MAX_OFFSET_MINUTES = 23 * 60 + 59;

/** An instant in the contract's range, biased towards both ends of it. */
export const epochSecondsArb = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: MAX_EPOCH_SECONDS }), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 2 * SECONDS_PER_DAY }), weight: 1 },
  { arbitrary: fc.integer({ min: MAX_EPOCH_SECONDS - 2 * SECONDS_PER_DAY, max: MAX_EPOCH_SECONDS }), weight: 1 },
  // Leap days and month ends.
  {
    arbitrary: fc
      .tuple(fc.integer({ min: 1970, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: -1, max: 1 }))
      .map(([year, month, delta]) => Math.min(MAX_EPOCH_SECONDS, Math.max(0, daysFromCivil(year, month, 1) * SECONDS_PER_DAY + delta))),
    weight: 1,
  },
);

export const offsetMinutesArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: -MAX_OFFSET_MINUTES, max: MAX_OFFSET_MINUTES }),
  fc.constantFrom(-MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES, 60, -60, 330, -570, 345),
);

export interface TimestampCase {
  /** What a client sends. */
  readonly text: string;
  /** What the stored row must hold, computed from the integers. */
  readonly canonical: string;
}

/**
 * A time in any accepted form (space form when UTC; ISO with T or t, Z or z, ±HH:MM or ±HHMM, -00:00 for UTC;
 * 0–9 fraction digits) for an instant in range, with the canonical text it must normalise to.
 */
export const timestampCaseArb: fc.Arbitrary<TimestampCase> = fc
  .record({
    seconds: epochSecondsArb,
    micros: fc.integer({ min: 0, max: 999_999 }),
    offset: offsetMinutesArb,
    digits: fc.integer({ min: 0, max: 9 }),
    extraDigits: fc.string({ unit: fc.constantFrom('0', '1', '5', '9'), minLength: 3, maxLength: 3 }),
    form: fc.constantFrom('space', 'T', 't'),
    zone: fc.constantFrom('Z', 'z', 'colon', 'compact', 'minus-zero'),
  })
  .filter(({ seconds, offset }) => fieldsOf(seconds + offset * 60).year <= 9999)
  .map(({ seconds, micros, offset, digits, extraDigits, form, zone }) => {
    const six = pad(micros, 6);
    const fraction = digits === 0 ? '' : `.${(six + extraDigits).slice(0, digits)}`;
    const keptMicros = digits === 0 ? 0 : Number(six.slice(0, Math.min(digits, 6)).padEnd(6, '0'));
    const t = fieldsOf(seconds + offset * 60);
    const date = `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}`;
    const time = `${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}${fraction}`;
    let text: string;
    if (form === 'space' && offset === 0) {
      text = `${date} ${time}`;
    } else {
      const abs = Math.abs(offset);
      const sign = offset < 0 ? '-' : '+';
      const hhmm = [pad(Math.floor(abs / 60), 2), pad(abs % 60, 2)];
      let zoneText: string;
      if (offset === 0 && (zone === 'Z' || zone === 'z')) zoneText = zone;
      else if (offset === 0 && zone === 'minus-zero') zoneText = '-00:00';
      else if (zone === 'compact') zoneText = `${sign}${hhmm.join('')}`;
      else zoneText = `${sign}${hhmm.join(':')}`;
      text = `${date}${form === 'space' ? 'T' : form}${time}${zoneText}`;
    }
    return { text, canonical: canonical(seconds, keptMicros) };
  });

/** Wall-clock fields that may be out of range (day 31 of February, hour 24, second 60), and any offset. */
export const roughTimestampArb = fc
  .record({
    year: fc.oneof(fc.integer({ min: 1968, max: 1971 }), fc.integer({ min: 9998, max: 9999 }), fc.integer({ min: 0, max: 9999 })),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    hour: fc.integer({ min: 0, max: 24 }),
    minute: fc.integer({ min: 0, max: 60 }),
    second: fc.integer({ min: 0, max: 60 }),
    offsetHours: fc.integer({ min: 0, max: 25 }),
    offsetMinutes: fc.integer({ min: 0, max: 60 }),
    sign: fc.constantFrom('+', '-', 'Z', ' '),
  })
  .map((f) => {
    const date = `${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}`;
    const time = `${pad(f.hour, 2)}:${pad(f.minute, 2)}:${pad(f.second, 2)}`;
    if (f.sign === ' ') return `${date} ${time}`;
    if (f.sign === 'Z') return `${date}T${time}Z`;
    return `${date}T${time}${f.sign}${pad(f.offsetHours, 2)}:${pad(f.offsetMinutes, 2)}`;
  });

// ---------------------------------------------------------------------------------------------------------------
// Events

const EVENT_FIELD_NAMES = ['event_id', 'event_type', 'updated_at', 'event_data'];
const CONTROL = /\p{Cc}/u;

/** The contract of ARCHITECTURE.md "Event", written out independently: the normalised event, or undefined. */
export function referenceValidate(input: unknown): ValidEvent | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  if (Object.keys(input).some((key) => !EVENT_FIELD_NAMES.includes(key))) return undefined;
  const { event_id: id, event_type: type, updated_at: at, event_data: data } = input as Record<string, unknown>;
  if (typeof id !== 'string' || id.length < 1 || id.length > 128 || !id.isWellFormed()) return undefined;
  if (typeof type !== 'string' || type.length < 1 || type.length > 64 || !type.isWellFormed() || CONTROL.test(type)) {
    return undefined;
  }
  if (typeof at !== 'string') return undefined;
  const updatedAt = referenceTimestamp(at);
  if (updatedAt === undefined) return undefined;
  const text = data === undefined || data === null ? null : typeof data === 'string' ? data : JSON.stringify(data);
  if (text === undefined) return undefined;
  if (text !== null && (!text.isWellFormed() || utf8Length(text) > 32 * 1024)) return undefined;
  return { event_id: id, event_type: type, updated_at: updatedAt, event_data: text };
}

const printableUnit = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => !CONTROL.test(c)),
  emoji,
  fc.constantFrom('"', '\\', '/', ' ', '=', '%', '\u2028', '\ufeff'),
);
const wellFormedUnit = fc.oneof(printableUnit, controlCharacter);

export const validEventIdArb = fc.oneof(
  fc.string({ unit: wellFormedUnit, minLength: 1, maxLength: 20 }),
  aroundLimit(128, (u) => u.length, emoji).filter((s) => s.length >= 1 && s.length <= 128 && s.isWellFormed()),
  fc.stringMatching(/^[0-9]{5}$/),
  fc.uuid(),
).filter((s) => s.length >= 1 && s.length <= 128);

export const validEventTypeArb = fc.oneof(
  fc.constantFrom('Login', 'New Game', 'Logout', 'level/complete', 'a=b%20c', ' ', '.', '..'),
  fc.string({ unit: printableUnit, minLength: 1, maxLength: 12 }),
  fc.integer({ min: 1, max: 64 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 1, max: 32 }).map((n) => '🎮'.repeat(n)),
).filter((s) => s.length >= 1 && s.length <= 64);

/** Any JSON value whose text fits in event_data. */
// A string is stored as it is, so it must be valid Unicode; inside structured data JSON.stringify escapes lone
// surrogates, so anything goes there.
const smallJson = fc
  .jsonValue({ maxDepth: 3, stringUnit: trickyUnit })
  .filter((value) => typeof value !== 'string' || value.isWellFormed());

/** `event_data` as a client may send it: absent, null, a string (up to the limit), or structured JSON. */
export const validEventDataArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.string({ unit: wellFormedUnit, maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  aroundLimit(32 * 1024, utf8Length).filter((s) => s.isWellFormed() && utf8Length(s) <= 32 * 1024),
  smallJson,
);

export interface EventCase {
  /** The event as a client sends it. */
  readonly input: Record<string, unknown>;
  /** What validation must turn it into. */
  readonly expected: ValidEvent;
}

/** A valid event from the model, in any accepted form, with the normalised event it must become. */
export const validEventArb: fc.Arbitrary<EventCase> = fc
  .record({ id: validEventIdArb, type: validEventTypeArb, at: timestampCaseArb, data: validEventDataArb })
  .map(({ id, type, at, data }) => {
    const input: Record<string, unknown> = { event_id: id, event_type: type, updated_at: at.text };
    if (data !== undefined) input.event_data = data;
    const text = data === undefined || data === null ? null : typeof data === 'string' ? data : JSON.stringify(data);
    return { input, expected: { event_id: id, event_type: type, updated_at: at.canonical, event_data: text } };
  })
  .filter(({ expected }) => expected.event_data === null || utf8Length(expected.event_data) <= 32 * 1024);

/** A value for one of the four fields: right, wrong or hostile. */
const fieldValue = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 2 },
  { arbitrary: anyString, weight: 3 },
  { arbitrary: timestampCaseArb.map((t) => t.text), weight: 1 },
  { arbitrary: roughTimestampArb, weight: 1 },
  { arbitrary: validEventIdArb, weight: 1 },
  { arbitrary: fc.constantFrom(undefined, null, '', 0, true, [], {}), weight: 1 },
);

/** An object made of the four field names (any subset) with any values, sometimes with an extra field. */
export const eventShapedArb: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record(
      { event_id: fieldValue, event_type: fieldValue, updated_at: fieldValue, event_data: fieldValue },
      { requiredKeys: [] },
    ),
    fc.option(fc.tuple(fc.oneof(anyString, fc.constantFrom('__proto__', 'constructor', 'Event_id', 'event_id ')), fc.jsonValue({ maxDepth: 1 })), {
      freq: 4,
    }),
  )
  .map(([fields, extra]) => {
    const object: Record<string, unknown> = { ...fields };
    // defineProperty, so '__proto__' becomes an own field as JSON.parse would make it.
    if (extra) Object.defineProperty(object, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
    return object;
  });

/** A valid event broken in one field, or left valid. */
export const nearlyValidEventArb: fc.Arbitrary<unknown> = fc
  .tuple(validEventArb, fc.constantFrom('event_id', 'event_type', 'updated_at', 'event_data', 'extra', 'none'), fieldValue)
  .map(([{ input }, field, value]) => {
    if (field === 'none') return input;
    const broken: Record<string, unknown> = { ...input };
    if (field === 'extra') broken.player_id = value;
    else if (value === undefined) delete broken[field];
    else broken[field] = value;
    return broken;
  });

/** A valid event whose event_data is right around 32 KiB: as a string, or as structured data whose JSON text is. */
export const nearLimitDataEventArb: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    validEventArb,
    fc.oneof(
      aroundLimit(32 * 1024, utf8Length),
      // {"k":"…"} adds 8 bytes of JSON around the text; `"` and control characters are escaped, so they count 2–6.
      aroundLimit(32 * 1024 - 8, utf8Length).map((text) => ({ k: text })),
      aroundLimit(32 * 1024, (unit) => utf8Length(JSON.stringify(unit)) - 2).map((text) => [text]),
    ),
  )
  .map(([{ input }, data]) => ({ ...input, event_data: data }));

/** Anything a client could send as one event. */
export const anyEventInputArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  anyString,
  eventShapedArb,
  nearlyValidEventArb,
  validEventArb.map((c) => c.input),
  nearLimitDataEventArb,
);

// ---------------------------------------------------------------------------------------------------------------
// Stored rows

/** A player id as a verified token's `sub` could hold it (well-formed Unicode, non-empty). */
export const playerIdArb = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  fc.string({ unit: wellFormedUnit, minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
);

/** A server time as stored rows hold it. */
export const receivedAtArb = fc
  .tuple(epochSecondsArb, fc.integer({ min: 0, max: 999_999 }))
  .map(([seconds, micros]) => canonical(seconds, micros));

/** event_data for packing tests: JSON-escape-heavy text, sometimes a few KiB of it. */
const rowDataArb = fc.oneof(
  fc.constant(null),
  fc.string({ unit: wellFormedUnit, maxLength: 80 }),
  fc
    .tuple(fc.string({ unit: wellFormedUnit, minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 600 }))
    .map(([unit, n]) => unit.repeat(n))
    .filter((s) => utf8Length(s) <= 32 * 1024),
);

/** Runs of rows (one player per run, players recurring), as enriched valid events. */
export function storedRowsArb(players: fc.Arbitrary<string> = playerIdArb): fc.Arbitrary<StoredRow[]> {
  return fc
    .tuple(
      fc.uniqueArray(players, { minLength: 1, maxLength: 4 }),
      fc.array(
        fc.record({
          player: fc.nat(),
          rows: fc.array(
            fc.record({
              event: validEventArb,
              data: fc.option(rowDataArb, { freq: 2, nil: undefined }),
              receivedAt: receivedAtArb,
              source: fc.constantFrom<Source>('rest', 'ws'),
            }),
            { minLength: 1, maxLength: 8 },
          ),
        }),
        { maxLength: 6 },
      ),
    )
    .map(([ids, runs]) =>
      runs.flatMap((run) =>
        run.rows.map(({ event, data, receivedAt, source }) => ({
          ...event.expected,
          ...(data === undefined ? {} : { event_data: data }),
          player_id: ids[run.player % ids.length]!,
          received_at: receivedAt,
          source,
        })),
      ),
    );
}
