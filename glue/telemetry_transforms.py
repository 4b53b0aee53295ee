"""Pure transforms of the Glue Delta job: the Python twin of runtime/core (ARCHITECTURE.md).

Standard library only and no Spark import, so `python3 -m unittest` runs it anywhere. The shared vectors in
test/vectors/ are run through this module and through the TypeScript code; together they keep the two paths equal.

What "equal" means here, and why it takes more than `json.loads`:
  - JavaScript strings are UTF-16: a length limit counts code units (an emoji counts 2), `isWellFormed()` refuses
    lone surrogates. Python's json module keeps `"\\ud800"` as a str with a lone surrogate, and joins escaped pairs
    into one code point, as JavaScript does.
  - JSON.parse reads every number as a double and refuses NaN/Infinity; JSON.stringify writes numbers the
    ECMAScript way (1e+21, 1e-7, -0 as 0), orders integer-like keys first and escapes lone surrogates.
  - TextDecoder (non-fatal) strips a leading BOM and replaces invalid UTF-8 per maximal subpart, as Python's
    'utf-8-sig' codec with errors='replace' does.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Dict, Hashable, Iterable, Iterator, List, Mapping, Optional, Tuple

# --- the contract ----------------------------------------------------------------------------------------------

EVENT_FIELDS = ("event_id", "event_type", "updated_at", "event_data")
STORED_ROW_COLUMNS = ("event_id", "event_type", "updated_at", "event_data", "player_id", "received_at", "source")
PARTITION_COLUMNS = ("event_type",)
DEDUP_KEY_COLUMNS = ("player_id", "event_id", "event_type", "updated_at")
SOURCES = ("rest", "ws")

#: The Delta table's schema in column order, as plain data: the Spark script builds its StructType from it.
#: Timestamps are UTC instants with microseconds (Spark TimestampType).
STORED_ROW_SCHEMA: Tuple[Dict[str, Any], ...] = (
    {"name": "event_id", "type": "string", "nullable": False},
    {"name": "event_type", "type": "string", "nullable": False},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
    {"name": "event_data", "type": "string", "nullable": True},
    {"name": "player_id", "type": "string", "nullable": False},
    {"name": "received_at", "type": "timestamp", "nullable": False},
    {"name": "source", "type": "string", "nullable": False},
)

LIMITS = {
    "event_id_max_chars": 128,  # UTF-16 code units, as JavaScript's string length
    "event_type_max_chars": 64,  # UTF-16 code units
    "event_data_max_bytes": 32 * 1024,  # UTF-8 bytes, after a non-string value is turned into its JSON text
}

ERROR_CODES = (
    "malformed_json",
    "invalid_request",
    "missing_field",
    "wrong_type",
    "unknown_field",
    "invalid_value",
    "invalid_timestamp",
    "too_large",
    "too_many_events",
    "unknown_action",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "rate_limited",
    "stream_unavailable",
)

DEFAULT_DEDUP_WINDOW_US = 24 * 60 * 60 * 1_000_000

# --- JavaScript string semantics ----------------------------------------------------------------------------------


def _normalize_utf16(text: str) -> str:
    """Joins surrogate pairs held as two code points into one, as a JavaScript string would read them."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def utf16_length(text: str) -> int:
    """JavaScript's `string.length`: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def is_well_formed(text: str) -> bool:
    """JavaScript's `String.prototype.isWellFormed`: no lone surrogates."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        pass
    try:
        text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        return True
    except UnicodeDecodeError:
        return False


