"""``run_pipeline``: land a file and run the Step Functions workflow on it, locally.

The workflow (``infra/statemachine/etl_workflow.asl.json``) calls each deployed component:
the validation and quality Lambdas, the raw crawler, the Glue job. ``etl.local.runner``
executes it; this module lands the file, reads the execution back into a ``RunResult`` and
turns a failed execution into the ``EtlError`` that matches its end state.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from pyspark.sql import SparkSession

from etl.core.errors import EtlError, QualityCheckFailed, ValidationFailed, one_line
from etl.core.progress import bytes_reporter
from etl.core.spec import DatasetSpec
from etl.jobs.session import get_spark, server_in_use
from etl.jobs.transform import JobOutcome, new_run_id
from etl.local.definition import branch_of
from etl.local.history import path_taken, state_value
from etl.local.lineage import import_client as import_lineage_client
from etl.local.runner import LocalWorkflow
from etl.local.services import remember_etag
from etl.stages.landed import validate_landed
from etl.stages.quality import GATE_FAILED
from etl.stages.suite import import_gx_in_background
from etl.storage import lake as lake_io
from etl.storage.lake import Lake

T = TypeVar("T")
Progress = Callable[..., None]  # (text, lane=''): ``Reporter.state``

# great-expectations' import (~2 s of CPU under the interpreter lock) overlaps best with the
# crawl's JVM work for a small file. For a big one the quality Lambda's Python would wait for
# it, so the Glue job starts it. Measured (2 cores, cold runs): 1,000 rows 10.0 s early vs
# 10.3 s at the job; 43 MB the same; 431 MB 37.3 s early vs 36.3 s at the job.
EARLY_GX_IMPORT_MAX_BYTES = 32 << 20


@dataclass
class StageResult:
    """One line of the run summary."""

    stage: str
    status: str = "RUNNING"
    rows_in: int | None = None
    rows_out: int | None = None
    seconds: float = 0.0
    detail: str = ""
    outputs: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    run_id: str
    source: str
    run_date: str
    status: str = "RUNNING"
    dataset: str = ""
    landed: str = ""  # the raw zone's copy of the version landed
    # The source: its raw key and object version (a re-used key with new bytes is a new one).
    key: str = ""
    version: str = ""
    quality: dict | None = None
    # Where every record read went: {"read", "written", "duplicates", "rejected": {rule: n}}.
    rows: dict | None = None
    # Per reference table: the curated rows whose key it did not know (their columns null).
    unmatched: dict | None = None
    error: str = ""
    stages: list[StageResult] = field(default_factory=list)
    spark: str = ""  # which JVM ran it: the Spark server's (etl spark start) or its own

    def to_dict(self) -> dict:
        return asdict(self)


def run_pipeline(
    source: str,
    lake: Lake,
    run_date: date,
    dataset: DatasetSpec,
    spark: SparkSession | None = None,
    progress: Progress = lambda _text, _lane="": None,
    show_spark_progress: bool = False,
) -> RunResult:
    """Land ``source`` in raw for ``dataset`` and run the Step Functions workflow on it.

    The workflow (``infra/statemachine/etl_workflow.asl.json``) runs every stage above and
    publishes the notification and metrics; its history is kept in the lake. ``progress``
    hears each Task state as the execution enters it; with ``show_spark_progress`` the bytes
    landed and scanned and each Spark stage's tasks go to the current progress reporter
    (``etl.core.progress``). A failed execution raises the ``EtlError`` matching its end state.
    """
    lake.ensure()
    result = RunResult(new_run_id(run_date), source, run_date.isoformat())
    started = time.perf_counter()
    if spark is None:  # the JVM starts while the file is landed: same bytes, same checks
        spark = _start_early(source, dataset.csv_delimiter)
    result.dataset = dataset.name
    on_bytes = bytes_reporter(f"land {Path(source).name}") if show_spark_progress else None
    landing = _land_in_background(source, lake, dataset.name, on_bytes)
    with LocalWorkflow(lake, spark=spark, show_progress=show_spark_progress) as flow:
        import_lineage_client()  # while the file lands, not beside the execution's Lambdas
        result.landed = landing.result()
        result.key, result.version = lake.raw_key(result.landed), lake.raw_version(result.landed)
        seconds = round(time.perf_counter() - started, 2)
        result.stages.append(StageResult("land", "OK", seconds=seconds, outputs=[result.landed]))
        progress(f"-> land: {result.key} version {result.version}")
        if dataset.expectation_suite and lake_io.size_of(source) < EARLY_GX_IMPORT_MAX_BYTES:
            import_gx_in_background()  # else the Glue job starts it as its Spark pass begins
        record = flow.run_landed(
            result.landed, run_date, on_event=_announce(progress, branch_lanes(flow.definition))
        )
        etl_result = state_value(record["events"], "etlResult") or {}
        outcome = flow.services.job_outcome(etl_result.get("Id", ""))
    execution = record["execution"]
    result.spark = _which_jvm()
    result.run_id = execution["name"]
    result.status = execution["status"]
    result.quality = state_value(record["events"], "qualityResult")
    result.stages += _task_stages(record, result.quality, outcome)
    if outcome is not None and outcome.rows is not None:
        result.rows = outcome.rows.to_dict()
        result.unmatched = outcome.unmatched or None
    if execution["status"] == "SUCCEEDED":
        return result
    raise _execution_error(record, result)


def _start_early(source: str, csv_delimiter: str) -> Callable[[], SparkSession] | None:
    """Start the JVM in the background (sized for the file: ``etl.jobs.session``), so it
    starts while the file is landed and the workflow set up, not when the crawler first
    needs it. Returns the workflow's Spark factory; None (start nothing) for a file
    validation will reject (the landed version has the same bytes and name).
    """
    if not validate_landed(source, csv_delimiter).isValid:
        return None
    return _in_thread("etl-spark", get_spark, "etl-workbench", lake_io.size_of(source)).result


def _land_in_background(
    source: str, lake: Lake, dataset: str, on_bytes: Callable[[int, int], None] | None
) -> Future[str]:
    """Land ``source`` in a thread while the workflow is set up (moto, ~1.3 s of Python):
    the copy and its hashes run outside the interpreter lock. The copy also gives the
    ETag the execution's input carries, so the landed file is not read again for it."""

    def land() -> str:
        md5 = hashlib.md5(usedforsecurity=False)
        landed = lake_io.land_file(source, lake, dataset, on_bytes=on_bytes, digests=[md5])
        remember_etag(Path(landed), md5.hexdigest())
        return landed

    return _in_thread("etl-land", land)


