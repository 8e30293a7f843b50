"""A source is its landing key + object version: a daily feed that re-uses a name keeps every
day's rows, and re-running one version replaces only that version's rows."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from orders_support import order
from pyspark.sql import functions as F

from etl.cli.main import main, render_summary
from etl.core.datasets import get_dataset
from etl.core.errors import EtlError
from etl.jobs.glue_job import JobRun, ensure_raw_table, job_source
from etl.jobs.transform import run_transform_job
from etl.lambdas import trigger
from etl.local.pipeline import RunResult
from etl.local.services import LocalServices
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, land_file, raw_versions

ORDERS = get_dataset("orders")
DAY_1, DAY_2 = date(2026, 11, 25), date(2026, 11, 26)


def day_file(folder: Path, first_id: int, clean: int) -> Path:
    """``orders.json`` as a daily feed delivers it: ``clean`` good orders and one rejected."""
    records = [order(i) for i in range(first_id, first_id + clean)]
    records.append(order(first_id + clean, status="CANCELLED"))
    path = folder / "orders.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def run_job(spark, lake: Lake, landed: str, run_date: date, run_id: str):
    catalog = LocalCatalog(lake)
    ensure_raw_table(spark, catalog, ORDERS, landed)
    return run_transform_job(spark, lake, catalog, ORDERS, landed, run_date, run_id)


def rows_per_day(spark, path: str, column: str | None = None) -> dict[int, int]:
    """Rows (or the sum of ``column``) per processing day of a table's Parquet files."""
    measure = f"sum({column})" if column else "count(*)"
    frame = spark.read.parquet(path).groupBy("process_day").agg(F.expr(measure))
    return {day: int(value) for day, value in frame.collect()}


def counts(spark, lake: Lake) -> tuple[dict, dict, dict]:
    curated = rows_per_day(spark, lake.curated_table_path(ORDERS.curated_table))
    summary = rows_per_day(spark, lake.analytics_table_path("daily_sales"), "orders")
    quarantine = rows_per_day(spark, lake.quarantine_table_path(ORDERS.name))
    return curated, summary, quarantine


@pytest.fixture(scope="module")
def daily_feed(spark, tmp_path_factory):
    """Two days of one feed under one name, each landed and run on its own date."""
    folder = tmp_path_factory.mktemp("feed")
    lake = Lake.local(folder / "lake").ensure()
    day_1 = land_file(str(day_file(folder, 100, 20)), lake)
    first = run_job(spark, lake, day_1, DAY_1, "day-1")
    day_2 = land_file(str(day_file(folder, 200, 15)), lake)
    second = run_job(spark, lake, day_2, DAY_2, "day-2")
    return lake, folder, day_1, day_2, first, second


def test_a_re_used_key_with_new_bytes_is_a_new_source_and_both_days_keep_their_rows(
    spark, daily_feed
):
    lake, _, _, _, first, second = daily_feed
    curated, summary, quarantine = counts(spark, lake)
    assert curated == {25: 20, 26: 15}
    assert summary == curated  # analytics counts every row once
    assert quarantine == {25: 1, 26: 1}
    assert (first.records_written, second.records_written) == (20, 15)


def test_the_raw_zone_keeps_both_versions_unchanged(daily_feed):
    lake, _, day_1, day_2, _, _ = daily_feed
    assert raw_versions(lake, "incoming/orders.json") == [day_1, day_2]
    ids = [json.loads(line)["id"] for line in Path(day_1).read_text().splitlines()]
    assert ids[:2] == [100, 101]  # day 1's bytes, after day 2 landed under the same name
    assert Path(lake.landing_path("orders.json")).read_bytes() == Path(day_2).read_bytes()


def test_each_version_names_its_own_rows(spark, daily_feed):
    lake, _, day_1, day_2, _, _ = daily_feed
    quarantine = spark.read.parquet(lake.quarantine_table_path(ORDERS.name))
    assert {r.source_key for r in quarantine.select("source_key").collect()} == {
        lake.source(day_1),
        lake.source(day_2),
    }
    assert lake.source(day_1) == f"incoming/orders.json?versionId={lake.raw_version(day_1)}"


def test_re_running_one_version_replaces_only_its_rows(spark, daily_feed):
    lake, folder, day_1, _, _, _ = daily_feed
    before = counts(spark, lake)
    again = land_file(str(day_file(folder, 100, 20)), lake)  # day 1's bytes re-delivered
    assert again == day_1  # the same version, not a third one
    run_job(spark, lake, again, DAY_1, "day-1-again")
    assert counts(spark, lake) == before
    assert len(raw_versions(lake, "incoming/orders.json")) == 2


