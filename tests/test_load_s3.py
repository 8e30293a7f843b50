"""The deployed (S3 + Glue Data Catalog) publish: immutable partition versions, one catalog
switch per partition, and the garbage they leave collected after a grace period.

moto stands in for S3 and for the Glue Data Catalog (one local moto server; pyarrow and
boto3 reach it through ``AWS_ENDPOINT_URL``). Spark cannot write to S3 here (no s3a jars),
so the staging objects are Parquet put with pyarrow, as Glue's Spark would leave them;
``publish_staged`` is the code the Glue job runs after it. What a reader sees is read the
way Athena reads a partition: the Parquet files directly under the location the catalog
gives for it. Time is a clock the tests move, never a sleep.
"""

from __future__ import annotations

import json

import pytest
from pyspark.sql.types import StructField, StructType
from s3_support import BUCKET, DAY, HOUR, TABLE, fresh_lake, object_keys, parquet

from etl.core.errors import EtlError
from etl.storage import publish_s3
from etl.storage.publish import clear_partition, publish_staged
from etl.storage.publish_s3 import Retention
from etl.storage.staging import (
    OWNER_SUFFIX,
    PARQUET_SUFFIX,
    claim_staging,
    glue_job_run,
    source_id,
)


@pytest.fixture
def lake(s3_lake_bucket):
    with fresh_lake(s3_lake_bucket) as lake:
        yield lake


def test_a_publish_writes_a_version_and_points_the_catalog_partition_at_it(lake):
    [published] = lake.publish("s3://raw/incoming/a.json", {26: [1, 2]})
    location = lake.locations()[26]
    assert location == published.location
    assert location.startswith(f"{TABLE}/{DAY.format(26)}/_v-")
    assert (published.values, published.files) == (["2026", "11", "26"], 1)
    assert lake.seen() == {26: {1, 2}}
    name = source_id("s3://raw/incoming/a.json")
    assert object_keys(lake.s3, BUCKET, location.removeprefix(f"s3://{BUCKET}/")) == [
        f"{location.removeprefix(f's3://{BUCKET}/')}/{name}-part-00000{PARQUET_SUFFIX}"
    ]
    assert object_keys(lake.s3, BUCKET, "_staging/") == []  # staging and its owner mark


def test_republishing_switches_the_catalog_to_the_new_rows_and_keeps_the_old_until_collected(
    lake,
):
    lake.publish("a.json", {26: [1, 2]})
    lake.publish("b.json", {26: [5]})
    before = lake.locations()[26]
    lake.publish("a.json", {26: [10, 11]})
    after = lake.locations()[26]
    assert after != before
    assert lake.rows_at(after) == {10, 11, 5}
    assert lake.rows_at(before) == {1, 2, 5}  # a query planned before the switch still reads

    lake.clock.now += HOUR - 60  # within the grace period: nothing goes
    lake.publish("c.json", {27: [7]})
    assert lake.rows_at(before) == {1, 2, 5}

    lake.clock.now += 120  # past it: every superseded version goes, the pointed ones stay
    lake.publish("d.json", {28: [8]})
    assert not lake.exists(before)
    assert lake.seen() == {26: {10, 11, 5}, 27: {7}, 28: {8}}
    pointed = {loc.removeprefix(f"s3://{BUCKET}/") for loc in lake.locations().values()}
    versions = {k.rsplit("/", 1)[0] for k in object_keys(lake.s3, BUCKET, "processed/")}
    assert versions == pointed  # nothing else is left under the table


def test_a_rerun_of_a_source_replaces_only_its_own_rows(lake):
    lake.publish("incoming/feedA/orders.json", {26: [1, 2]})
    lake.publish("incoming/feedB/orders.json", {26: [5]})
    lake.publish("incoming/feedA/orders.json", {26: [3]})
    assert lake.seen() == {26: {3, 5}}


def test_a_rerun_on_another_day_moves_its_rows_and_keeps_the_others(lake):
    lake.publish("a.json", {26: [1, 2]})
    lake.publish("b.json", {26: [5]})
    published = lake.publish("a.json", {27: [1, 2]})
    assert lake.seen() == {26: {5}, 27: {1, 2}}
    moved = [p for p in published if p.moved_out]
    assert [(p.values, p.files, p.location) for p in moved] == [
        (["2026", "11", "26"], 1, lake.locations()[26])
    ]