def _in_thread(name: str, work: Callable[..., T], *args) -> Future[T]:
    """``work(*args)`` started in a thread of its own; its result (or error) in the future."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    future = pool.submit(work, *args)
    pool.shutdown(wait=False)
    return future


def _which_jvm() -> str:
    """Which JVM the run's Spark session is in, for the summary."""
    from pyspark import SparkContext

    if SparkContext._active_spark_context is None:
        return ""
    server = server_in_use()
    if server is None:
        return "its own JVM (`etl spark start` keeps a warm one for the runs that follow)"
    return f"the Spark server's warm JVM (PID {server.jvm_pid})"


ENTERED_KINDS = (
    "TaskStateEntered",
    "ParallelStateEntered",
    "FailStateEntered",
    "SucceedStateEntered",
)


def branch_lanes(definition: str) -> dict[str, str]:
    """Each state in a Parallel branch -> its lane (``Parallel[branch index]``)."""
    owners = branch_of(json.loads(definition))
    return {state: f"{parallel}[{index}]" for state, (parallel, index) in owners.items()}


def _announce(progress: Progress, lanes: dict[str, str]) -> Callable[[dict], None]:
    """A history-event callback printing each Task, Parallel and end state as it is entered;
    the branches of a Parallel state run at the same time, each in its own ``lane``."""

    def on_event(event: dict) -> None:
        kind = event["type"]
        if kind in ENTERED_KINDS:
            name = event["stateEnteredEventDetails"]["name"]
            progress(f"-> {name} ({kind.removesuffix('StateEntered')})", lanes.get(name, ""))

    return on_event