def test_re_running_one_version_on_another_day_moves_only_its_rows(spark, tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    day_1 = land_file(str(day_file(tmp_path, 100, 20)), lake)
    run_job(spark, lake, day_1, DAY_1, "day-1")
    day_2 = land_file(str(day_file(tmp_path, 200, 15)), lake)
    run_job(spark, lake, day_2, DAY_2, "day-2")
    run_job(spark, lake, day_1, DAY_2, "day-1-on-day-2")  # an older version, re-driven
    curated, summary, quarantine = counts(spark, lake)
    assert curated == {26: 35}  # day 1's rows left the 25th; day 2's stayed
    assert summary == curated
    assert quarantine == {26: 2}


# --- the version travels with the event ---------------------------------------------------
def eventbridge_event(version_id: str | None, etag: str = "d41d8cd98f00b204e9800998ecf8427e"):
    """An EventBridge "Object Created" event as S3 sends it (a versioned bucket's)."""
    obj = {"key": "incoming/orders.json", "size": 120, "etag": etag, "sequencer": "0062E99A88DC"}
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": "2d4eba74-fd51-3966-4bfa-b013c9da8ff1",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-26T06:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::etl-raw"],
        "detail": {
            "version": "0",
            "bucket": {"name": "etl-raw"},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "203.0.113.15",
            "reason": "PutObject",
        },
    }


def test_the_trigger_puts_the_event_version_in_the_execution_input():
    (landed,) = trigger.landed_objects(eventbridge_event("3HL4kqtJvjVBH40Nrjfkd"))
    payload = trigger.execution_input(
        landed["bucket"], landed["key"], landed["etag"], landed["size"], DAY_2, landed["version_id"]
    )
    assert payload["inputData"] == {
        "bucket": "etl-raw",
        "key": "incoming/orders.json",
        "etag": "d41d8cd98f00b204e9800998ecf8427e",
        "size": 120,
        "versionId": "3HL4kqtJvjVBH40Nrjfkd",
        "version": "3HL4kqtJvjVBH40Nrjfkd",
    }


def test_without_versioning_the_etag_is_the_version():
    for unversioned in (None, "null"):  # no version-id, or a bucket with versioning suspended
        (landed,) = trigger.landed_objects(eventbridge_event(unversioned))
        assert landed["version_id"] == ""
    payload = trigger.execution_input("b", "incoming/orders.json", '"e1"', 1, DAY_2)
    assert "versionId" not in payload["inputData"] and payload["inputData"]["version"] == "e1"


def test_two_versions_with_the_same_bytes_start_two_executions_and_a_repeat_none():
    names = [trigger.execution_name("incoming/orders.json", "e", v) for v in ("v1", "v2", "v1")]
    assert names[0] != names[1] and names[0] == names[2]


