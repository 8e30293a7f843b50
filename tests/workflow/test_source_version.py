"""The state machine passes the object version to the Glue job, which reads that version."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from orders_support import order
from workflow_support import local_workflow

from etl.storage.lake import Lake, land_file

DAY_2 = date(2026, 11, 26)


def day_file(folder: Path, first_id: int, count: int) -> Path:
    records = [order(i) for i in range(first_id, first_id + count)]
    path = folder / "orders.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_the_workflow_passes_the_version_to_the_job_which_reads_that_version(spark, tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    day_1 = land_file(str(day_file(tmp_path, 100, 20)), lake)
    land_file(str(day_file(tmp_path, 200, 15)), lake)  # the key's current object is now day 2's
    read: list[str] = []

    def job(spark, lake, catalog, dataset, uri, run_date, run_id, **kwargs):
        read.append(uri)

    with local_workflow(spark, lake, transform_job=job) as workflow:
        record = workflow.run_landed(day_1, DAY_2)
    assert record["execution"]["status"] == "SUCCEEDED"
    job_arguments = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["Arguments"]
        for e in record["events"]
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "glue"
    ]
    assert [a["--source-version"] for a in job_arguments] == [lake.raw_version(day_1)]
    assert read == [day_1]  # the day-1 version's own copy, not the key's current object
