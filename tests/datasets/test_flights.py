"""The bundled flights dataset: its generator, its rules on small explicit inputs, and a run.

The rules come from ``datasets/flights/dataset.yaml``; these tests pin what they do, as
``tests/test_transform.py`` does for orders. The generator mirrors ``tests/test_sample.py``
and the end-to-end run ``tests/test_cli.py``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType
from pyspark.testing import assertDataFrameEqual

from etl.cli.main import main
from etl.core.datasets import SpecError, get_dataset, read_spec_file
from etl.core.spec import DatasetSpec, spec_document, spec_from_document
from etl.local.samples.flights import generate_flights, write_samples
from etl.stages import transform as T
from etl.stages.extract import read_raw
from etl.stages.summarise import summarise

RUN_DATE = date(2026, 11, 26)
FLIGHTS = get_dataset("flights")
CURATED = "curated/processed/flights"
NEW_YORK = {"EWR", "JFK", "LGA"}
RAW_SCHEMA = (
    "year int, month int, day int, dep_time int, sched_dep_time int, dep_delay int, "
    "arr_time int, sched_arr_time int, arr_delay int, carrier string, flight int, "
    "tailnum string, origin string, dest string, air_time int, distance int, hour int, "
    "minute int"
)


def reference_codes(file: str, column: str) -> set[str]:
    text = FLIGHTS.folder.joinpath(file).read_text("utf-8")
    return {row[column] for row in csv.DictReader(io.StringIO(text))}


def reference(name: str):
    return next(r for r in FLIGHTS.references if r.table == name)


def key_of(record: dict) -> tuple:
    return tuple(record[c] for c in FLIGHTS.key)


def scheduled(record: dict) -> datetime:
    parts = ("year", "month", "day", "hour", "minute")
    return datetime(*(record[p] for p in parts))


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Path:
    """The flights sample, 400 records relative to ``RUN_DATE``."""
    (path,) = write_samples(tmp_path_factory.mktemp("flights-sample"), rows=400, as_of=RUN_DATE)
    return path


# --- the generator ------------------------------------------------------------------------


def test_the_same_seed_and_date_give_the_same_bytes(tmp_path):
    first = write_samples(tmp_path / "a", rows=200, as_of=RUN_DATE)
    second = write_samples(tmp_path / "b", rows=200, as_of=RUN_DATE)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_the_feed_has_every_kind_of_dirt():
    records = generate_flights(1000, RUN_DATE)
    counts = Counter(json.dumps(r, sort_keys=True) for r in records)
    window_start = datetime.combine(RUN_DATE - timedelta(days=90), datetime.min.time())
    tails = [r["tailnum"] for r in records if r["tailnum"] is not None]
    dirt = {
        "cancelled flights": any(
            r["dep_time"] is None and r["dep_delay"] is None and r["arr_delay"] is None
            for r in records
        ),
        "diverted flights": any(
            r["dep_time"] is not None and r["arr_time"] is None for r in records
        ),
        "re-sent flights": any(n > 1 for n in counts.values()),
        "unknown carriers": any(
            r["carrier"] not in reference_codes("reference/airlines.csv", "carrier")
            for r in records
        ),
        "unknown destinations": any(
            r["dest"] not in reference_codes("reference/airports.csv", "faa") for r in records
        ),
        "origins outside new york": any(r["origin"] not in NEW_YORK for r in records),
        "older than 90 days": any(scheduled(r) < window_start for r in records),
        "lower-case tail numbers": any(t.islower() for t in tails),
        "tail numbers with dashes": any("-" in t for t in tails),
        "placeholder tail numbers": any(t in ("UNKNOWN", "0") for t in tails),
    }
    assert all(dirt.values()), [k for k, v in dirt.items() if not v]


def test_only_re_sent_copies_share_a_key():
    versions = defaultdict(set)
    for record in generate_flights(1000, RUN_DATE):
        versions[key_of(record)].add(json.dumps(record, sort_keys=True))
    assert max(len(v) for v in versions.values()) == 1


def test_missing_values_are_written_as_na(feed):
    rows = list(csv.DictReader(feed.open(encoding="utf-8")))
    cells = [v for row in rows for v in row.values()]
    assert "NA" in cells and "" not in cells
    assert list(rows[0]) == [c.name for c in FLIGHTS.columns]  # the declared columns


def test_etl_sample_writes_the_flights_feed(tmp_path, capsys):
    argv = ["sample", "--dataset", "flights", "--rows", "50", "--out", str(tmp_path)]
    assert main([*argv, "--as-of", RUN_DATE.isoformat()]) == 0
    assert len((tmp_path / "flights.csv").read_text().splitlines()) == 51
    assert "flights.csv" in capsys.readouterr().out


# --- the rules, on small explicit inputs --------------------------------------------------


def test_na_in_a_numeric_column_is_read_as_a_null_number(spark, tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("flight,dep_delay,tailnum\n1,NA,NA\n2,-3,N14228\n")
    df = read_raw(spark, str(path), "csv", infer_csv_types=True, dataset=FLIGHTS)
    expected = spark.createDataFrame(
        [(1, None, None), (2, -3, "N14228")], "flight int, dep_delay int, tailnum string"
    )
    assertDataFrameEqual(df, expected)


def test_the_scheduled_departure_is_composed_from_its_columns(spark):
    parts = "year int, month int, day int, hour int, minute int"
    df = spark.createDataFrame([(2026, 11, 20, 5, 15), (2026, 2, 30, 5, 15)], parts)
    expected = spark.createDataFrame(
        [(2026, 11, 20, 5, 15, datetime(2026, 11, 20, 5, 15)), (2026, 2, 30, 5, 15, None)],
        f"{parts}, scheduled_departure timestamp",
    )
    assertDataFrameEqual(df.transform(T.compose_timestamps(FLIGHTS.timestamps)), expected)


def test_carriers_get_their_airline_name_and_unknown_carriers_null(spark):
    airlines = spark.createDataFrame(
        [("UA", "United Air Lines Inc."), ("B6", "JetBlue Airways")], "carrier string, name string"
    )
    df = spark.createDataFrame([(1545, "UA"), (1, "ZZ")], "flight int, carrier string")
    expected = spark.createDataFrame(
        [(1545, "UA", "United Air Lines Inc."), (1, "ZZ", None)],
        "flight int, carrier string, airline string",
    )
    assertDataFrameEqual(df.transform(T.join_reference(airlines, reference("airlines"))), expected)


def test_destinations_are_matched_with_the_airports_faa_code(spark):
    airports = spark.createDataFrame(
        [("IAH", "George Bush Intercontinental", "America/Chicago")],
        "faa string, name string, tzone string",
    )
    df = spark.createDataFrame([(1545, "IAH"), (725, "SJU")], "flight int, dest string")
    expected = spark.createDataFrame(
        [
            (1545, "IAH", "George Bush Intercontinental", "America/Chicago"),
            (725, "SJU", None, None),
        ],
        "flight int, dest string, dest_name string, dest_tzone string",
    )
    result = df.transform(T.join_reference(airports, reference("airports")))
    assertDataFrameEqual(result, expected)
    assert result.columns == expected.columns  # no faa, no second "name"


def test_cancelled_delayed_and_speed_are_derived(spark):
    df = spark.createDataFrame(
        [(517, 11.0, 227.0, 1400.0), (None, None, None, 1089.0), (600, 15.0, 0.0, 200.0)],
        "dep_time int, arr_delay double, air_time double, distance double",
    )
    expected = spark.createDataFrame(
        [
            (517, 11.0, 227.0, 1400.0, False, False, 370.0),
            (None, None, None, 1089.0, True, None, None),
            (600, 15.0, 0.0, 200.0, False, True, None),  # no time in the air: no speed
        ],
        "dep_time int, arr_delay double, air_time double, distance double, cancelled boolean, "
        "delayed boolean, speed_mph double",
    )
    assertDataFrameEqual(df.transform(T.derive_columns(FLIGHTS.derived)), expected)


def test_one_row_per_key_is_kept(spark):
    df = spark.createDataFrame(
        [
            (2026, 11, 20, "UA", 1545, "EWR", 2),
            (2026, 11, 20, "UA", 1545, "EWR", 5),  # the same flight, sent again
            (2026, 11, 20, "UA", 1545, "LGA", 2),  # the same number from another airport
            (2026, 11, 21, "UA", 1545, "EWR", 2),
        ],
        "year int, month int, day int, carrier string, flight int, origin string, dep_delay int",
    )
    marked = df.withColumn(T.REJECTED_BY, F.lit(None).cast("string"))
    result = marked.transform(T.keep_one_per_key(FLIGHTS.key)).where(F.col(T.REJECTED_BY).isNull())
    keys = spark.createDataFrame(
        [
            (2026, 11, 20, "UA", 1545, "EWR"),
            (2026, 11, 20, "UA", 1545, "LGA"),
            (2026, 11, 21, "UA", 1545, "EWR"),
        ],
        "year int, month int, day int, carrier string, flight int, origin string",
    )
    assertDataFrameEqual(result.select(*FLIGHTS.key), keys)


def test_only_departures_from_new_york_are_kept(spark):
    df = spark.createDataFrame([("EWR",), ("JFK",), ("LGA",), ("HPN",), (None,)], "origin string")
    only_origin = DatasetSpec(name="origins", columns=(FLIGHTS.column("origin"),))
    rule = "accepted_values:origin"
    expected = spark.createDataFrame(
        [("EWR", None), ("JFK", None), ("LGA", None), ("HPN", rule), (None, rule)],
        f"origin string, {T.REJECTED_BY} string",
    )
    assertDataFrameEqual(df.transform(T.mark_rejections(only_origin, date(2026, 11, 26))), expected)


def test_tail_numbers_are_tidied_and_placeholders_become_null(spark):
    (normalise_tail_numbers,) = T.dataset_steps(FLIGHTS)
    df = spark.createDataFrame(
        [("N14228",), ("n619aa",), ("N-804JB ",), ("UNKNOWN",), ("0",), (None,)], "tailnum string"
    )
    expected = spark.createDataFrame(
        [("N14228",), ("N619AA",), ("N804JB",), (None,), (None,), (None,)], "tailnum string"
    )
    assertDataFrameEqual(normalise_tail_numbers(df), expected)


def flight(day, carrier, number, origin, dest, times, tail, hour_minute=(5, 15)):
    """One raw row: ``times`` is dep_time, dep_delay, arr_time, arr_delay, air_time."""
    dep_time, dep_delay, arr_time, arr_delay, air_time = times
    hour, minute = hour_minute
    return (
        day.year, day.month, day.day, dep_time, hour * 100 + minute, dep_delay, arr_time,
        830, arr_delay, carrier, number, tail, origin, dest, air_time, 1400, hour, minute,
    )  # fmt: skip


def test_the_flights_spec_applies_every_rule_in_order(spark):
    day = date(2026, 11, 20)
    united = flight(day, "UA", 1545, "EWR", "IAH", (517, 2, 830, 11, 227), "N14228")
    raw = spark.createDataFrame(
        [
            united,
            united,  # re-sent
            flight(day, "AA", 1141, "JFK", "MIA", (None,) * 5, "n619aa"),  # cancelled
            flight(day, "ZZ", 1, "LGA", "SJU", (600, 30, 900, 45, 200), "N-1ZZ"),  # unknown
            flight(day, "DL", 100, "HPN", "IAH", (517, 2, 830, 11, 227), "N1DL"),  # not NYC
            flight(date(2026, 6, 1), "B6", 725, "JFK", "IAH", (517, 2, 830, 11, 227), "N1"),
            flight(day, "UA", None, "EWR", "IAH", (517, 2, 830, 11, 227), "N14228"),  # no key
        ],
        RAW_SCHEMA,
    )
    references = {
        "airlines": spark.createDataFrame(
            [("UA", "United Air Lines Inc."), ("AA", "American Airlines Inc.")],
            "carrier string, name string",
        ),
        "airports": spark.createDataFrame(
            [("IAH", "George Bush Intercontinental", "America/Chicago")],
            "faa string, name string, tzone string",
        ),
    }
    schedule = datetime(2026, 11, 20, 5, 15)
    tail = (2026, 11, 20, 5, 15, 2026, 11, 2026, 11, 26)  # year..minute, data_*, process_*
    curated = [
        (schedule, "UA", "United Air Lines Inc.", 1545, "N14228", "EWR", "IAH",
         "George Bush Intercontinental", "America/Chicago", 517, 515, 2.0, 830, 830, 11.0,
         227.0, 1400.0, 370.0, False, False, *tail),
        (schedule, "AA", "American Airlines Inc.", 1141, "N619AA", "JFK", "MIA", None, None,
         None, 515, None, None, 830, None, None, 1400.0, None, True, None, *tail),
        (schedule, "ZZ", None, 1, "N1ZZ", "LGA", "SJU", None, None, 600, 515, 30.0, 900, 830,
         45.0, 200.0, 1400.0, 420.0, False, True, *tail),
    ]  # fmt: skip
    expected = spark.createDataFrame(
        curated,
        "scheduled_departure timestamp, carrier string, airline string, flight int, "
        "tailnum string, origin string, dest string, dest_name string, dest_tzone string, "
        "dep_time int, sched_dep_time int, dep_delay double, arr_time int, sched_arr_time int, "
        "arr_delay double, air_time double, distance double, speed_mph double, "
        "cancelled boolean, delayed boolean, year int, month int, day int, hour int, "
        "minute int, data_year int, data_month int, process_year int, process_month int, "
        "process_day int",
    )
    result = T.transform_dataset(raw, FLIGHTS, RUN_DATE, references, T.dataset_steps(FLIGHTS))
    assertDataFrameEqual(result, expected)
    assert result.columns == expected.columns


def test_daily_delays_count_flights_and_cancellations_per_day_airport_and_airline(spark):
    at = datetime(2026, 11, 20, 8, 0)
    curated = spark.createDataFrame(
        [
            (at, "EWR", "United Air Lines Inc.", False, 10.0, 20.0, True, 2026, 11, 26),
            (at, "EWR", "United Air Lines Inc.", False, 0.0, -10.0, False, 2026, 11, 26),
            (at, "EWR", "United Air Lines Inc.", True, None, None, None, 2026, 11, 26),
            (at, "JFK", None, False, 5.0, 16.0, True, 2026, 11, 26),
        ],
        "scheduled_departure timestamp, origin string, airline string, cancelled boolean, "
        "dep_delay double, arr_delay double, delayed boolean, process_year int, "
        "process_month int, process_day int",
    )
    expected = spark.createDataFrame(
        [
            (date(2026, 11, 20), "EWR", "United Air Lines Inc.", 3, 1, 5.0, 5.0, 0.5, 2026, 11, 26),
            (date(2026, 11, 20), "JFK", "UNKNOWN", 1, 0, 5.0, 16.0, 0.0, 2026, 11, 26),
        ],
        "flight_date date, origin string, airline string, flights bigint, "
        "cancelled_flights bigint, average_departure_delay double, "
        "average_arrival_delay double, on_time_share double, process_year int, "
        "process_month int, process_day int",
    )
    (daily_delays,) = FLIGHTS.summaries
    assertDataFrameEqual(summarise(curated, daily_delays), expected)


# --- the spec: references joined on a column of another name ------------------------------


def test_the_spec_round_trips_with_join_on_and_renamed_columns():
    document = spec_document(FLIGHTS)
    assert document["references"][1] == {
        "table": "airports",
        "file": "reference/airports.csv",
        "key": ["faa"],
        "join_on": ["dest"],
        "columns": {"name": "dest_name", "tzone": "dest_tzone"},
    }
    assert spec_from_document(document, FLIGHTS.folder) == FLIGHTS


def test_join_on_must_name_one_feed_column_per_key_column(tmp_path):
    spec = FLIGHTS.folder.joinpath("dataset.yaml").read_text("utf-8")
    broken = spec.replace("join_on: dest ", "join_on: [dest, origin] ")
    assert broken != spec
    shutil.copytree(Path(str(FLIGHTS.folder)), tmp_path / "flights")
    (tmp_path / "flights/dataset.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(SpecError, match=r"references\.1\.join_on: 2 column\(s\)"):
        read_spec_file(tmp_path / "flights/dataset.yaml")


# --- the quality Lambda reads NA as null, as the Spark gate does ---------------------------


def test_the_quality_lambda_scores_na_as_the_spark_gate_does(spark, feed, monkeypatch):
    import boto3
    from moto import mock_aws

    from etl.lambdas import quality_check
    from etl.stages.quality import profile, quality_score

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    expected = quality_score(
        profile(read_raw(spark, str(feed), "csv", infer_csv_types=True, dataset=FLIGHTS))
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="raw")
        s3.put_object(Bucket="raw", Key="incoming/flights/flights.csv", Body=feed.read_bytes())
        event = {
            "inputData": {"bucket": "raw", "key": "incoming/flights/flights.csv"},
            "validationResult": {"dataFormat": "csv"},
        }
        result = quality_check.handler(event, None)
    assert result["nullPercentage"] > 0
    assert result["qualityScore"] == expected


# --- end to end: etl run, etl query, a rerun -----------------------------------------------


def expected_curated(records: list[dict]) -> list[dict]:
    """What curated must hold: one row per key of the in-scope flights of the last 90 days."""
    start = datetime.combine(RUN_DATE - timedelta(days=90), datetime.min.time())
    end = datetime.combine(RUN_DATE + timedelta(days=1), datetime.min.time())
    kept = {
        key_of(r): r for r in records if r["origin"] in NEW_YORK and start <= scheduled(r) < end
    }
    return list(kept.values())


def run(file: Path, lake_root: Path, *extra: str) -> int:
    return main(
        [
            "run", str(file), "--dataset", "flights", "--lake", str(lake_root),
            "--run-date", RUN_DATE.isoformat(), *extra,
        ]
    )  # fmt: skip


def query(lake_root: Path, sql: str, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["query", "--lake", str(lake_root), "--json", sql]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def flights_run(feed, tmp_path_factory):
    """One successful run of the flights sample: its lake and --json summary."""
    root = tmp_path_factory.mktemp("flights-lake")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert run(feed, root, "--json") == 0, err.getvalue()[-2000:]
    return root, json.loads(out.getvalue())


def test_a_run_lands_the_file_under_its_dataset_and_succeeds(feed, flights_run):
    root, summary = flights_run
    assert summary["status"] == "SUCCEEDED"
    assert (root / "raw/incoming/flights/flights.csv").read_bytes() == feed.read_bytes()
    day = "process_year=2026/process_month=11/process_day=26"
    assert list((root / CURATED / day).glob("*.snappy.parquet"))
    assert list((root / "analytics/daily_delays" / day).glob("*.snappy.parquet"))


def test_curated_holds_each_in_scope_flight_once_with_na_delays_as_null_numbers(
    spark, feed, flights_run
):
    root, summary = flights_run
    records = generate_flights(400, RUN_DATE)
    expected = expected_curated(records)
    curated = spark.read.parquet(str(root / CURATED))
    assert curated.schema["dep_delay"].dataType == DoubleType()
    assert curated.schema["dep_time"].dataType == IntegerType()
    assert curated.count() == len(expected) < len(records)
    cancelled = sum(r["dep_delay"] is None for r in expected)
    assert curated.where("dep_delay IS NULL").count() == cancelled > 0
    stages = {s["stage"]: s for s in summary["stages"]}
    assert stages["RunETLJob"]["rows_out"] == len(expected)


def test_query_sees_the_curated_table_and_the_daily_delays(feed, flights_run, capsys):
    root, _ = flights_run
    expected = expected_curated(generate_flights(400, RUN_DATE))
    rows = query(root, "SELECT count(*) AS n FROM etl_pipeline.flights", capsys)
    assert rows == [{"n": len(expected)}]
    totals = query(
        root,
        "SELECT sum(flights) AS flights, sum(cancelled_flights) AS cancelled, "
        "count(DISTINCT origin) AS origins FROM etl_pipeline.daily_delays",
        capsys,
    )
    cancelled = sum(r["dep_time"] is None for r in expected)
    assert totals == [{"flights": len(expected), "cancelled": cancelled, "origins": 3}]


def test_running_the_same_file_twice_leaves_the_counts_unchanged(
    feed, flights_run, tmp_path, capsys
):
    root, _ = flights_run
    shutil.copytree(root, tmp_path / "lake")
    sql = (
        "SELECT (SELECT count(*) FROM etl_pipeline.flights) AS flights, "
        "(SELECT sum(flights) FROM etl_pipeline.daily_delays) AS summarised"
    )
    before = query(tmp_path / "lake", sql, capsys)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run(feed, tmp_path / "lake") == 0
    assert query(tmp_path / "lake", sql, capsys) == before
