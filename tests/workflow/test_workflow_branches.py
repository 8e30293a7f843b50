"""Every branch of the workflow, executed locally from the definition file."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from workflow_support import states_visited, write_json_lines

from etl.local.moto_adapter import AwsServiceError
from etl.local.services import default_functions

SEED_SUCCESS_PATH = [
    "ValidateInput",
    "CheckValidation",
    "DiscoverAndCheckQuality",
    "CheckDataQuality",
    "RunETLJob",
    "UpdateDataCatalog",
    "NotifySuccess",
]
# The two branches of DiscoverAndCheckQuality, each in its own order (they interleave).
CRAWLER_BRANCH = [
    "RunDataDiscovery",
    "WaitForCrawler",
    "CheckCrawlerStatus",
    "IsCrawlerComplete",
    "DidCrawlSucceed",
    "RecordRawTableVersion",
]
QUALITY_BRANCH = ["RunDataQualityCheck"]


def in_order(expected: list[str], visited: list[str]) -> bool:
    remaining = iter(visited)
    return all(state in remaining for state in expected)


def last_notification(lake) -> dict:
    lines = Path(lake.system_path("notifications", "notifications.jsonl")).read_text()
    return json.loads(lines.splitlines()[-1])["Message"]


def test_a_good_file_visits_the_seed_states_in_order_and_succeeds(
    run_workflow, small_samples, lake
):
    record = run_workflow(small_samples / "orders.json")
    visited = states_visited(record)
    assert record["execution"]["status"] == "SUCCEEDED"
    assert in_order(SEED_SUCCESS_PATH, visited) and visited[-1] == "Succeeded"
    for branch in (CRAWLER_BRANCH, QUALITY_BRANCH):
        assert in_order(["DiscoverAndCheckQuality", *branch, "CheckDataQuality"], visited)
    assert last_notification(lake)["status"] == "SUCCESS"
    assert list(Path(lake.curated_table_path("orders")).rglob("*.parquet"))


def test_a_badly_named_file_fails_through_notify_validation_failure(run_workflow, tmp_path, lake):
    record = run_workflow(write_json_lines(tmp_path / "bad\x1bname.json", [{"id": 1}]))
    assert record["execution"]["status"] == "FAILED"
    assert record["execution"]["error"] == "ValidationFailed"
    assert "invalid file name 'incoming/bad\\x1bname.json'" in record["execution"]["cause"]
    assert states_visited(record)[-2:] == ["NotifyValidationFailure", "ValidationFailed"]
    assert last_notification(lake)["status"] == "VALIDATION_FAILED"


def test_a_file_with_mostly_null_ids_and_dates_fails_through_notify_quality_failure(
    run_workflow, tmp_path, lake
):
    rows = [{"id": None, "status": "ACTIVE", "created_date": None, "region_code": "01"}] * 8
    rows += [{"id": 1, "status": "ACTIVE", "created_date": "2026-11-01 00:00:00"}]
    record = run_workflow(write_json_lines(tmp_path / "low_quality.json", rows))
    assert record["execution"]["status"] == "FAILED"
    assert record["execution"]["error"] == "QualityCheckFailed"
    assert "below the threshold 70" in record["execution"]["cause"]
    assert states_visited(record)[-2:] == ["NotifyQualityFailure", "QualityCheckFailed"]
    assert not Path(lake.curated_table_path("orders")).exists()


def test_a_failed_glue_job_run_goes_to_notify_failure(run_workflow, small_samples, lake):
    def job_that_fails(*args):
        raise OSError("No space left on device")

    record = run_workflow(small_samples / "orders.csv", transform_job=job_that_fails)
    assert record["execution"]["status"] == "FAILED"
    assert record["execution"]["error"] == "PipelineFailed"
    assert record["execution"]["cause"].startswith("States.TaskFailed: ")
    assert "No space left on device" in record["execution"]["cause"]
    assert states_visited(record)[-4:] == [
        "RunETLJob",
        "DidJobQualityGateFail",
        "NotifyFailure",
        "PipelineFailed",
    ]
    assert last_notification(lake)["status"] == "FAILED"


def test_the_glue_jobs_own_quality_gate_stopping_it_is_a_quality_failure(
    run_workflow, small_samples, lake
):
    from etl.core.errors import QualityCheckFailed

    def job_whose_gate_fails(*args, **kwargs):
        raise QualityCheckFailed("quality gate failed: expectation x on y failed")

    record = run_workflow(small_samples / "orders.json", transform_job=job_whose_gate_fails)
    assert record["execution"]["error"] == "QualityCheckFailed"
    assert record["execution"]["cause"] == (
        "QualityCheckFailed: quality gate failed: expectation x on y failed"
    )
    assert states_visited(record)[-3:] == [
        "RecordJobQualityFailure",
        "NotifyQualityFailure",
        "QualityCheckFailed",
    ]
    message = last_notification(lake)
    assert message["status"] == "QUALITY_CHECK_FAILED"
    assert message["reason"] == record["execution"]["cause"]


def test_a_crawl_that_fails_goes_to_notify_failure(run_workflow, tmp_path, lake):
    record = run_workflow(write_json_lines(tmp_path / "no_ids.json", [{"name": "x"}] * 3))
    assert record["execution"]["cause"].startswith("Glue.CrawlerFailed: ")
    assert "has no 'id' column" in record["execution"]["cause"]
    visited = states_visited(record)
    assert in_order(["DidCrawlSucceed", "CrawlerFailed", "NotifyFailure"], visited)
    assert visited[-2:] == ["NotifyFailure", "PipelineFailed"]
    assert "CheckDataQuality" not in visited
    # The Parallel state's Catch hands on the branch's Error and Cause, as the Pass state did.
    error = last_notification(lake)["error"]
    assert error["Error"] == "Glue.CrawlerFailed"
    assert json.loads(error["Cause"])["LastCrawl"]["Status"] == "FAILED"


def test_a_crawler_that_never_finishes_stops_the_execution_after_60_polls(
    run_workflow, small_samples
):
    record = run_workflow(small_samples / "orders.json", crawler_running_polls=10_000)
    visited = states_visited(record)
    assert record["execution"]["cause"].startswith("Glue.CrawlerTimeout: ")
    assert visited.count("CheckCrawlerStatus") == 60
    assert in_order(["CrawlerTimedOut", "NotifyFailure", "PipelineFailed"], visited)
    assert visited[-2:] == ["NotifyFailure", "PipelineFailed"]
    assert record["execution"]["cause"] == (
        "Glue.CrawlerTimeout: crawler etl-local-raw-crawler still not READY after 60 polls"
    )


def test_a_transient_lambda_service_error_is_retried_then_the_run_goes_on(run_workflow, tmp_path):
    from etl.lambdas import validation

    calls = []

    def flaky_validation(event, context):
        calls.append(event)
        if len(calls) == 1:
            raise AwsServiceError("ServiceException", "Lambda is busy", status=500)
        return validation.handler(event, context)

    functions = {"data-validation": flaky_validation}
    record = run_workflow(write_json_lines(tmp_path / "x.xlsx", [{"id": 1}]), functions=functions)
    failures = [e for e in record["events"] if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["Lambda.ServiceException"]
    assert len(calls) == 2
    assert states_visited(record)[:2] == ["ValidateInput", "CheckValidation"]
    assert record["execution"]["error"] == "ValidationFailed"


def test_history_events_reach_the_caller_while_the_execution_is_still_running(
    spark, lake, small_samples
):
    """``on_event`` hears RunETLJob entered while the job runs, not after the execution."""
    import threading

    from workflow_support import RUN_DATE, local_workflow

    from etl.storage.lake import land_file

    job_entered = threading.Event()
    seen_by_job = []

    def on_event(event: dict) -> None:
        details = event.get("stateEnteredEventDetails") or {}
        if details.get("name") == "RunETLJob":
            job_entered.set()

    def job_that_waits_for_progress(*args, **kwargs):
        seen_by_job.append(job_entered.wait(timeout=30))

    landed = land_file(str(small_samples / "orders.json"), lake)
    with local_workflow(spark, lake, transform_job=job_that_waits_for_progress) as workflow:
        record = workflow.run_landed(landed, RUN_DATE, on_event=on_event)
    assert seen_by_job == [True]
    assert record["execution"]["status"] == "SUCCEEDED"


def test_events_heard_while_running_are_the_api_history(spark, lake, small_samples):
    """Progress reads the history in-process (``execution_events``) while the run goes on;
    what it hears is exactly what ``GetExecutionHistory`` saved, in order, none twice."""
    from workflow_support import RUN_DATE, local_workflow

    from etl.storage.lake import land_file

    heard: list[dict] = []
    landed = land_file(str(small_samples / "orders.json"), lake)
    with local_workflow(spark, lake) as workflow:
        record = workflow.run_landed(landed, RUN_DATE, on_event=heard.append)
    assert record["execution"]["status"] == "SUCCEEDED"

    def fields(event: dict) -> dict:
        return {k: v for k, v in event.items() if k != "timestamp"}

    assert [fields(e) for e in heard] == [fields(e) for e in record["events"]]

    def seconds(event: dict) -> float:
        stamp = event["timestamp"]  # the saved record keeps ISO strings
        return (stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)).timestamp()

    assert [seconds(e) for e in heard] == pytest.approx([seconds(e) for e in record["events"]])
    assert [e["id"] for e in heard] == list(range(1, len(heard) + 1))


def test_the_crawl_and_the_quality_check_run_at_the_same_time(spark, lake, small_samples):
    """Each side waits for the other to have started: run one after the other, the first
    would wait for ever (bounded: the waits time out and the test fails)."""
    import threading

    from workflow_support import RUN_DATE, local_workflow

    from etl.lambdas import quality_check
    from etl.storage.lake import land_file

    crawling, scoring = threading.Event(), threading.Event()
    met = []

    def quality_when_crawling(event, context):
        scoring.set()
        met.append(("quality saw the crawl", crawling.wait(timeout=60)))
        return quality_check.handler(event, context)

    landed = land_file(str(small_samples / "orders.json"), lake)
    functions = {**default_functions(), "data-quality-check": quality_when_crawling}
    with local_workflow(spark, lake, functions=functions) as workflow:
        crawl = workflow.services._crawl_raw  # the local raw crawler's work

        def crawl_when_scoring():
            crawling.set()
            met.append(("crawl saw the quality check", scoring.wait(timeout=60)))
            crawl()

        workflow.services._crawl_raw = crawl_when_scoring
        record = workflow.run_landed(landed, RUN_DATE)
    assert sorted(met) == [("crawl saw the quality check", True), ("quality saw the crawl", True)]
    assert record["execution"]["status"] == "SUCCEEDED"


def test_a_quality_lambda_error_in_its_branch_goes_to_notify_failure(
    run_workflow, small_samples, lake
):
    def quality_that_crashes(event, context):
        raise MemoryError("out of memory")

    functions = {**default_functions(), "data-quality-check": quality_that_crashes}
    record = run_workflow(small_samples / "orders.json", functions=functions)
    visited = states_visited(record)
    assert visited[-2:] == ["NotifyFailure", "PipelineFailed"]
    assert "RunETLJob" not in visited
    error = last_notification(lake)["error"]
    assert error["Error"] == "MemoryError"
    assert json.loads(error["Cause"])["errorMessage"] == "out of memory"