def utf8_length(text: str) -> int:
    """Bytes as UTF-8 of a well-formed string."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return len(_normalize_utf16(text).encode("utf-8"))


def _truncate(text: str, units: int = 40) -> str:
    if utf16_length(text) <= units:
        return text
    head = text.encode("utf-16-le", "surrogatepass")[: units * 2].decode("utf-16-le", "surrogatepass")
    return head + "\u2026"


# --- JSON.parse and JSON.stringify ---------------------------------------------------------------------------------


class MalformedJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise MalformedJson(f"Unexpected token '{name}' is not valid JSON")


# Every number a double, as JSON.parse reads it (and no int() of a 5000-digit literal); NaN/Infinity refused.
_JSON_DECODER = json.JSONDecoder(parse_int=float, parse_constant=_refuse_constant)


def parse_json(text: str) -> Any:
    """JSON.parse: raises MalformedJson for anything JSON.parse refuses."""
    try:
        return _JSON_DECODER.decode(text)
    except MalformedJson:
        raise
    except RecursionError as error:  # JSON.parse nests deeper than Python's recursion limit
        raise MalformedJson("JSON nested too deeply") from error
    except ValueError as error:
        raise MalformedJson(str(error)) from error


_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) < 2**32 - 1


def js_key_order(keys: Iterable[str]) -> List[str]:
    """Own-property order of a JavaScript object: array indices ascending, then the other keys as inserted."""
    keys = list(keys)
    indices = sorted((key for key in keys if _is_array_index(key)), key=int)
    return indices + [key for key in keys if not _is_array_index(key)]


def js_number(value: float) -> str:
    """ECMAScript Number::toString, as JSON.stringify writes a finite number."""
    if value != value or value in (math.inf, -math.inf):
        return "null"
    if value == 0:
        return "0"  # -0 too
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, the digits ECMAScript asks for.
    digits_tuple = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digits_tuple.digits)).rstrip("0")
    exponent = digits_tuple.exponent + (len(digits_tuple.digits) - len(digits))
    k = len(digits)
    n = exponent + k
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _js_quote(text: str) -> str:
    if not text.isascii():
        text = _normalize_utf16(text)
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def js_json_stringify(value: Any) -> str:
    """JSON.stringify of a value JSON.parse (or parse_json) produced."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _js_quote(value)
    if isinstance(value, int):
        try:
            return js_number(float(value))
        except OverflowError:
            return "null"
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, list):
        return "[" + ",".join(js_json_stringify(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_js_quote(key) + ":" + js_json_stringify(value[key]) for key in js_key_order(value)) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


# --- updated_at and received_at ------------------------------------------------------------------------------------

MIN_YEAR = 1970
MAX_YEAR = 9999

_SPACE_FORM = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?")
_ISO_FORM = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))"
)
_ZONELESS_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_YEAR_REASON = f"year must be between {MIN_YEAR} and {MAX_YEAR} (UTC)"
_EPOCH = datetime(1970, 1, 1)


def _days_in_month(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1]


