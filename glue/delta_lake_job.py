"""Glue streaming job: the hub stream (Kinesis, NDJSON records) into the Delta table delta_lake_events_db/events.

The AWS twin of the local Delta writer (runtime/local/delta-writer/), with the same rules (ARCHITECTURE.md): every
line is decoded and re-validated by telemetry_transforms (the Python twin of runtime/core, kept equal to it by the
shared vectors in test/vectors/); invalid lines go to the quarantine with their reason; rows are de-duplicated on
(player_id, event_id, event_type, updated_at) within the dedup window, first within the micro-batch and then against
the table with an insert-only MERGE that only reads target rows of the batch's event types (partitions) received
inside the window. This file only wires those transforms to Spark and Delta.

Glue 4.0+ (Spark 3.3+, Delta 2.1+), job parameters --datalake-formats delta and the Delta --conf (infra/ sets both),
telemetry_transforms.py shipped beside it with --extra-py-files. Arguments: see glue/README.md.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Iterable, Iterator

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from delta.tables import DeltaTable
from pyspark import SparkConf
from pyspark.context import SparkContext
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, LongType, StringType, StructField, StructType, TimestampType

import telemetry_transforms as tt

# Set before the SparkContext starts; --conf and --datalake-formats set the first two too, this makes the script
# self-sufficient. Timestamps are UTC instants written as INT64 microseconds, as the contract's Parquet asks.
SPARK_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
}

SPARK_TYPES = {"string": StringType(), "timestamp": TimestampType(), "long": LongType(), "boolean": BooleanType()}

STORED_ROW_STRUCT = StructType(
    [StructField(c["name"], SPARK_TYPES[c["type"]], c["nullable"]) for c in tt.STORED_ROW_SCHEMA]
)
DECODED_LINE_STRUCT = StructType(
    [StructField(name, SPARK_TYPES[kind], nullable) for name, kind, nullable in tt.DECODED_LINE_SCHEMA]
)
# A stored row on its way back from Python: timestamps as epoch microseconds, never as Python datetimes (whose
# conversion depends on the worker's local time zone).
ADMITTED_STRUCT = StructType(
    [
        StructField(c["name"] + ("_us" if c["type"] == "timestamp" else ""),
                    LongType() if c["type"] == "timestamp" else SPARK_TYPES[c["type"]], c["nullable"])
        for c in tt.STORED_ROW_SCHEMA
    ]
)
KEY_COLUMNS = ("player_id", "event_id", "event_type", "updated_at_us")
# Above this many event types in one batch, the MERGE's partition filter would cost more than it saves.
MAX_PRUNED_EVENT_TYPES = 1000


def read_settings(argv: list) -> Dict[str, Any]:
    """The job arguments; optional ones may be absent (getResolvedOptions refuses absent names)."""
    present = [name for name in (*tt.REQUIRED_ARGUMENTS, *tt.OPTIONAL_ARGUMENTS) if f"--{name}" in argv]
    return tt.job_settings(getResolvedOptions(argv, present))


def open_hub_stream(glue_context: GlueContext, spark: SparkSession, settings: Dict[str, Any], log: Any) -> DataFrame:
    """The hub stream as raw Kinesis records: `data` (the NDJSON bytes), `partitionKey`, `sequenceNumber`.

    Each record packs many rows, so nothing may parse it as one JSON document (Glue's json classification would
    keep the first line only): the job reads the raw payload and splits it itself. Glue's Kinesis source is tried
    first; if it does not expose the raw `data` column, Glue's bundled Spark Kinesis connector reads the same stream.
    The log says which one runs.
    """
    try:
        frame = glue_context.create_data_frame.from_options(
            connection_type="kinesis",
            connection_options={
                "streamARN": settings["stream_arn"],
                # Only the first run: afterwards the checkpoint says where to resume.
                "startingPosition": "TRIM_HORIZON",
                "inferSchema": "false",
                "avoidEmptyBatches": "true",
                "emitConsumerLagMetrics": "true",
            },
            transformation_ctx="hub_stream",
        )
        if "data" in frame.columns:
            log.info(f"hub stream source: Glue Kinesis source, columns {frame.columns}")
            return frame
        log.warn(f"Glue's Kinesis source gave columns {frame.columns}, not the raw record; using the Spark connector")
    except Exception as error:  # noqa: BLE001 - the fallback below reads the same stream
        log.warn(f"Glue's Kinesis source did not open without a classification ({error}); using the Spark connector")
    stream = tt.kinesis_stream(settings["stream_arn"])
    frame = (
        spark.readStream.format("kinesis")
        .option("streamName", stream["name"])
        .option("endpointUrl", stream["endpoint"])
        .option("startingPosition", "TRIM_HORIZON")
        .load()
    )
    log.info(f"hub stream source: Spark Kinesis connector, columns {frame.columns}")
    return frame


def ensure_table(spark: SparkSession, settings: Dict[str, Any], log: Any) -> None:
    """Creates the table, partitioned by event_type, when it is missing; registers it in the Glue database."""

    def builder() -> Any:
        return (
            DeltaTable.createIfNotExists(spark)
            .location(settings["table_path"])
            .addColumns(STORED_ROW_STRUCT)
            .partitionedBy(*tt.PARTITION_COLUMNS)
            .comment("Game telemetry events (delta-lake-game-telemetry)")
            .property("delta.minReaderVersion", "1")
            .property("delta.minWriterVersion", "2")
        )

    name = f"`{settings['database_name']}`.`events`"
    try:
        builder().tableName(name).execute()
        log.info(f"Delta table {name} at {settings['table_path']}")
    except Exception as error:  # noqa: BLE001 - the catalog entry is a convenience, the path is the contract
        log.warn(f"could not register {name} in the catalog ({error}); the table is used by path only")
        builder().execute()


def admit_partition(rows: Iterable[Any], window_us: int) -> Iterator[tuple]:
    """The dedup rule over one partition, rows of a key together and in stream order, seeded from the table."""
    admitted = tt.admit_with_seeds(
        rows,
        window_us,
        key=lambda row: (row["player_id"], row["event_id"], row["event_type"], row["updated_at_us"]),
        received_us=lambda row: row["received_at_us"],
        seed_us=lambda row: row["seen_received_at_us"],
    )
    for row in admitted:
        yield tuple(row[field.name] for field in ADMITTED_STRUCT.fields)


def event_type_filter(column: Column, event_types: list) -> Column:
    return column.isin(event_types) if len(event_types) <= MAX_PRUNED_EVENT_TYPES else F.lit(True)


def make_batch_function(spark: SparkSession, settings: Dict[str, Any], log: Any):
    window_us = settings["dedup_window_us"]
    table_path = settings["table_path"]

    def process_batch(frame: DataFrame, batch_id: int) -> None:
        if frame.rdd.isEmpty():
            return
        records = frame.select("data", "sequenceNumber", "partitionKey")
        lines = spark.createDataFrame(
            records.rdd.flatMap(lambda r: tt.explode_hub_record(r["data"], r["sequenceNumber"], r["partitionKey"])),
            DECODED_LINE_STRUCT,
        ).persist()
        try:
            quarantined = quarantine(lines.where(~F.col("valid")), batch_id)
            rows = lines.where(F.col("valid"))
            stats = rows.agg(F.min("received_at_us").alias("first"), F.collect_set("event_type").alias("types"),
                             F.count(F.lit(1)).alias("n")).first()
            if stats["n"] == 0:
                log.info(f"batch {batch_id}: 0 rows, {quarantined} lines quarantined")
                return
            written = merge(rows, list(stats["types"]), tt.merge_lower_bound_us([stats["first"]], window_us))
            log.info(f"batch {batch_id}: {stats['n']} rows, {stats['n'] - written} re-sends dropped, "
                     f"{written} new rows merged, {quarantined} lines quarantined")
        finally:
            lines.unpersist()

    def quarantine(invalid: DataFrame, batch_id: int) -> int:
        """Invalid lines are kept with their reason and stream position, never silently dropped."""
        count = invalid.count()
        if count > 0:
            (
                invalid.select(
                    F.lit(settings["stream_arn"]).alias("stream_arn"),
                    "partition_key",
                    "sequence_number",
                    "line",
                    "error",
                    "message",
                    "line_text",
                    F.lit(batch_id).alias("batch_id"),
                    F.lit(settings["job_name"]).alias("job_name"),
                    F.current_timestamp().alias("quarantined_at"),
                    F.to_date(F.current_timestamp()).alias("quarantined_date"),
                )
                .write.mode("append")
                .partitionBy("quarantined_date")
                .json(settings["quarantine_path"])
            )
        return count

    def merge(rows: DataFrame, event_types: list, lower_bound_us: int) -> int:
        target = DeltaTable.forPath(spark, table_path)
        lower_bound = F.lit(tt.micros_to_datetime(lower_bound_us))
        # Each key's latest stored receipt that can still make a row of this batch a re-send: the seed of the rule.
        seeds = (
            target.toDF()
            .where(event_type_filter(F.col("event_type"), event_types) & (F.col("received_at") >= lower_bound))
            .groupBy(
                "player_id", "event_id", "event_type", F.expr("unix_micros(updated_at)").alias("updated_at_us")
            )
            .agg(F.expr("unix_micros(max(received_at))").alias("seen_received_at_us"))
        )
        candidates = rows.join(seeds, on=list(KEY_COLUMNS), how="left")
        admitted_rdd = (
            candidates.repartition(spark.sparkContext.defaultParallelism, *KEY_COLUMNS)
            .sortWithinPartitions(*KEY_COLUMNS, "stream_order")
            .rdd.mapPartitions(lambda part: admit_partition(part, window_us))
        )
        admitted = (
            spark.createDataFrame(admitted_rdd, ADMITTED_STRUCT)
            .select(
                *[
                    F.expr(f"timestamp_micros({c['name']}_us)").alias(c["name"]) if c["type"] == "timestamp"
                    else F.col(c["name"])
                    for c in tt.STORED_ROW_SCHEMA
                ]
            )
            .persist()
        )
        try:
            count = admitted.count()
            if count == 0:
                return 0
            # Insert-only on the dedup key. The window term keeps a replayed batch (forEachBatch is at-least-once)
            # from writing twice; the two target-only terms let Delta skip other partitions and older files.
            condition = (
                (F.col("t.event_type") == F.col("s.event_type"))
                & (F.col("t.player_id") == F.col("s.player_id"))
                & (F.col("t.event_id") == F.col("s.event_id"))
                & (F.col("t.updated_at") == F.col("s.updated_at"))
                & event_type_filter(F.col("t.event_type"), event_types)
                & (F.col("t.received_at") >= lower_bound)
                & (F.expr("unix_micros(t.received_at)") >= F.expr("unix_micros(s.received_at)") - F.lit(window_us))
            )
            target.alias("t").merge(admitted.alias("s"), condition).whenNotMatchedInsertAll().execute()
            return count
        finally:
            admitted.unpersist()

    return process_batch


def main() -> None:
    settings = read_settings(sys.argv)
    conf = SparkConf()
    for key, value in SPARK_CONF.items():
        conf.set(key, value)
    glue_context = GlueContext(SparkContext.getOrCreate(conf=conf))
    spark = glue_context.spark_session
    for key, value in SPARK_CONF.items():
        if not key.startswith("spark.sql.extensions") and not key.startswith("spark.sql.catalog"):
            spark.conf.set(key, value)
    log = glue_context.get_logger()
    job = Job(glue_context)
    job.init(settings["job_name"], {"JOB_NAME": settings["job_name"]})

    ensure_table(spark, settings, log)
    glue_context.forEachBatch(
        frame=open_hub_stream(glue_context, spark, settings, log),
        batch_function=make_batch_function(spark, settings, log),
        options={"windowSize": settings["window_size"], "checkpointLocation": settings["checkpoint_location"]},
    )
    job.commit()


if __name__ == "__main__":
    main()
