"""Deployed, one transform job runs at a time (MaxConcurrentRuns 1): a second execution's
RunETLJob waits, retrying ConcurrentRunsExceeded, and its history shows it. Executed by moto's
Step Functions from the definition file (retry intervals time-compressed)."""

from __future__ import annotations

import json
from pathlib import Path

from workflow_support import RUN_DATE, states_visited, write_json_lines

from etl.deploy.emulator import load_template
from etl.jobs.transform import JobOutcome
from etl.local.moto_adapter import AwsServiceError
from etl.local.runner import LocalWorkflow
from etl.local.services import LocalServices
from etl.storage.lake import land_file

ROOT = Path(__file__).resolve().parents[2]


class GlueBusyFor(LocalServices):
    """The Glue API while another run of the job holds its only slot, for ``busy`` calls."""

    busy: int = 0

    def start_job_run(self, params: dict) -> dict:
        if self.busy:
            self.busy -= 1
            raise AwsServiceError(
                "ConcurrentRunsExceededException",
                f"Concurrent runs exceeded for {params['JobName']}",
            )
        return super().start_job_run(params)


def test_a_second_execution_waits_for_the_job_slot_then_runs(spark, lake, tmp_path):
    def job(*_args) -> JobOutcome:
        return JobOutcome(records_written=1, curated=[], analytics=[])

    services = GlueBusyFor(lake, spark_factory=lambda: spark, echo=False, transform_job=job)
    services.busy = 3
    source = write_json_lines(
        tmp_path / "orders.json",
        [{"id": 1, "status": "ACTIVE", "created_date": "2026-11-25 10:00:00"}],
    )
    with LocalWorkflow(lake, spark=spark, services=services, echo=False) as workflow:
        record = workflow.run_landed(land_file(str(source), lake), RUN_DATE)
    failures = [
        e["taskFailedEventDetails"]["error"] for e in record["events"] if e["type"] == "TaskFailed"
    ]
    assert failures == ["Glue.ConcurrentRunsExceededException"] * 3  # visible while it waits
    assert record["execution"]["status"] == "SUCCEEDED"
    assert "UpdateDataCatalog" in states_visited(record)


def test_the_wait_outlasts_a_whole_job_run():
    """The retries add up to more than the job's timeout, so a waiting execution does not
    give up while the run ahead of it may still be legitimately running."""
    definition = json.loads((ROOT / "infra/statemachine/etl_workflow.asl.json").read_text())
    [retrier] = [
        r
        for r in definition["States"]["RunETLJob"]["Retry"]
        if "Glue.ConcurrentRunsExceededException" in r["ErrorEquals"]
    ]
    waits = [
        retrier["IntervalSeconds"] * retrier["BackoffRate"] ** n
        for n in range(retrier["MaxAttempts"])
    ]
    template = load_template(ROOT / "infra/glue.yaml")
    job = template["Resources"]["TransformJob"]["Properties"]
    assert job["ExecutionProperty"]["MaxConcurrentRuns"] == 1
    assert sum(waits) > job["Timeout"] * 60