# --- the local S3 stand-in is a versioned bucket -----------------------------------------
def test_the_local_raw_bucket_answers_get_by_version_id(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    day_1 = land_file(str(day_file(tmp_path, 100, 2)), lake)
    day_2 = land_file(str(day_file(tmp_path, 200, 2)), lake)
    services = LocalServices(lake, spark_factory=lambda: None, echo=False)
    bucket, key = services.names.bucket("raw"), "incoming/orders.json"
    old = services.get_object({"Bucket": bucket, "Key": key, "VersionId": lake.raw_version(day_1)})
    assert old["Body"].read() == Path(day_1).read_bytes()
    current = services.head_object({"Bucket": bucket, "Key": key})
    assert current["VersionId"] == lake.raw_version(day_2)


@pytest.mark.parametrize("version", ["0000000000000000", "../../../etc", ""])
def test_an_unknown_or_path_like_version_is_no_such_version(tmp_path, version):
    from etl.local.moto_adapter import AwsServiceError

    lake = Lake.local(tmp_path / "lake").ensure()
    land_file(str(day_file(tmp_path, 100, 2)), lake)
    services = LocalServices(lake, spark_factory=lambda: None, echo=False)
    params = {"Bucket": services.names.bucket("raw"), "Key": "incoming/orders.json"}
    if not version:  # no VersionId: the current object
        assert services.head_object(params)["ContentLength"] > 0
        return
    with pytest.raises(AwsServiceError, match="NoSuchVersion"):
        services.get_object(params | {"VersionId": version})


# --- the deployed job checks the version it reads ----------------------------------------
def s3_run(version: str) -> JobRun:
    return JobRun(
        "transform",
        "s3://etl-raw/incoming/orders.json",
        "s3://etl-raw",
        "s3://etl-curated",
        "s3://etl-analytics",
        "etl_pipeline",
        DAY_2,
        "orders",
        "jr_1",
        source_version=version,
    )


@pytest.fixture
def versioned_raw(monkeypatch):
    """An S3 client on moto (a stand-in for AWS) with a versioned raw bucket, ``etl-raw``."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="etl-raw")
        s3.put_bucket_versioning(Bucket="etl-raw", VersioningConfiguration={"Status": "Enabled"})
        yield s3


def test_the_deployed_job_reads_the_current_object_only_when_it_is_its_version(versioned_raw):
    key = "incoming/orders.json"
    day_1 = versioned_raw.put_object(Bucket="etl-raw", Key=key, Body=b"day 1\n")["VersionId"]
    day_2 = versioned_raw.put_object(Bucket="etl-raw", Key=key, Body=b"day 2\n")["VersionId"]
    lake = Lake.s3("s3://etl-raw", "s3://etl-curated", "s3://etl-analytics")
    assert job_source(s3_run(day_2), lake) == "s3://etl-raw/incoming/orders.json"
    with pytest.raises(EtlError, match=f"is now version {day_2}, not {day_1}"):
        job_source(s3_run(day_1), lake)


# --- end to end: etl run ------------------------------------------------------------------
def etl(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    assert code == 0, err.getvalue()
    return out.getvalue()


@pytest.mark.slow
def test_etl_run_of_a_daily_feed_keeps_every_day_and_names_each_version(tmp_path):
    lake = tmp_path / "lake"
    reports = []
    for first_id, clean, day in ((100, 20, DAY_1), (200, 15, DAY_2)):
        (tmp_path / str(day)).mkdir()
        source = day_file(tmp_path / str(day), first_id, clean)
        run = ["run", str(source), "--lake", str(lake), "--run-date", day.isoformat()]
        reports.append(json.loads(etl(*run, "--json")))
    assert [r["key"] for r in reports] == ["incoming/orders.json"] * 2
    assert reports[0]["version"] != reports[1]["version"]
    assert [r["rows"]["written"] for r in reports] == [20, 15]

    def query(sql: str) -> list:
        return [
            list(row.values())
            for row in json.loads(etl("query", sql, "--lake", str(lake), "--json"))
        ]

    by_day = "SELECT process_day, {} FROM etl_pipeline.{} GROUP BY 1 ORDER BY 1"
    assert query(by_day.format("count(*)", "orders")) == [[25, 20], [26, 15]]
    assert query(by_day.format("sum(orders)", "daily_sales")) == [[25, 20], [26, 15]]
    kept = raw_versions(Lake.local(lake), "incoming/orders.json")
    assert [Lake.local(lake).raw_version(k) for k in kept] == [r["version"] for r in reports]


def test_the_run_summary_names_the_source_key_and_version():
    result = RunResult(
        "run-1",
        "orders.json",
        "2026-11-26",
        "SUCCEEDED",
        key="incoming/orders.json",
        version="5c1f",
    )
    assert "source:   incoming/orders.json version 5c1f" in render_summary(result).splitlines()


# --- the Lambdas read the version their execution is for ---------------------------------
def test_the_lambdas_read_the_execution_version_not_a_newer_one(versioned_raw):
    from etl.lambdas import quality_check, validation

    key = "incoming/orders.json"
    day_1 = b'{"id": 1}\n{"id": 2}\n{"id": 3}\n'
    first = versioned_raw.put_object(Bucket="etl-raw", Key=key, Body=day_1)["VersionId"]
    versioned_raw.put_object(Bucket="etl-raw", Key=key, Body=b"not json at all")  # lands next
    event = {"inputData": {"bucket": "etl-raw", "key": key, "versionId": first}}
    checked = validation.handler(event)
    scored = quality_check.handler(event | {"validationResult": checked})
    assert checked["isValid"] and checked["fileSize"] == len(day_1)
    assert scored["totalRecords"] == 3


def test_the_local_job_reads_the_kept_copy_of_its_version(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    day_1 = land_file(str(day_file(tmp_path, 100, 2)), lake)
    land_file(str(day_file(tmp_path, 200, 2)), lake)

    def local_run(version: str) -> JobRun:
        key_path = lake.landing_path("orders.json")
        return JobRun(
            "local", key_path, lake.raw, lake.curated, lake.analytics, "etl_pipeline", DAY_2,
            "orders", "jr_1", source_version=version,
        )  # fmt: skip

    assert job_source(local_run(lake.raw_version(day_1)), lake) == day_1
    with pytest.raises(EtlError, match=r"version 0000 of raw/incoming/orders\.json is not in"):
        job_source(local_run("0000"), lake)
