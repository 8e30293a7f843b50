"""Reading raw files: Parquet as pandas and pyarrow write it."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from etl.stages.extract import nanosecond_columns, read_raw

STAMPS = [datetime(2026, 11, 1, 10, 5, 7, 123456), datetime(1969, 12, 31, 23, 59, 59)]


def pandas_parquet(path) -> str:
    """What ``DataFrame.to_parquet`` writes: timestamps in nanoseconds, naive and UTC."""
    nanos = [int(s.replace(tzinfo=UTC).timestamp() * 1_000_000) * 1000 + 789 for s in STAMPS]
    table = pa.table(
        {
            "id": [1, 2],
            "at": pa.array(nanos, pa.timestamp("ns")),
            "at_utc": pa.array(nanos, pa.timestamp("ns", tz="UTC")),
            "at_us": pa.array(STAMPS, pa.timestamp("us")),
        }
    )
    pq.write_table(table, path)
    return str(path)


def test_nanosecond_timestamps_spark_refuses_are_read_as_timestamps(spark, tmp_path):
    """Spark 3.5 says 'Illegal Parquet type: INT64 (TIMESTAMP(NANOS,false))' on its own."""
    uri = pandas_parquet(tmp_path / "frame.parquet")
    assert nanosecond_columns(uri) == ["at", "at_utc"]

    inferred = read_raw(spark, uri, "parquet")  # as the crawler reads it
    registered = read_raw(spark, uri, "parquet", inferred.schema)  # as the job reads it
    as_ddl = read_raw(spark, uri, "parquet", "id bigint, at timestamp, at_utc timestamp")

    for df in (inferred, registered):
        assert dict(df.dtypes)["at"] == dict(df.dtypes)["at_utc"] == "timestamp"
        rows = df.orderBy("id").collect()
        assert [r.at for r in rows] == [r.at_utc for r in rows] == STAMPS  # 789 ns dropped
    assert [r.at for r in as_ddl.orderBy("id").collect()] == STAMPS


def test_a_damaged_parquet_file_is_left_to_spark_to_refuse(tmp_path):
    damaged = tmp_path / "cut.parquet"
    damaged.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")  # the magic bytes, no footer
    assert nanosecond_columns(str(damaged)) == []
    assert nanosecond_columns(str(tmp_path)) == []  # a folder