def parse_updated_at(text: str) -> Dict[str, Any]:
    """runtime/core/timestamp.ts parseUpdatedAt: {"ok": True, "iso"} or {"ok": False, "reason"}.

    `YYYY-MM-DD HH:MM:SS[.f…]` is read as UTC; ISO-8601 needs Z or an offset. Up to 9 fraction digits, truncated to
    microseconds. The result is `YYYY-MM-DDTHH:MM:SS.ffffffZ`, year 1970–9999 in UTC.
    """
    # The eleventh character tells the two forms apart (in code units; a non-ASCII prefix fails both forms anyway).
    match = _SPACE_FORM.fullmatch(text) if text[10:11] == " " else _ISO_FORM.fullmatch(text)
    if match is None:
        if _ZONELESS_ISO.fullmatch(text):
            return {"ok": False, "reason": "an ISO-8601 time needs a zone: end it with Z or an offset such as +02:00"}
        return {
            "ok": False,
            "reason": "expected 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) or ISO-8601 with Z or an offset",
        }
    groups = match.groups()
    y, mo, d, h, mi, s, fraction = groups[:7]
    zulu, sign, off_h, off_m = (groups[7:] + (None, None, None, None))[:4]
    year, month, day, hour, minute, second = int(y), int(mo), int(d), int(h), int(mi), int(s)
    if year < MIN_YEAR - 1:  # a year-1969 time can still be 1970 in UTC
        return {"ok": False, "reason": _YEAR_REASON}
    if month < 1 or month > 12:
        return {"ok": False, "reason": "month out of range"}
    if day < 1 or day > _days_in_month(year, month):
        return {"ok": False, "reason": "day out of range for its month"}
    if hour > 23 or minute > 59 or second > 59:
        return {"ok": False, "reason": "time of day out of range"}
    offset_minutes = 0
    if sign is not None and zulu is None:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return {"ok": False, "reason": "zone offset out of range"}
        offset_minutes = (-1 if sign == "-" else 1) * (oh * 60 + om)
    micros = (fraction or "").ljust(6, "0")[:6]
    if offset_minutes == 0 and year >= MIN_YEAR:
        return {"ok": True, "iso": f"{y}-{mo}-{d}T{h}:{mi}:{s}.{micros}Z"}
    try:
        utc = datetime(year, month, day, hour, minute, second) - timedelta(minutes=offset_minutes)
    except OverflowError:
        return {"ok": False, "reason": _YEAR_REASON}
    if utc.year < MIN_YEAR or utc.year > MAX_YEAR:
        return {"ok": False, "reason": _YEAR_REASON}
    return {"ok": True, "iso": f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{micros}Z"}


def timestamp_micros(iso: str) -> int:
    """Microseconds since the epoch of a normalised stored-row timestamp (`YYYY-MM-DDTHH:MM:SS.ffffffZ`)."""
    moment = datetime(int(iso[0:4]), int(iso[5:7]), int(iso[8:10]), int(iso[11:13]), int(iso[14:16]), int(iso[17:19]))
    return (moment - _EPOCH) // timedelta(microseconds=1) + int(iso[20:26])


def micros_to_datetime(micros: int) -> datetime:
    """An aware UTC datetime (Spark reads aware datetimes as the instant they name)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)


# --- event validation (runtime/core/validate-event.ts) ------------------------------------------------------------

_CONTROL_CHARACTER = re.compile("[\u0000-\u001f\u007f-\u009f]")


def _reject(code: str, message: str, field: Optional[str] = None) -> Dict[str, Any]:
    error: Dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"ok": False, "error": error}


def validate_event(value: Any) -> Dict[str, Any]:
    """One client event: {"ok": True, "event"} or {"ok": False, "error": {"code", "message", "field"?}}."""
    if not isinstance(value, dict):
        return _reject("wrong_type", "an event must be a JSON object")
    for key in js_key_order(value):
        if key not in EVENT_FIELDS:
            return _reject(
                "unknown_field",
                f"unknown field '{_truncate(key)}': an event has event_id, event_type, updated_at and event_data; "
                "put custom data in event_data",
                key,
            )
    return validate_event_fields(value)


def validate_event_fields(record: Mapping[str, Any]) -> Dict[str, Any]:
    """The four event fields of `record`, checked and normalised; other keys are not looked at."""
    event_id = record.get("event_id")
    if event_id is None:
        return _reject("missing_field", "event_id is required", "event_id")
    if not isinstance(event_id, str):
        return _reject("wrong_type", "event_id must be a string", "event_id")
    max_id = LIMITS["event_id_max_chars"]
    if not 0 < utf16_length(event_id) <= max_id:
        return _reject("invalid_value", f"event_id must be 1\u2013{max_id} characters", "event_id")
    if not is_well_formed(event_id):
        return _reject("invalid_value", "event_id is not valid Unicode", "event_id")

    event_type = record.get("event_type")
    if event_type is None:
        return _reject("missing_field", "event_type is required", "event_type")
    if not isinstance(event_type, str):
        return _reject("wrong_type", "event_type must be a string", "event_type")
    max_type = LIMITS["event_type_max_chars"]
    if not 0 < utf16_length(event_type) <= max_type:
        return _reject("invalid_value", f"event_type must be 1\u2013{max_type} characters", "event_type")
    if _CONTROL_CHARACTER.search(event_type) or not is_well_formed(event_type):
        return _reject("invalid_value", "event_type must contain only printable characters", "event_type")

    updated_at = record.get("updated_at")
    if updated_at is None:
        return _reject("missing_field", "updated_at is required", "updated_at")
    if not isinstance(updated_at, str):
        return _reject("wrong_type", "updated_at must be a string", "updated_at")
    parsed = parse_updated_at(updated_at)
    if not parsed["ok"]:
        return _reject("invalid_timestamp", f"updated_at: {parsed['reason']}", "updated_at")

    data = record.get("event_data")
    if data is None:
        event_data = None
    elif isinstance(data, str):
        event_data = data
    else:
        # Any other JSON value is kept as its JSON text, exactly as JSON.stringify writes it.
        try:
            event_data = js_json_stringify(data)
        except TypeError:
            return _reject("wrong_type", "event_data must be a string or a JSON value", "event_data")
    if event_data is not None:
        if not is_well_formed(event_data):
            return _reject("invalid_value", "event_data is not valid Unicode", "event_data")
        max_bytes = LIMITS["event_data_max_bytes"]
        if utf8_length(event_data) > max_bytes:
            return _reject("too_large", f"event_data must be at most {max_bytes} bytes as UTF-8", "event_data")

    return {
        "ok": True,
        "event": {"event_id": event_id, "event_type": event_type, "updated_at": parsed["iso"], "event_data": event_data},
    }


# --- hub records back into stored rows (runtime/core/stored-row.ts) -----------------------------------------------


def parse_stored_row(value: Any) -> Dict[str, Any]:
    """One decoded NDJSON line: {"row": {...}} or {"code", "message"}."""
    if not isinstance(value, dict):
        return {"code": "wrong_type", "message": "a stored row must be a JSON object"}
    for key in js_key_order(value):
        if key not in STORED_ROW_COLUMNS:
            return {"code": "unknown_field", "message": f"unknown column '{key}'"}
    # The intake turns structured event_data into text, so a stored row holds a string or null, nothing else.
    data = value.get("event_data")
    if data is not None and not isinstance(data, str):
        return {"code": "wrong_type", "message": "event_data of a stored row must be a string or null"}
    checked = validate_event_fields(value)
    if not checked["ok"]:
        return {"code": checked["error"]["code"], "message": checked["error"]["message"]}
    player_id = value.get("player_id")
    received_at = value.get("received_at")
    source = value.get("source")
    if not isinstance(player_id, str) or player_id == "":
        return {"code": "missing_field", "message": "player_id must be a non-empty string"}
    if not isinstance(received_at, str):
        return {"code": "missing_field", "message": "received_at must be a string"}
    received = parse_updated_at(received_at)
    if not received["ok"]:
        return {"code": "invalid_timestamp", "message": f"received_at: {received['reason']}"}
    if not isinstance(source, str) or source not in SOURCES:
        return {"code": "invalid_value", "message": "source must be 'rest' or 'ws'"}
    event = checked["event"]
    return {
        "row": {
            "event_id": event["event_id"],
            "event_type": event["event_type"],
            "updated_at": event["updated_at"],
            "event_data": event["event_data"],
            "player_id": player_id,
            "received_at": received["iso"],
            "source": source,
        }
    }


def record_text(data: Any) -> str:
    """A hub record's bytes as text, as TextDecoder('utf-8') reads them: BOM dropped, bad bytes as U+FFFD."""
    if isinstance(data, str):
        return data
    return bytes(data).decode("utf-8-sig", errors="replace")


def decode_lines(data: Any) -> Iterator[Tuple[int, str, Dict[str, Any]]]:
    """(0-based line number, line text, {"row"} or {"code", "message"}) for every line of a hub record."""
    lines = record_text(data).split("\n")
    # A well-formed record ends in '\n', which leaves one empty string after the split.
    if lines[-1] == "":
        lines.pop()
    for index, line in enumerate(lines):
        try:
            value = parse_json(line)
        except MalformedJson as error:
            yield index, line, {"code": "malformed_json", "message": str(error)}
            continue
        yield index, line, parse_stored_row(value)


def decode_hub_record(data: Any) -> Dict[str, List[Dict[str, Any]]]:
    """decodeHubRecord: {"rows": [...], "invalid": [{"line", "code", "message"}]}."""
    rows: List[Dict[str, Any]] = []
    invalid: List[Dict[str, Any]] = []
    for index, _line, result in decode_lines(data):
        if "row" in result:
            rows.append(result["row"])
        else:
            invalid.append({"line": index, "code": result["code"], "message": result["message"]})
    return {"rows": rows, "invalid": invalid}


# --- the dedup rule ------------------------------------------------------------------------------------------------


def dedup_key(row: Mapping[str, Any]) -> Tuple[str, str, str, str]:
    """A re-send is the same (player_id, event_id, event_type, updated_at); a tuple cannot collide across fields."""
    return (row["player_id"], row["event_id"], row["event_type"], row["updated_at"])


def row_received_us(row: Mapping[str, Any]) -> int:
    return timestamp_micros(row["received_at"])


def admit(
    rows: Iterable[Any],
    window_us: int,
    seen: Dict[Hashable, int],
    key: Callable[[Any], Hashable] = dedup_key,
    received_us: Callable[[Any], int] = row_received_us,
) -> Iterator[Any]:
    """The dedup rule over rows in stream order.

    A row is a re-send, and dropped, when its key's latest stored row was received at most `window_us` before it
    (or after it: a re-send never outruns what it repeats by more than clock skew). `seen` maps a key to that
    latest stored receipt and is updated in place; it is the local DedupIndex's `seen` table, and the Glue job seeds
    it from the Delta table.
    """
    for row in rows:
        k = key(row)
        received = received_us(row)
        last = seen.get(k)
        if last is None or received - last > window_us:
            seen[k] = received
            yield row


def dedupe_batch(
    rows: Iterable[Mapping[str, Any]],
    window_us: Optional[int] = None,
    seen: Optional[Dict[Hashable, int]] = None,
) -> List[Mapping[str, Any]]:
    """In-batch dedup, first occurrence per key wins.

    With `window_us`, a later occurrence more than the window after the kept one is kept too (a backlog read after
    an outage can span more than the window), which is what the local writer does; `seen` seeds the keys' latest
    stored receipts (from the table).
    """
    if window_us is None:
        first: set = set()
        kept = []
        for row in rows:
            k = dedup_key(row)
            if k not in first:
                first.add(k)
                kept.append(row)
        return kept
    return list(admit(rows, window_us, {} if seen is None else seen))


def admit_with_seeds(
    rows: Iterable[Any],
    window_us: int,
    key: Callable[[Any], Hashable],
    received_us: Callable[[Any], int],
    seed_us: Callable[[Any], Optional[int]],
) -> Iterator[Any]:
    """`admit` over rows that each carry their key's seed (the table's latest receipt, or None), as the Spark job
    joins it on; rows of one key must come in stream order."""
    seen: Dict[Hashable, int] = {}
    seeded: set = set()

    def seed_then_key(row: Any) -> Hashable:
        k = key(row)
        if k not in seeded:
            seeded.add(k)
            seed = seed_us(row)
            if seed is not None:
                seen[k] = seed
        return k

    return admit(rows, window_us, seen, key=seed_then_key, received_us=received_us)


def merge_lower_bound_us(batch_received_us: Iterable[int], window_us: int) -> int:
    """Target rows received before this cannot make any row of the batch a re-send: the MERGE prunes them."""
    return min(batch_received_us) - window_us


def merge_matches(target: Mapping[str, Any], source: Mapping[str, Any], window_us: int, lower_bound_us: int) -> bool:
    """The insert-only MERGE's ON clause, in Python: same key, and the target row inside the source row's window."""
    target_us = row_received_us(target)
    return (
        target["event_type"] == source["event_type"]
        and target["player_id"] == source["player_id"]
        and target["event_id"] == source["event_id"]
        and target["updated_at"] == source["updated_at"]
        and target_us >= lower_bound_us
        and target_us >= row_received_us(source) - window_us
    )


# --- what the Spark job moves around -------------------------------------------------------------------------------

#: One decoded line, valid or not, as the Spark job's flatMap emits it (name, type, nullable).
DECODED_LINE_SCHEMA: Tuple[Tuple[str, str, bool], ...] = (
    ("valid", "boolean", False),
    ("event_id", "string", True),
    ("event_type", "string", True),
    ("updated_at_us", "long", True),
    ("event_data", "string", True),
    ("player_id", "string", True),
    ("received_at_us", "long", True),
    ("source", "string", True),
    ("stream_order", "string", False),
    ("partition_key", "string", True),
    ("sequence_number", "string", True),
    ("line", "long", False),
    ("error", "string", True),
    ("message", "string", True),
    ("line_text", "string", True),
)

_SEQUENCE_DIGITS = 129  # Kinesis sequence numbers are decimal, at most 129 digits


def stream_order(sequence_number: Optional[str], line: int) -> str:
    """A string that sorts like (sequence number as an integer, line): the stream order of one line."""
    return f"{(sequence_number or '0').rjust(_SEQUENCE_DIGITS, '0')}:{line:08d}"


def _printable_text(text: str) -> str:
    # Lone surrogates cannot cross into the JVM; they are written as their escapes.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def explode_hub_record(data: Any, sequence_number: Optional[str], partition_key: Optional[str]) -> Iterator[tuple]:
    """Every line of one Kinesis record as a DECODED_LINE_SCHEMA tuple: rows with their timestamps in
    microseconds, invalid lines with their reason and text for the quarantine."""
    for index, line, result in decode_lines(data):
        order = stream_order(sequence_number, index)
        if "row" in result:
            row = result["row"]
            yield (
                True,
                row["event_id"],
                row["event_type"],
                timestamp_micros(row["updated_at"]),
                row["event_data"],
                _printable_text(row["player_id"]),
                timestamp_micros(row["received_at"]),
                row["source"],
                order,
                partition_key,
                sequence_number,
                index,
                None,
                None,
                None,
            )
        else:
            yield (
                False, None, None, None, None, None, None, None, order, partition_key, sequence_number, index,
                result["code"], _printable_text(result["message"]), _printable_text(line),
            )


# --- Kinesis -------------------------------------------------------------------------------------------------------

_STREAM_ARN = re.compile(r"arn:(aws[a-z-]*):kinesis:([a-z0-9-]+):([0-9]{12}):stream/([A-Za-z0-9_.-]{1,128})")


def kinesis_stream(arn: str) -> Dict[str, str]:
    """Name, region and endpoint of a Kinesis stream ARN (for readers that take a name and an endpoint)."""
    match = _STREAM_ARN.fullmatch(arn)
    if match is None:
        raise ValueError(f"not a Kinesis stream ARN: {arn!r}")
    partition, region, _account, name = match.groups()
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return {"name": name, "region": region, "endpoint": f"https://kinesis.{region}.{suffix}"}


# --- job arguments -------------------------------------------------------------------------------------------------

REQUIRED_ARGUMENTS = ("JOB_NAME", "stream_arn", "table_path", "checkpoint_location", "quarantine_path")
OPTIONAL_ARGUMENTS = {"window_seconds": "100", "dedup_window_hours": "24", "database_name": "delta_lake_events_db"}


def job_settings(args: Mapping[str, str]) -> Dict[str, Any]:
    """Job arguments (without their leading --) checked once, every problem reported at once."""
    problems = [f"--{name} is required" for name in REQUIRED_ARGUMENTS if not args.get(name)]
    merged = {**OPTIONAL_ARGUMENTS, **{k: v for k, v in args.items() if v is not None}}

    def positive(name: str) -> float:
        try:
            value = float(merged[name])
        except ValueError:
            value = float("nan")
        if not value > 0 or math.isinf(value):
            problems.append(f"--{name} must be a positive number, got {merged[name]!r}")
        return value

    window_seconds = positive("window_seconds")
    dedup_hours = positive("dedup_window_hours")
    for name in ("table_path", "checkpoint_location", "quarantine_path"):
        if merged.get(name) and "://" not in merged[name]:
            problems.append(f"--{name} must be a URI such as s3://bucket/prefix, got {merged[name]!r}")
    if merged.get("stream_arn") and _STREAM_ARN.fullmatch(merged["stream_arn"]) is None:
        problems.append(f"--stream_arn must be a Kinesis stream ARN, got {merged['stream_arn']!r}")
    if problems:
        raise ValueError("; ".join(problems))
    return {
        "job_name": merged["JOB_NAME"],
        "stream_arn": merged["stream_arn"],
        "table_path": merged["table_path"].rstrip("/"),
        "checkpoint_location": merged["checkpoint_location"],
        "quarantine_path": merged["quarantine_path"].rstrip("/"),
        "window_size": f"{window_seconds:g} seconds",
        "dedup_window_us": int(round(dedup_hours * 3600 * 1_000_000)),
        "database_name": merged["database_name"],
    }