def test_a_rerun_finds_its_rows_in_the_tables_one_listing_not_by_listing_each_partition(
    lake, monkeypatch
):
    for day in range(1, 13):
        lake.publish(f"day{day}.json", {day: [day]})
    lake.publish("extra.json", {5: [50]})
    before = lake.locations()
    listed: list[str] = []
    real = publish_s3.list_files
    monkeypatch.setattr(publish_s3, "list_files", lambda f: listed.append(f) or real(f))
    published = lake.publish("day3.json", {13: [3]})  # day 3's source again, on day 13
    expected = {day: {day} for day in range(1, 13) if day != 3} | {13: {3}}
    assert lake.seen() == expected | {5: {5, 50}}
    assert [p.values[-1] for p in published if p.moved_out] == ["3"]
    # With a dozen partitions, one listing of the table told which of them held the source.
    assert listed  # the staged partition's files: what the publish still lists one by one
    assert not {f.rstrip("/") for f in listed} & {loc.rstrip("/") for loc in before.values()}


def test_the_tables_listing_lists_a_version_written_after_it_afresh(lake):
    lake.publish("a.json", {26: [1]})
    listing = publish_s3._list_table(TABLE, 3)
    lake.publish("b.json", {27: [2]})  # written after the listing
    seen, unseen = lake.locations()[26], lake.locations()[27]
    assert unseen.rstrip("/") not in listing.objects
    for location, source in ((seen, "a.json"), (unseen, "b.json")):
        assert listing.data_files(location) == [f"{source_id(source)}-part-00000{PARQUET_SUFFIX}"]


def test_a_partition_a_rerun_empties_leaves_the_catalog_then_its_data_goes(lake):
    lake.publish("a.json", {26: [1, 2]})
    emptied = lake.locations()[26]
    published = lake.publish("a.json", {27: [1, 2]})
    assert lake.seen() == {27: {1, 2}}  # day 26 is out of the catalog
    [moved] = [p for p in published if p.moved_out]
    assert (moved.values, moved.files, lake.rows_at(moved.location)) == (
        ["2026", "11", "26"],
        0,
        set(),
    )
    assert lake.exists(emptied)  # a query planned before may still read it
    lake.clock.now += 2 * HOUR
    lake.publish("b.json", {28: [8]})
    assert not lake.exists(emptied)


def test_an_additive_publish_keeps_the_source_in_other_partitions(lake):
    lake.publish("daily_sales", {26: [1]})
    lake.publish("daily_sales", {27: [2]}, replace_elsewhere=False)
    assert lake.seen() == {26: {1}, 27: {2}}


def test_clearing_a_partition_takes_it_out_of_the_catalog(lake):
    lake.publish("daily_sales", {26: [1]})
    old = lake.locations()[26]
    clear_partition(f"{TABLE}/{DAY.format(26)}", lake.table, lake.retention)
    assert lake.seen() == {}
    assert lake.exists(old)  # until the grace period is over
    lake.clock.now += 2 * HOUR
    lake.publish("b.json", {27: [2]})
    assert not lake.exists(old)


def test_a_partition_published_before_versions_is_kept_until_replaced(lake):
    """A lake written by the earlier, in-place publish: files directly in the partition
    folder, which the catalog points at. Collection never touches what is pointed at; the
    first versioned publish keeps those rows, and the old files go after the grace."""
    folder = f"processed/orders/{DAY.format(26)}"
    old = f"{folder}/{source_id('a.json')}-part-00000{PARQUET_SUFFIX}"
    lake.s3.put_object(Bucket=BUCKET, Key=old, Body=parquet([1, 2]))
    lake.table.point(["2026", "11", "26"], f"s3://{BUCKET}/{folder}")
    lake.clock.now += 10 * HOUR
    lake.publish("b.json", {27: [7]})
    assert lake.seen() == {26: {1, 2}, 27: {7}}

    lake.publish("c.json", {26: [5]})
    assert lake.seen() == {26: {1, 2, 5}, 27: {7}}
    assert lake.rows_at(f"s3://{BUCKET}/{folder}") == {1, 2}
    lake.clock.now += 2 * HOUR
    lake.publish("d.json", {28: [8]})
    assert lake.rows_at(f"s3://{BUCKET}/{folder}") == set()
    assert lake.seen() == {26: {1, 2, 5}, 27: {7}, 28: {8}}


def test_without_its_catalog_table_a_publish_into_s3_is_refused(lake):
    staging = lake.stage({26: [1]})
    with pytest.raises(ValueError, match="needs its catalog table"):
        publish_staged(staging, TABLE, 3, "a.json")


