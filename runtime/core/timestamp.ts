/**
 * `updated_at` parsing. Two forms are accepted:
 *   - `YYYY-MM-DD HH:MM:SS[.f…]`        read as UTC (the original API's form)
 *   - `YYYY-MM-DDTHH:MM:SS[.f…](Z|±HH:MM|±HHMM)`  ISO-8601 with an explicit zone
 * Fractions of up to 9 digits are accepted (C# writes 7, Go 9) and truncated to microseconds, Delta's precision.
 * The result is an ISO-8601 UTC string with exactly six fraction digits, the form every stored row uses.
 */

const SPACE_FORM = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;
const ISO_FORM = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

export const MIN_YEAR = 1970;
export const MAX_YEAR = 9999;

export type ParsedTimestamp = { ok: true; iso: string } | { ok: false; reason: string };

export function parseUpdatedAt(text: string): ParsedTimestamp {
  const iso = utcFastPath(text);
  if (iso !== undefined) return { ok: true, iso };
  // The tenth character tells the two forms apart, so only one expression runs.
  const match = text.charCodeAt(10) === 32 ? SPACE_FORM.exec(text) : ISO_FORM.exec(text);
  if (!match) {
    return {
      ok: false,
      reason: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(text)
        ? 'an ISO-8601 time needs a zone: end it with Z or an offset such as +02:00'
        : "expected 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) or ISO-8601 with Z or an offset",
    };
  }
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, offH, offM] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  // Checked before Date.UTC, which would read years 0–99 as 1900–1999; a year-1969 time can still be 1970 in UTC.
  if (year < MIN_YEAR - 1) return { ok: false, reason: `year must be between ${MIN_YEAR} and ${MAX_YEAR} (UTC)` };
  if (month < 1 || month > 12) return { ok: false, reason: 'month out of range' };
  if (day < 1 || day > daysInMonth(year, month)) return { ok: false, reason: 'day out of range for its month' };
  if (hour > 23 || minute > 59 || second > 59) return { ok: false, reason: 'time of day out of range' };

  let offsetMinutes = 0;
  if (sign !== undefined && zulu === undefined) {
    const oh = Number(offH);
    const om = Number(offM);
    if (oh > 23 || om > 59) return { ok: false, reason: 'zone offset out of range' };
    offsetMinutes = (sign === '-' ? -1 : 1) * (oh * 60 + om);
  }

  const micros = (fraction ?? '').padEnd(6, '0').slice(0, 6);
  // Already UTC and in range (the original API's form, and the hot path): the text is the answer.
  if (offsetMinutes === 0 && year >= MIN_YEAR) return { ok: true, iso: `${y}-${mo}-${d}T${h}:${mi}:${s}.${micros}Z` };

  // Date handles whole milliseconds exactly in this range; the sub-millisecond digits are carried beside it.
  const utcMs = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
  const date = new Date(utcMs);
  const utcYear = date.getUTCFullYear();
  if (utcYear < MIN_YEAR || utcYear > MAX_YEAR) {
    return { ok: false, reason: `year must be between ${MIN_YEAR} and ${MAX_YEAR} (UTC)` };
  }
  return { ok: true, iso: formatUtc(date, micros) };
}

const ZERO = 48;

/**
 * The common case without a regular expression: a valid UTC time (the space form, or ISO with Z) from 1970 on,
 * whose normal form is the text itself with 'T', six fraction digits and 'Z'. Anything else, valid or not, is left
 * to the general path (undefined), which also words the reason for a refusal.
 */
function utcFastPath(text: string): string | undefined {
  const n = text.length;
  const separator = text.charCodeAt(10);
  let end = n; // where the fraction's digits end
  if (separator === 0x54 || separator === 0x74) {
    const zone = text.charCodeAt(n - 1);
    if (zone !== 0x5a && zone !== 0x7a) return undefined;
    end = n - 1;
  } else if (separator !== 0x20) return undefined;
  if (end !== 19 && (end < 21 || end > 29 || text.charCodeAt(19) !== 0x2e)) return undefined;
  if (text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a) {
    return undefined;
  }
  if (Number.isNaN(civilSeconds(text, MIN_YEAR))) return undefined;
  if (end > 19 && digits(text, 20, end) < 0) return undefined;
  // Already the stored form (as every timestamp a consumer re-checks is): the text itself, no new string.
  if (n === 27 && separator === 0x54 && text.charCodeAt(26) === 0x5a) return text;
  const micros = end === 19 ? '000000' : end >= 26 ? text.slice(20, 26) : text.slice(20, end).padEnd(6, '0');
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${micros}Z`;
}

/**
 * Seconds since the epoch of the date and time at the start of `text` (`YYYY-MM-DD?HH:MM:SS`, read at fixed
 * positions), or NaN when a field is not all digits, is out of range, or the year is below `minYear`. Integer
 * arithmetic (days from the civil date), no Date: both the intake's parser and the consumers' epochMicros use it.
 */
function civilSeconds(text: string, minYear: number): number {
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  if (year < minYear || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if ((hour | minute | second) < 0 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  // Days from 1970-01-01 in the proleptic Gregorian calendar, counting years from March (the leap day last).
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  const days = era * 146_097 + dayOfEra - 719_468;
  return days * 86_400 + hour * 3600 + minute * 60 + second;
}

/** The decimal value of text[from, to), or -1 when a character there is not an ASCII digit. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** A server time (milliseconds since the epoch) as a stored-row timestamp. */
export function formatEpochMs(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const subMsMicros = Math.floor((epochMs - whole) * 1000);
  const date = new Date(whole);
  return formatUtc(date, String(date.getUTCMilliseconds() * 1000 + subMsMicros).padStart(6, '0'));
}

function formatUtc(date: Date, micros: string): string {
  // toISOString gives YYYY-MM-DDTHH:MM:SS.mmmZ for years 0–9999; the millisecond part is replaced by the micros.
  return `${date.toISOString().slice(0, 19)}.${micros}Z`;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ` (a stored row's canonical form) as epoch microseconds: Date.parse stops at
 * milliseconds, so the last three digits are added. The canonical form is read digit by digit (Date.parse spends
 * most of its time finding out which of its many formats the text is in); anything else goes through Date.parse.
 * Both give the same number for the same instant.
 */
export function epochMicros(iso: string): number {
  if (iso.length === 27 && iso.charCodeAt(10) === 0x54 && iso.charCodeAt(26) === 0x5a) {
    // Years 0–99 are left to Date.parse, as they always were here; a stored row never has them.
    const seconds = civilSeconds(iso, 100);
    const millis = digits(iso, 20, 23);
    const micros = digits(iso, 23, 26);
    if (!Number.isNaN(seconds) && (millis | micros) >= 0) return (seconds * 1000 + millis) * 1000 + micros;
  }
  return Date.parse(iso) * 1000 + Number(iso.slice(23, 26));
}
