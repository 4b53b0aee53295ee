"""The shared vectors (test/vectors/*.json) and unit cases for telemetry_transforms.

Run: python3 -m unittest discover -s glue -p 'test_*.py'   (from the repository root)
test/vectors.test.ts runs the same vectors through the TypeScript code.
"""

from __future__ import annotations

import base64
import math
import os
import py_compile
import random
import struct
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import telemetry_transforms as tt  # noqa: E402

VECTORS = Path(__file__).resolve().parent.parent / "test" / "vectors"


def load_vectors(name: str) -> Dict[str, Any]:
    # Read with JSON.parse's semantics (every number a double), as the TypeScript runner reads them.
    return tt.parse_json((VECTORS / name).read_text(encoding="utf-8"))


def expand(value: Any) -> Any:
    """The vector macros: {'$repeat': s, 'times': n} and {'$concat': [parts]}."""
    if isinstance(value, list):
        return [expand(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$repeat", "times"}:
            return value["$repeat"] * int(value["times"])
        if set(value) == {"$concat"}:
            # Joined as JavaScript joins strings: a high and a low surrogate from two parts make one pair.
            return tt._normalize_utf16("".join(expand(part) for part in value["$concat"]))
        return {key: expand(item) for key, item in value.items()}
    return value


def with_without(base: Dict[str, Any], case: Dict[str, Any], with_key: str, without_key: str) -> Dict[str, Any]:
    merged = dict(base)
    merged.update(expand(case.get(with_key, {})))
    for key in case.get(without_key, []):
        merged.pop(key, None)
    return merged


def error_shape(error: Dict[str, Any]) -> Dict[str, Any]:
    return {key: error[key] for key in ("code", "field") if key in error}


class EventVectors(unittest.TestCase):
    def test_events(self) -> None:
        vectors = load_vectors("events.json")
        base = vectors["base_event"]
        self.assertGreater(len(vectors["cases"]), 100)
        for case in vectors["cases"]:
            with self.subTest(case["name"]):
                event = expand(case["input"]) if "input" in case else with_without(base, case, "with", "without")
                result = tt.validate_event(event)
                expect = expand(case["expect"])
                if "event" in expect:
                    self.assertTrue(result["ok"], result.get("error"))
                    self.assertEqual(result["event"], expect["event"])
                else:
                    self.assertFalse(result["ok"], result.get("event"))
                    self.assertEqual(error_shape(result["error"]), expect["error"])
                    if "message_includes" in case:
                        self.assertIn(case["message_includes"], result["error"]["message"])


def record_inputs(vectors: Dict[str, Any], case: Dict[str, Any]) -> List[Any]:
    """The record as the vector gives it, plus its UTF-8 bytes when it is given as text: both must decode alike."""
    if "data_base64" in case:
        return [base64.b64decode(case["data_base64"])]
    if "text" in case:
        text = case["text"]
    else:
        lines = []
        for line in case["lines"]:
            if isinstance(line, str):
                lines.append(line)
            elif isinstance(line, dict) and set(line) <= {"row_with", "row_without"} and line:
                lines.append(tt.js_json_stringify(with_without(vectors["base_row"], line, "row_with", "row_without")))
            else:
                lines.append(tt.js_json_stringify(expand(line)))
        text = "\n".join(lines) + ("" if case.get("trailing_newline") is False else "\n")
    return [text, text.encode("utf-8")]


def expected_rows(vectors: Dict[str, Any], case: Dict[str, Any]) -> List[Dict[str, Any]]:
    rows = []
    for row in case["rows"]:
        if set(row) <= {"row_with", "row_without"}:
            rows.append(with_without(vectors["base_row"], row, "row_with", "row_without"))
        else:
            rows.append(expand(row))
    return rows


class RecordVectors(unittest.TestCase):
    def test_records(self) -> None:
        vectors = load_vectors("records.json")
        self.assertGreater(len(vectors["cases"]), 40)
        for case in vectors["cases"]:
            for data in record_inputs(vectors, case):
                with self.subTest(case["name"], input=type(data).__name__):
                    decoded = tt.decode_hub_record(data)
                    self.assertEqual(decoded["rows"], expected_rows(vectors, case))
                    self.assertEqual([{"line": i["line"], "code": i["code"]} for i in decoded["invalid"]], case["invalid"])
                    for invalid in decoded["invalid"]:
                        self.assertIn(invalid["code"], tt.ERROR_CODES)
                        self.assertTrue(invalid["message"])

    def test_explode_agrees_with_decode(self) -> None:
        """The Spark job's flatMap sees exactly the rows and invalid lines the decoder reports."""
        vectors = load_vectors("records.json")
        names = [column[0] for column in tt.DECODED_LINE_SCHEMA]
        for case in vectors["cases"]:
            data = record_inputs(vectors, case)[-1]
            with self.subTest(case["name"]):
                exploded = [dict(zip(names, values)) for values in tt.explode_hub_record(data, "4960", "player-1")]
                for values in tt.explode_hub_record(data, "4960", "player-1"):
                    self.assertEqual(len(values), len(names))
                decoded = tt.decode_hub_record(data)
                valid = [line for line in exploded if line["valid"]]
                self.assertEqual(
                    [
                        {
                            "event_id": line["event_id"],
                            "event_type": line["event_type"],
                            "updated_at": tt.micros_to_datetime(line["updated_at_us"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                            "event_data": line["event_data"],
                            "player_id": line["player_id"],
                            "received_at": tt.micros_to_datetime(line["received_at_us"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                            "source": line["source"],
                        }
                        for line in valid
                    ],
                    decoded["rows"],
                )
                self.assertEqual(
                    [(line["line"], line["error"]) for line in exploded if not line["valid"]],
                    [(i["line"], i["code"]) for i in decoded["invalid"]],
                )
                for line in exploded:
                    self.assertEqual(line["sequence_number"], "4960")
                    self.assertEqual(line["partition_key"], "player-1")
                    if not line["valid"]:
                        line["line_text"].encode("utf-8")  # always fit for the JVM


def dedup_entries(vectors: Dict[str, Any], case: Dict[str, Any]) -> List[Tuple[int, Dict[str, Any], bool, int]]:
    entries = []
    for index, entry in enumerate(case["rows"]):
        row = dict(vectors["base_row"])
        row.update(expand(entry.get("with", {})))
        entries.append((index, row, entry["stored"], int(entry["batch"])))
    batches = [entry[3] for entry in entries]
    assert batches == sorted(batches), f"{case['name']}: batches must not go back"
    return entries


def batches_of(entries: List[Tuple[int, Dict[str, Any], bool, int]]) -> List[List[Tuple[int, Dict[str, Any]]]]:
    grouped: Dict[int, List[Tuple[int, Dict[str, Any]]]] = {}
    for index, row, _stored, batch in entries:
        grouped.setdefault(batch, []).append((index, row))
    return [grouped[batch] for batch in sorted(grouped)]


def sequential_model(batches: List[List[Tuple[int, Dict[str, Any]]]], window_us: int) -> set:
    """The local writer's rule: one DedupIndex, each batch admitted in order."""
    seen: Dict[Any, int] = {}
    stored = set()
    for batch in batches:
        for index, _row in tt.admit(batch, window_us, seen, key=lambda item: tt.dedup_key(item[1]),
                                    received_us=lambda item: tt.row_received_us(item[1])):
            stored.add(index)
    return stored


def glue_batch(table: List[Dict[str, Any]], batch: List[Tuple[int, Dict[str, Any]]], window_us: int) -> List[int]:
    """What delta_lake_job.process_batch does with one micro-batch, without Spark: seeds from the table's rows inside
    the pruned window, admission in stream order, then the insert-only MERGE against the table as it was."""
    lower = tt.merge_lower_bound_us((tt.row_received_us(row) for _i, row in batch), window_us)
    types = {row["event_type"] for _i, row in batch}
    seeds: Dict[Any, int] = {}
    for target in table:
        received = tt.row_received_us(target)
        if target["event_type"] in types and received >= lower:
            key = tt.dedup_key(target)
            seeds[key] = max(seeds.get(key, received), received)
    admitted = list(
        tt.admit_with_seeds(
            batch,
            window_us,
            key=lambda item: tt.dedup_key(item[1]),
            received_us=lambda item: tt.row_received_us(item[1]),
            seed_us=lambda item: seeds.get(tt.dedup_key(item[1])),
        )
    )
    snapshot = list(table)
    inserted = []
    for index, row in admitted:
        if not any(tt.merge_matches(target, row, window_us, lower) for target in snapshot):
            table.append(row)
            inserted.append(index)
    return inserted


class DedupVectors(unittest.TestCase):
    def test_sequential_rule(self) -> None:
        vectors = load_vectors("dedup.json")
        for case in vectors["cases"]:
            with self.subTest(case["name"]):
                entries = dedup_entries(vectors, case)
                stored = sequential_model(batches_of(entries), int(case["window_ms"]) * 1000)
                self.assertEqual([index in stored for index, *_ in entries], [entry[2] for entry in entries])

    def test_glue_batch_plan(self) -> None:
        vectors = load_vectors("dedup.json")
        for case in vectors["cases"]:
            with self.subTest(case["name"]):
                entries = dedup_entries(vectors, case)
                window_us = int(case["window_ms"]) * 1000
                table: List[Dict[str, Any]] = []
                stored = set()
                for batch in batches_of(entries):
                    stored.update(glue_batch(table, batch, window_us))
                    # forEachBatch is at-least-once: a batch replayed after its MERGE committed adds nothing.
                    self.assertEqual(glue_batch(table, batch, window_us), [])
                self.assertEqual([index in stored for index, *_ in entries], [entry[2] for entry in entries])

    def test_in_batch_first_occurrence_wins(self) -> None:
        vectors = load_vectors("dedup.json")
        for case in vectors["cases"]:
            for batch in batches_of(dedup_entries(vectors, case)):
                rows = [row for _i, row in batch]
                kept = tt.dedupe_batch(rows)
                keys = [tt.dedup_key(row) for row in kept]
                self.assertEqual(len(keys), len(set(keys)))
                self.assertEqual(keys, list(dict.fromkeys(tt.dedup_key(row) for row in rows)))
                for row in kept:  # the first one of its key, not a later copy
                    self.assertIs(row, next(r for r in rows if tt.dedup_key(r) == tt.dedup_key(row)))


class JavaScriptSemantics(unittest.TestCase):
    def test_numbers_are_written_as_javascript_writes_them(self) -> None:
        cases = {
            0.0: "0", -0.0: "0", 1.0: "1", -1.5: "-1.5", 1e21: "1e+21", 1e20: "100000000000000000000",
            1e-7: "1e-7", 1e-6: "0.000001", 123e-20: "1.23e-18", 5e-324: "5e-324", 1.7976931348623157e308:
            "1.7976931348623157e+308", 0.1 + 0.2: "0.30000000000000004", 2.0**53 + 2: "9007199254740994",
            math.inf: "null", -math.inf: "null", math.nan: "null", 123456.789: "123456.789",
        }
        for value, text in cases.items():
            self.assertEqual(tt.js_number(value), text, repr(value))

    def test_shortest_digits_round_trip_for_random_doubles(self) -> None:
        rng = random.Random(5)
        for _ in range(2000):
            value = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
            if math.isfinite(value):
                self.assertEqual(float(tt.js_number(value)), value)

    def test_stringify(self) -> None:
        self.assertEqual(tt.js_json_stringify({"b": [1, None, True], "1": "\ud800x", "a": {"\n": -0.0}}),
                         '{"1":"\\ud800x","b":[1,null,true],"a":{"\\n":0}}')
        self.assertEqual(tt.js_json_stringify(10**400), "null")
        self.assertEqual(tt.js_json_stringify("\ud83d" + "\ude00"), '"\U0001f600"')
        with self.assertRaises(TypeError):
            tt.js_json_stringify({1, 2})

    def test_key_order(self) -> None:
        self.assertEqual(tt.js_key_order(["b", "10", "2", "01", "4294967295", "4294967294", "-1"]),
                         ["2", "10", "4294967294", "b", "01", "4294967295", "-1"])

    def test_parse_json_refuses_what_json_parse_refuses(self) -> None:
        for text in ["NaN", "[Infinity]", "-Infinity", "{'a':1}", "01", "1 2", "", " ", "\ufeff{}", "[1,]", '"\x01"']:
            with self.assertRaises(tt.MalformedJson, msg=repr(text)):
                tt.parse_json(text)
        self.assertEqual(tt.parse_json(" \t\r\n[1, 2.5, -0, 1e400] "), [1.0, 2.5, -0.0, math.inf])
        self.assertEqual(tt.parse_json('"\\ud83d\\ude00\\ud800"'), "\U0001f600\ud800")
        with self.assertRaises(tt.MalformedJson):
            tt.parse_json("[" * 100_000)

    def test_utf16_lengths_and_well_formedness(self) -> None:
        self.assertEqual(tt.utf16_length("a\U0001f600\u00e9"), 4)
        self.assertTrue(tt.is_well_formed("\ud83d" + "\ude00"))  # a pair held as two code points is still a pair
        self.assertFalse(tt.is_well_formed("\ude00\ud83d"))
        self.assertEqual(tt.utf8_length("\ud83d" + "\ude00"), 4)

    def test_record_bytes_decode_like_text_decoder(self) -> None:
        self.assertEqual(tt.record_text(b"\xef\xbb\xbfA\xed\xa0\x80B\xf0\x9f\x98C\xc0\xaf\xff"),
                         "A\ufffd\ufffd\ufffdB\ufffdC\ufffd\ufffd\ufffd")
        self.assertEqual(tt.record_text("\ufeffkept"), "\ufeffkept")  # a string is taken as it is


class Timestamps(unittest.TestCase):
    def test_micros(self) -> None:
        self.assertEqual(tt.timestamp_micros("1970-01-01T00:00:00.000001Z"), 1)
        self.assertEqual(tt.timestamp_micros("2024-02-22T03:03:03.123456Z"), 1708570983123456)
        for iso in ["1970-01-01T00:00:00.000000Z", "2024-02-29T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"]:
            self.assertEqual(tt.micros_to_datetime(tt.timestamp_micros(iso)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), iso)

    def test_every_accepted_form_normalises_to_the_stored_form(self) -> None:
        for text in ["2024-02-22 03:03:02", "2024-02-22T03:03:02.1+02:00", "1969-12-31T23:30:00-01:00"]:
            iso = tt.parse_updated_at(text)["iso"]
            self.assertRegex(iso, r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
            self.assertEqual(tt.parse_updated_at(iso), {"ok": True, "iso": iso})


class DedupUnits(unittest.TestCase):
    def row(self, **changes: Any) -> Dict[str, Any]:
        row = {"event_id": "1", "event_type": "Login", "updated_at": "2024-02-22T03:03:02.000000Z", "event_data": None,
               "player_id": "p", "received_at": "2024-02-22T03:03:03.000000Z", "source": "ws"}
        row.update(changes)
        return row

    def test_key_parts_never_run_into_each_other(self) -> None:
        a = self.row(player_id="p:1", event_id="x")
        b = self.row(player_id="p", event_id="1:x")
        self.assertNotEqual(tt.dedup_key(a), tt.dedup_key(b))
        self.assertEqual(len(tt.dedupe_batch([a, b])), 2)

    def test_windowed_batch_keeps_a_copy_outside_the_window(self) -> None:
        rows = [self.row(), self.row(received_at="2024-02-22T03:03:04.000000Z"),
                self.row(received_at="2024-02-23T03:03:03.000001Z")]
        self.assertEqual(tt.dedupe_batch(rows), rows[:1])
        self.assertEqual(tt.dedupe_batch(rows, tt.DEFAULT_DEDUP_WINDOW_US), [rows[0], rows[2]])
        seen = {tt.dedup_key(rows[0]): tt.timestamp_micros("2024-02-22T03:03:02.000000Z")}
        self.assertEqual(tt.dedupe_batch(rows, tt.DEFAULT_DEDUP_WINDOW_US, seen), [rows[2]])

    def test_merge_condition_bounds(self) -> None:
        source = self.row(received_at="2024-02-23T03:03:03.000000Z")
        window = tt.DEFAULT_DEDUP_WINDOW_US
        lower = tt.merge_lower_bound_us([tt.row_received_us(source)], window)
        self.assertTrue(tt.merge_matches(self.row(), source, window, lower))  # exactly one window before
        self.assertFalse(tt.merge_matches(self.row(received_at="2024-02-22T03:03:02.999999Z"), source, window, lower))
        self.assertTrue(tt.merge_matches(self.row(received_at="2024-02-25T00:00:00.000000Z"), source, window, lower))
        self.assertFalse(tt.merge_matches(self.row(event_type="Logout"), source, window, lower))


class JobSettings(unittest.TestCase):
    ARGS = {
        "JOB_NAME": "telemetry-delta",
        "stream_arn": "arn:aws:kinesis:eu-west-1:123456789012:stream/hub",
        "table_path": "s3://bucket/delta_lake_events_db/events/",
        "checkpoint_location": "s3://bucket/checkpoints/delta/",
        "quarantine_path": "s3://bucket/quarantine/",
    }

    def test_defaults(self) -> None:
        settings = tt.job_settings(self.ARGS)
        self.assertEqual(settings["window_size"], "100 seconds")
        self.assertEqual(settings["dedup_window_us"], tt.DEFAULT_DEDUP_WINDOW_US)
        self.assertEqual(settings["database_name"], "delta_lake_events_db")
        self.assertEqual(settings["table_path"], "s3://bucket/delta_lake_events_db/events")

    def test_given_values(self) -> None:
        settings = tt.job_settings({**self.ARGS, "window_seconds": "30", "dedup_window_hours": "0.5", "database_name": "db"})
        self.assertEqual(settings["window_size"], "30 seconds")
        self.assertEqual(settings["dedup_window_us"], 30 * 60 * 1_000_000)
        self.assertEqual(settings["database_name"], "db")

    def test_every_problem_is_reported_at_once(self) -> None:
        with self.assertRaises(ValueError) as raised:
            tt.job_settings({"JOB_NAME": "j", "stream_arn": "hub", "table_path": "/tmp/x", "window_seconds": "0",
                             "dedup_window_hours": "soon"})
        message = str(raised.exception)
        for part in ["--checkpoint_location is required", "--quarantine_path is required", "--window_seconds",
                     "--dedup_window_hours", "--table_path must be a URI", "--stream_arn must be"]:
            self.assertIn(part, message)


class Kinesis(unittest.TestCase):
    def test_stream_arn(self) -> None:
        self.assertEqual(tt.kinesis_stream("arn:aws:kinesis:eu-west-1:123456789012:stream/telemetry-hub"),
                         {"name": "telemetry-hub", "region": "eu-west-1", "endpoint": "https://kinesis.eu-west-1.amazonaws.com"})
        self.assertEqual(tt.kinesis_stream("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s")["endpoint"],
                         "https://kinesis.cn-north-1.amazonaws.com.cn")
        for bad in ["hub", "arn:aws:kinesis:eu-west-1:123456789012:deliverystream/x", "arn:aws:sqs:eu-west-1:123456789012:q"]:
            with self.assertRaises(ValueError):
                tt.kinesis_stream(bad)


class Schema(unittest.TestCase):
    def test_schema_follows_the_contract(self) -> None:
        self.assertEqual(tuple(column["name"] for column in tt.STORED_ROW_SCHEMA), tt.STORED_ROW_COLUMNS)
        self.assertEqual([c["name"] for c in tt.STORED_ROW_SCHEMA if c["nullable"]], ["event_data"])
        self.assertEqual({c["type"] for c in tt.STORED_ROW_SCHEMA}, {"string", "timestamp"})
        self.assertTrue(set(tt.DEDUP_KEY_COLUMNS) <= set(tt.STORED_ROW_COLUMNS))
        self.assertEqual(tt.PARTITION_COLUMNS, ("event_type",))

    def test_stream_order_sorts_like_the_numbers(self) -> None:
        pairs = [("9", 1), ("10", 0), ("49590338271490256608559692538361571095921575989136588898", 0), ("10", 12), ("0", 0)]
        ordered = sorted(pairs, key=lambda p: tt.stream_order(*p))
        self.assertEqual(ordered, sorted(pairs, key=lambda p: (int(p[0]), p[1])))

    def test_the_spark_script_wires_the_transforms(self) -> None:
        """Imports delta_lake_job with stand-ins for pyspark, awsglue and delta (not installable here) and runs the
        parts that execute in Python on the executors."""
        job = import_job_with_stubs()
        self.assertEqual([f.name for f in job.STORED_ROW_STRUCT.fields], list(tt.STORED_ROW_COLUMNS))
        self.assertEqual([f.nullable for f in job.STORED_ROW_STRUCT.fields], [c["nullable"] for c in tt.STORED_ROW_SCHEMA])
        self.assertEqual([f.name for f in job.DECODED_LINE_STRUCT.fields], [c[0] for c in tt.DECODED_LINE_SCHEMA])
        self.assertEqual([f.name for f in job.ADMITTED_STRUCT.fields],
                         ["event_id", "event_type", "updated_at_us", "event_data", "player_id", "received_at_us", "source"])
        decoded = [c[0] for c in tt.DECODED_LINE_SCHEMA]
        self.assertTrue(set(job.KEY_COLUMNS) <= set(decoded))

        # A partition as Spark hands it over: rows of a key together, in stream order, each with its key's seed.
        day = tt.DEFAULT_DEDUP_WINDOW_US
        base = {"event_id": "1", "event_type": "Login", "updated_at_us": 5, "event_data": None, "player_id": "p",
                "source": "ws", "stream_order": "", "seen_received_at_us": None}
        rows = [
            {**base, "received_at_us": 100},
            {**base, "received_at_us": 100 + day},  # inside the window of the first: dropped
            {**base, "received_at_us": 101 + day},  # outside: stored
            {**base, "event_id": "2", "received_at_us": 100, "seen_received_at_us": 50},  # the table holds it: dropped
            {**base, "event_id": "3", "received_at_us": 100 + day, "seen_received_at_us": 99},  # table copy too old
        ]
        self.assertEqual(list(job.admit_partition(iter(rows), day)), [
            ("1", "Login", 5, None, "p", 100, "ws"),
            ("1", "Login", 5, None, "p", 101 + day, "ws"),
            ("3", "Login", 5, None, "p", 100 + day, "ws"),
        ])

        argv = ["delta_lake_job.py", "--JOB_NAME", "j", "--stream_arn", "arn:aws:kinesis:eu-west-1:123456789012:stream/hub",
                "--table_path", "s3://b/delta_lake_events_db/events", "--checkpoint_location", "s3://b/glue/checkpoints/",
                "--quarantine_path", "s3://b/quarantine/", "--window_seconds", "60"]
        settings = job.read_settings(argv)
        self.assertEqual((settings["window_size"], settings["dedup_window_us"]), ("60 seconds", day))
        with self.assertRaises(ValueError):
            job.read_settings(argv[:3])

    def test_the_spark_script_compiles(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            py_compile.compile(str(Path(__file__).with_name("delta_lake_job.py")), cfile=os.path.join(directory, "job.pyc"),
                               doraise=True)


def import_job_with_stubs() -> Any:
    """delta_lake_job imported against minimal stand-ins; sys.modules is restored afterwards."""
    import importlib
    import types

    class DataType:
        def __repr__(self) -> str:
            return type(self).__name__

    class StructField:
        def __init__(self, name: str, data_type: DataType, nullable: bool = True) -> None:
            self.name, self.dataType, self.nullable = name, data_type, nullable

    class StructType:
        def __init__(self, fields: List[StructField]) -> None:
            self.fields = fields

    def get_resolved_options(argv: List[str], names: List[str]) -> Dict[str, str]:
        return {name: argv[argv.index(f"--{name}") + 1] for name in names}

    stubs: Dict[str, Dict[str, Any]] = {
        "awsglue": {},
        "awsglue.context": {"GlueContext": object},
        "awsglue.job": {"Job": object},
        "awsglue.utils": {"getResolvedOptions": get_resolved_options},
        "delta": {},
        "delta.tables": {"DeltaTable": object},
        "pyspark": {"SparkConf": object},
        "pyspark.context": {"SparkContext": object},
        "pyspark.sql": {"Column": object, "DataFrame": object, "SparkSession": object},
        "pyspark.sql.functions": {},
        "pyspark.sql.types": {
            "StructType": StructType, "StructField": StructField,
            **{name: type(name, (DataType,), {}) for name in ("BooleanType", "LongType", "StringType", "TimestampType")},
        },
    }
    saved = {name: sys.modules.get(name) for name in [*stubs, "delta_lake_job"]}
    try:
        for name, attributes in stubs.items():
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            sys.modules[name] = module
        sys.modules["pyspark.sql"].functions = sys.modules["pyspark.sql.functions"]
        sys.modules.pop("delta_lake_job", None)
        return importlib.import_module("delta_lake_job")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


if __name__ == "__main__":
    unittest.main()