def _task_stages(record: dict, quality: dict | None, outcome: JobOutcome | None) -> list:
    """One summary line per Task or Parallel state visited (repeated polls merged), in
    visiting order. A Parallel state's line is the time the execution waited for its
    branches, whose Tasks ran at the same time (their lines overlap, they do not add up)."""
    execution = record["execution"]
    steps = path_taken(record["events"])
    failed_at = steps[-1]["state"] if execution["status"] != "SUCCEEDED" and steps else None
    stages: dict[str, StageResult] = {}
    visits: dict[str, int] = {}
    for step in steps:
        if step["type"] not in ("Task", "Parallel") and step["state"] != failed_at:
            continue
        stage = stages.setdefault(step["state"], StageResult(step["state"], "OK"))
        stage.seconds = round(stage.seconds + (step["seconds"] or 0.0), 2)
        visits[step["state"]] = visits.get(step["state"], 0) + 1
        if step["state"] == failed_at:
            stage.status = "FAILED"
            reason = _inner_reason(execution.get("cause", ""))[1]
            stage.detail = one_line(f"{execution.get('error', '')}: {reason}", limit=120)
    for step in steps:
        if step["type"] == "Parallel" and not stages[step["state"]].detail:
            stages[step["state"]].detail = "branches at the same time"
    for name, count in visits.items():
        if count > 1:
            stages[name].detail = stages[name].detail or f"{count} polls"
    _describe(stages, record["events"], quality, outcome)
    return list(stages.values())


def _describe(stages: dict, events: list, quality: dict | None, outcome) -> None:
    """Fill rows, details and outputs from the states' results and the local job's outcome."""
    validation = state_value(events, "validationResult")
    if "ValidateInput" in stages and validation:
        stages[
            "ValidateInput"
        ].detail = f"{validation.get('dataFormat')}, {validation.get('fileSize') or 0:,} bytes"
    if "RunDataQualityCheck" in stages and quality:
        stage = stages["RunDataQualityCheck"]
        stage.rows_in = quality.get("totalRecords")
        stage.detail = f"score {quality.get('qualityScore')} (threshold {quality.get('threshold')})"
    if "RunETLJob" in stages and outcome is not None:
        stage = stages["RunETLJob"]
        stage.rows_in = (quality or {}).get("totalRecords")
        stage.rows_out = outcome.records_written
        stage.detail = stage.detail or (
            f"{len(outcome.curated)} curated + {len(outcome.analytics)} analytics partitions"
        )
        stage.outputs = [p.location for p in outcome.curated + outcome.analytics]


def _execution_error(record: dict, result: RunResult) -> EtlError:
    """The ``EtlError`` for a failed execution, from its end state's error and cause.

    Causes can be whole JSON documents (a crawler's description, a Glue job run, a Lambda
    error); the message is the reason inside them, on one line.
    """
    execution = record["execution"]
    error, cause = execution.get("error", ""), execution.get("cause", "")
    result.error = one_line(f"{error}: {cause}")
    if error == "ValidationFailed":
        return ValidationFailed(
            one_line(cause), details=state_value(record["events"], "validationResult")
        )
    if error == "QualityCheckFailed":
        # The Lambda's score gives the bare reason; the job's own gate its error message.
        reason = cause.removeprefix(f"{QualityCheckFailed.__name__}: ")
        if not reason.startswith(GATE_FAILED):
            reason = f"{GATE_FAILED}: {reason}; nothing was written to curated"
        return QualityCheckFailed(one_line(reason), details=result.quality or {})
    failed, reason = _inner_reason(cause)
    if reason.startswith(f"{ValidationFailed.__name__}: "):
        # The crawler (or the job's own discovery) refused the file: bad input, not a bug.
        return ValidationFailed(one_line(reason.removeprefix(f"{ValidationFailed.__name__}: ")))
    hint = f"; see `etl executions show {execution['name']}`"
    message = f"{failed} failed: {reason}" if failed else (reason or error)
    return EtlError(one_line(message, limit=300 - len(hint)) + hint)


def _inner_reason(cause: str) -> tuple[str, str]:
    """``(what failed, reason)`` from a Fail state's ``"<Error>: <Cause>"`` text, where the
    cause may be a JSON document: a crawler's (``LastCrawl.ErrorMessage``), a Glue job
    run's (``ErrorMessage``) or a Lambda's error (``errorType``, ``errorMessage``)."""
    _, _, rest = cause.partition(": ")
    try:
        document = json.loads(rest)
    except ValueError:
        return "", cause
    if not isinstance(document, dict):
        return "", cause
    crawl = document.get("LastCrawl") or (document.get("Crawler") or {}).get("LastCrawl") or {}
    if crawl.get("ErrorMessage"):
        return "the raw crawler", crawl["ErrorMessage"]
    if document.get("ErrorMessage"):
        return "the Glue job", document["ErrorMessage"]
    if document.get("errorMessage"):
        return "a Lambda", f"{document.get('errorType', 'Error')}: {document['errorMessage']}"
    return "", cause
