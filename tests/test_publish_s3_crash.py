"""kill -9 at every step of a deployed (S3 + Glue catalog) publish: a reader of the catalog
sees each partition old or new, never a mix, and later publishes collect what the killed
one left (its unswitched version, the version it replaced, its staging) once the grace
period is over, without ever deleting what the catalog points at.

moto stands in for S3 and the Glue Data Catalog (a moto server the child process reaches
through ``AWS_ENDPOINT_URL``). The publish runs in a child Python process that
``ETL_TEST_KILL_AT`` kills at the named step; each child is bounded by a timeout. Time
after the kill is the test's clock, moved forward, never slept.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from s3_support import BUCKET, HOUR, TABLE, fresh_lake, object_keys

from etl.storage.staging import claim_staging

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60

# The publish of a.json's new rows into day 26, which also moves a.json out of day 27.
OLD = {26: {1, 2, 5}, 27: {3, 6}}  # a.json: 1, 2 (day 26) and 3 (day 27); b.json: 5, 6
NEW = {26: {10, 11, 5}, 27: {6}}

CHILD = """
import sys
import boto3
from etl.storage.catalog import GlueCatalog, GlueTable
from etl.storage.publish import publish_staged
from etl.storage.publish_s3 import Retention
from etl.storage.staging import claim_staging
staging, table_path, source = sys.argv[1:4]
table = GlueTable(GlueCatalog(boto3.client("glue")), "etl_pipeline", "orders", table_path)
claim_staging(staging, ("transform", "jr_killed"))
retention = Retention(grace_seconds=3600, run_state=lambda job, run: None)
publish_staged(staging, table_path, 3, source, table=table, retention=retention)
"""

STEPS = [
    "publish-begin",
    "repaired",
    "built#1",  # the new version written, the catalog not yet switched to it
    "swapped#1",  # switched, the replaced version not yet stamped retired
    "published",
    "built-elsewhere",
    "swapped#2",
    "staging-removed",
]


@pytest.fixture
def lake(s3_lake_bucket):
    with fresh_lake(s3_lake_bucket) as lake:
        lake.publish("a.json", {26: [1, 2], 27: [3]})
        lake.publish("b.json", {26: [5], 27: [6]})
        assert lake.seen() == OLD
        yield lake


@pytest.mark.parametrize("step", STEPS)
def test_a_publish_killed_at_any_step_leaves_old_or_new_and_its_garbage_is_collected(lake, step):
    staging = lake.stage({26: [10, 11]}, "jr_killed")
    env = os.environ | {"PYTHONPATH": str(ROOT), "ETL_TEST_KILL_AT": step}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, staging, TABLE, "a.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert child.returncode == -9, child.stderr  # killed where asked, not finished or failed

    seen = lake.seen()
    for day in (26, 27):
        assert seen[day] in (OLD[day], NEW[day]), f"day {day} killed at {step}: {seen[day]}"

    # The next publishes: the killed run is no longer running, another one still is.
    lake.run_states |= {"jr_killed": "FAILED", "jr_live": "RUNNING"}
    claim_staging(lake.stage({28: [99]}, "jr_live"), ("transform", "jr_live"), now=lake.clock())
    lake.publish("c.json", {29: [7]})
    assert lake.seen() == seen | {29: {7}}  # nothing the catalog points at changed
    lake.clock.now += HOUR + 60
    lake.publish("d.json", {30: [8]})

    assert lake.seen() == seen | {29: {7}, 30: {8}}
    pointed = {loc.removeprefix(f"s3://{BUCKET}/") for loc in lake.locations().values()}
    versions = {k.rsplit("/", 1)[0] for k in object_keys(lake.s3, BUCKET, "processed/")}
    assert versions == pointed  # every unswitched and replaced version is gone
    staging_runs = {k.split("/")[1] for k in object_keys(lake.s3, BUCKET, "_staging/")}
    assert staging_runs == {"jr_live", "jr_live.owner"}


def test_a_version_written_but_not_switched_to_is_kept_through_the_grace_period(lake):
    """The orphan of a kill between writing a version and switching the catalog to it is
    unreferenced from the start; the next publish starts its grace period, a publish after
    it deletes it."""
    before = lake.locations()
    staging = lake.stage({26: [10, 11]}, "jr_killed")
    env = os.environ | {"PYTHONPATH": str(ROOT), "ETL_TEST_KILL_AT": "built#1"}
    subprocess.run(
        [sys.executable, "-c", CHILD, staging, TABLE, "a.json"],
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert lake.locations() == before and lake.seen() == OLD
    day_26 = before[26].removeprefix(f"s3://{BUCKET}/").rsplit("/", 1)[0]
    [orphan] = (
        {
            k.rsplit("/", 1)[0]
            for k in object_keys(lake.s3, BUCKET, f"{day_26}/_v-")
            if not k.endswith(".retired")
        }
        - {before[26].removeprefix(f"s3://{BUCKET}/")}
        - _retired(lake, day_26)
    )

    lake.publish("c.json", {29: [7]})
    lake.clock.now += HOUR - 60
    lake.publish("d.json", {30: [8]})
    assert object_keys(lake.s3, BUCKET, f"{orphan}/")
    lake.clock.now += 120
    lake.publish("e.json", {31: [9]})
    assert object_keys(lake.s3, BUCKET, f"{orphan}/") == []
    assert lake.seen() == OLD | {29: {7}, 30: {8}, 31: {9}}


def _retired(lake, partition: str) -> set[str]:
    """Versions of ``partition`` already replaced by earlier publishes (stamped retired)."""
    stamps = object_keys(lake.s3, BUCKET, f"{partition}/_v-")
    return {k.removesuffix(".retired") for k in stamps if k.endswith(".retired")}