def test_staging_of_a_dead_run_is_collected_and_a_live_runs_is_kept(lake):
    lake.publish("a.json", {26: [1]})
    for run, state in {"jr_failed": "FAILED", "jr_running": "RUNNING"}.items():
        claim_staging(lake.stage({27: [2]}, run), ("transform", run), now=lake.clock())
        lake.run_states[run] = state
    # Runs Glue cannot tell about: their age decides (an unmarked one: its newest object's).
    old = lake.clock() - 1.5 * HOUR
    claim_staging(lake.stage({27: [3]}, "jr_old"), ("transform", "jr_old"), now=old)
    claim_staging(lake.stage({27: [4]}, "jr_young"), ("transform", "jr_young"), now=lake.clock())
    lake.stage({27: [5]}, "jr_unmarked")
    lake.publish("b.json", {28: [8]})
    assert staging_left(lake) == {"jr_running", "jr_young", "jr_unmarked"}

    lake.clock.now += 2 * HOUR
    lake.publish("c.json", {29: [9]})
    assert staging_left(lake) == {"jr_running"}


def staging_left(lake) -> set[str]:
    """The runs with staging left, each with its owner mark when it had one."""
    names = {k.split("/")[1] for k in object_keys(lake.s3, BUCKET, "_staging/")}
    runs = {n.removesuffix(OWNER_SUFFIX) for n in names}
    assert {n for n in names if n.endswith(OWNER_SUFFIX)} <= {f"{r}{OWNER_SUFFIX}" for r in runs}
    return runs


def test_a_staging_owner_mark_names_the_glue_job_run(lake):
    staging = lake.stage({26: [1]}, "jr_mark")
    claim_staging(staging, ("transform", "jr_mark"), now=1.5)
    body = lake.s3.get_object(Bucket=BUCKET, Key=f"_staging/jr_mark{OWNER_SUFFIX}")["Body"]
    mark = {"jobName": "transform", "jobRunId": "jr_mark", "created": 1.5}
    assert json.loads(body.read()) == mark


def test_the_owner_of_a_staging_prefix_is_the_glue_job_run_in_the_jobs_arguments():
    argv = ["script.py", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_42", "--JOB_NAME=transform"]
    assert glue_job_run(argv) == ("transform", "jr_42")
    assert glue_job_run(["etl"]) == ("", "")


def test_the_grace_period_comes_from_the_environment_and_a_bad_value_is_one_line(monkeypatch):
    monkeypatch.setenv("ETL_S3_GRACE_SECONDS", "90")
    assert Retention().grace_seconds == 90
    monkeypatch.setenv("ETL_S3_GRACE_SECONDS", "an hour")
    with pytest.raises(EtlError, match=r"^ETL_S3_GRACE_SECONDS='an hour' is not a number"):
        Retention()


def test_the_jobs_publish_switches_curated_and_quarantine_partitions_in_the_glue_catalog(lake):
    """The Glue job's own calls (``publish_records`` then ``_register``) on a deployed lake:
    the partitions are the ones the publish switched, not re-added at the folder."""
    from pyspark.sql.types import StringType

    from etl.core.datasets import get_dataset
    from etl.jobs.transform import Staged, Staging, _register, publish_records
    from etl.storage.lake import Lake

    deployed = Lake.s3(f"s3://{BUCKET}", f"s3://{BUCKET}", f"s3://{BUCKET}")
    dataset = get_dataset("orders")
    staging = Staging.of(deployed, "jr_job")
    rows = {"curated": [1, 2], "quarantine": [3]}
    for kind, folder in (
        ("curated", DAY.format(26)),
        ("quarantine", f"{DAY.format(26)}/rule=cast%3Aamount"),
    ):
        key = f"{getattr(staging, kind).removeprefix(f's3://{BUCKET}/')}/{folder}/part-0{PARQUET_SUFFIX}"
        lake.s3.put_object(Bucket=BUCKET, Key=key, Body=parquet(rows[kind]))
    schema = lake.table.schema
    quarantine_schema = StructType([*schema.fields, StructField("rule", StringType())])
    staged = Staged(staging, schema, quarantine_schema, profile=None)
    catalog = lake.table.catalog
    loaded = publish_records(staged, deployed, dataset, "incoming/orders.json", catalog)
    curated_path = deployed.curated_table_path(dataset.curated_table)
    _register(
        catalog, dataset.database, dataset.curated_table, schema, curated_path, loaded.curated
    )

    assert catalog.partition_locations(dataset.database, dataset.curated_table) == {
        ("2026", "11", "26"): loaded.curated[0].location
    }
    quarantine = catalog.partition_locations(dataset.database, dataset.quarantine_table)
    assert quarantine == {("2026", "11", "26", "cast:amount"): loaded.quarantine[0].location}
    assert "/rule=cast%3Aamount/_v-" in loaded.quarantine[0].location
    assert lake.rows_at(loaded.curated[0].location) == {1, 2}
    assert lake.rows_at(loaded.quarantine[0].location) == {3}
