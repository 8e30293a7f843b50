"""Lineage as OpenLineage events: START, then COMPLETE or FAIL, for each workflow execution.

The local workflow runner (``etl.local.runner``) emits them around each execution, because
that is where the run's facts meet: the execution input (the raw object's bucket, key,
version and ETag), its end state, and the Glue job's outcome (the curated and analytics
partitions it published). The deployed Glue job and Lambdas emit nothing, so they need no
new package.

* **Job**: ``<namespace>`` (``$OPENLINEAGE_NAMESPACE``, default ``etl-workbench``) /
  ``<state machine>.<dataset>``; **run id**: a UUIDv7 derived from the execution ARN and
  start time, so the START and the end event of one execution share it.
* **Input**: the raw object, ``s3://<raw bucket>`` / ``<key>``, its version (the object
  version the run processed: S3's ``VersionId``, the ETag without one, the local raw zone's
  version id), size and row count, and, when the job ran its quality gate, the per-column
  null counts (``dataQualityMetrics``) and the expectations' results
  (``dataQualityAssertions``).
* **Outputs** (COMPLETE): one dataset per table written, ``s3://<curated bucket>`` /
  ``processed/<table>`` (and ``quarantine/<dataset>``, the rejected records, when any) and
  ``s3://<analytics bucket>`` / ``<summary>``, with its catalog
  name (``symlinks``), the rows/files/bytes this run wrote (``outputStatistics``) and the
  partitions (``etl_partitions``: values, folder, files, rows).

Events are always appended to ``<lake>/_system/lineage/<execution>.jsonl`` (the client's
file transport), and also POSTed to ``$OPENLINEAGE_URL`` (e.g. Marquez; path
``$OPENLINEAGE_ENDPOINT``, default ``api/v1/lineage``; ``$OPENLINEAGE_API_KEY`` as bearer
token) with the client's HTTP transport when that is set. A failed POST prints one
warning line; the run and the file are unaffected.

``trace`` answers ``etl lineage PATH``: which source files and executions produced a curated
or analytics file or partition.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from pathlib import Path

from etl import __version__
from etl.core.conventions import PROCESS_PARTITIONS, split_versioned_key, versioned_key
from etl.local.history import state_value
from etl.storage import quality_results
from etl.storage.lake import Lake
from etl.storage.staging import list_files, source_id

DEFAULT_NAMESPACE = "etl-workbench"
PRODUCER = f"urn:etl-workbench:local-runner:{__version__}"
# The custom facets (etl_execution, etl_source, etl_partitions) are the dicts built below.
FACET_SCHEMA = "urn:etl-workbench:lineage-facets"
HTTP_TIMEOUT_SECONDS = 5.0
ENDED = {"SUCCEEDED": "COMPLETE", "ABORTED": "ABORT"}  # anything else that stopped: FAIL


# --------------------------------------------------------------------------- the facts
@dataclass
class PartitionFacts:
    """One partition a run published into (or moved the source's rows out of)."""

    values: list[str]
    location: str  # local folder
    key: str  # its S3 key prefix in the zone bucket
    files: int  # files this run wrote there (for a moved-out partition: files left)
    rows: int  # rows in the files this run wrote
    bytes: int
    moved_out: bool = False


@dataclass
class TableFacts:
    """A table the run wrote: where it is, its catalog name and the partitions it changed."""

    zone: str  # curated | analytics
    bucket: str
    key: str  # the table's S3 key prefix
    database: str
    table: str
    partitions: list[PartitionFacts] = field(default_factory=list)


@dataclass
class ExecutionFacts:
    """What one execution read and wrote, gathered when it stops."""

    execution: dict  # describe-execution
    state_machine: str
    input: dict  # inputData: bucket, key, etag, size, version
    dataset: str
    run_date: str
    source_path: str = ""  # the raw object's local path (the version's own copy)
    source: str = ""  # key + version, as the job names the source (Lake.source)
    job_run_id: str = ""
    quality: dict | None = None  # the quality Lambda's result (qualityResult)
    job_quality: dict | None = None  # the job gate's kept record (etl.storage.quality_results)
    tables: list[TableFacts] = field(default_factory=list)
    rows: dict | None = None  # row accounting, when the job reports it
    unmatched: dict | None = None  # per reference table, the rows whose key it lacked


def execution_input(execution: dict) -> dict:
    return json.loads(execution.get("input") or "{}")


def job_run_id(events: list[dict]) -> str:
    """The Glue job run an execution started: its result, or the failed run in the error."""
    result = state_value(events, "etlResult") or {}
    if result.get("Id"):
        return result["Id"]
    failed = (state_value(events, "failedJob") or {}).get("jobRun") or {}
    if failed.get("Id"):
        return failed["Id"]
    for event in reversed(events):
        cause = (event.get("taskFailedEventDetails") or {}).get("cause") or ""
        if cause.startswith("{"):
            try:
                return json.loads(cause).get("Id", "")
            except json.JSONDecodeError:
                return ""
    return ""


def partition_facts(location: str, zone_root: str, prefix: str, moved_out: bool):
    """Files, rows and bytes of the files named ``prefix*`` in a published partition."""
    import pyarrow.parquet as pq

    folder = Path(location)
    names = [n for n in list_files(location) if n.endswith(".parquet")]
    mine = [n for n in names if n.startswith(prefix)]
    rows = sum(pq.ParquetFile(folder / n).metadata.num_rows for n in mine)
    size = sum((folder / n).stat().st_size for n in mine)
    key = folder.resolve().relative_to(Path(zone_root).resolve()).as_posix()
    values = [s.split("=", 1)[1] for s in key.split("/") if "=" in s]
    files = len(names) if moved_out else len(mine)
    return PartitionFacts(values, str(folder), key, files, rows, size, moved_out)


def gather(record: dict, services, stopped: bool = True) -> ExecutionFacts:
    """The facts of an execution the local workflow ran (``services``: its ``LocalServices``)."""
    from etl.core.conventions import DEFAULT_DATASET, dataset_for_key

    execution, events = record["execution"], record.get("events", [])
    given = execution_input(execution)
    obj = given.get("inputData") or {}
    dataset = (given.get("dataset") or {}).get("name") or dataset_for_key(obj.get("key", ""))
    facts = ExecutionFacts(
        execution=execution,
        state_machine=execution.get("stateMachineArn", "").rsplit(":", 1)[-1],
        input=obj,
        dataset=dataset or DEFAULT_DATASET,
        run_date=given.get("runDate", ""),
    )
    # An object outside the local zones is named by its S3 key and version only.
    with contextlib.suppress(KeyError, ValueError, LookupError):
        version = obj.get("versionId") or obj.get("version", "")
        facts.source_path = services.local_uri(f"s3://{obj['bucket']}/{obj['key']}", version)
        facts.source = services.lake.source(facts.source_path)
    if not stopped:
        return facts
    facts.job_run_id = job_run_id(events)
    facts.quality = state_value(events, "qualityResult")
    facts.job_quality = quality_results.load(services.lake, facts.job_run_id)
    outcome = services.job_outcome(facts.job_run_id) if facts.job_run_id else None
    if outcome is not None:
        facts.tables = _tables(outcome, services, facts)
    rows = getattr(outcome, "rows", None) or state_value(events, "rows")
    facts.rows = asdict(rows) if is_dataclass(rows) else rows
    facts.unmatched = getattr(outcome, "unmatched", None) or None
    return facts


def _tables(outcome, services, facts: ExecutionFacts) -> list[TableFacts]:
    """The curated table and the summaries the job published into, with their partitions."""
    from etl.core.datasets import get_dataset

    lake, names = services.lake, services.names
    spec = get_dataset(facts.dataset)
    curated = TableFacts(
        "curated",
        names.bucket("curated"),
        _key(lake.curated_table_path(spec.curated_table), lake.curated),
        spec.database,
        spec.curated_table,
    )
    # The job names its files after the source: key + version (etl.storage.lake.Lake.source).
    prefix = f"{source_id(source_of(facts))}-part-"
    curated.partitions = [
        partition_facts(p.location, lake.curated, prefix, p.moved_out) for p in outcome.curated
    ]
    tables = [curated]
    quarantined = getattr(outcome, "quarantine", None) or []
    if quarantined:  # the rejected records, per rule, beside curated
        quarantine = TableFacts(
            "quarantine",
            names.bucket("curated"),
            _key(lake.quarantine_table_path(spec.name), lake.curated),
            spec.database,
            spec.quarantine_table,
        )
        quarantine.partitions = [
            partition_facts(p.location, lake.curated, prefix, p.moved_out) for p in quarantined
        ]
        tables.append(quarantine)
    summaries: dict[str, TableFacts] = {}
    for published in outcome.analytics:
        folder = Path(published.location).parents[len(PROCESS_PARTITIONS) - 1]
        table = summaries.setdefault(
            folder.name,
            TableFacts(
                "analytics",
                names.bucket("analytics"),
                _key(str(folder), lake.analytics),
                spec.database,
                folder.name,
            ),
        )
        table.partitions.append(
            partition_facts(
                published.location, lake.analytics, f"{source_id(folder.name)}-part-", False
            )
        )
    return tables + list(summaries.values())


def _key(location: str, zone_root: str) -> str:
    return Path(location).resolve().relative_to(Path(zone_root).resolve()).as_posix()


class ExecutionLineage:
    """The runner's hook: START when an execution is seen running, COMPLETE/FAIL at its end.

    Lineage is a record of the run, not part of it: a failure here prints one warning line.
    """

    def __init__(self, services) -> None:
        self.services = services

    def started(self, execution: dict) -> None:
        self._emit("START", {"execution": execution}, stopped=False)

    def stopped(self, record: dict) -> None:
        kind = ENDED.get(record["execution"].get("status", ""), "FAIL")
        self._emit(kind, record, stopped=True)

    def _emit(self, kind: str, record: dict, stopped: bool) -> None:
        try:
            facts = gather(record, self.services, stopped=stopped)
            emit(self.services.lake, facts.execution["name"], build_event(kind, facts))
        except Exception as error:  # reported, and the run goes on
            _warn(f"warning: lineage {kind} event not written: {type(error).__name__}: {error}")


# --------------------------------------------------------------------------- the events
CLIENT_MODULES = (
    "openlineage.client.event_v2",
    "openlineage.client.facet_v2",
    "openlineage.client.uuid",
)


def import_client() -> None:
    """Import the OpenLineage client the events are built with (~0.15 CPU-s), for a caller
    with idle time before the first event: ``run_pipeline`` while the file lands, rather than
    as the execution starts, beside the Lambdas."""
    for module in CLIENT_MODULES:
        importlib.import_module(module)


def run_id_for(execution: dict) -> str:
    """The OpenLineage run id of an execution: the same for its START and its end."""
    from openlineage.client.uuid import generate_static_uuid

    started = _time(execution["startDate"])
    return str(generate_static_uuid(started, execution["executionArn"].encode("utf-8")))


def build_event(kind: str, facts: ExecutionFacts, namespace: str = ""):
    """The OpenLineage ``RunEvent`` of ``kind`` (START, COMPLETE, FAIL, ABORT)."""
    from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (
        error_message_run,
        job_type_job,
        nominal_time_run,
        processing_engine_run,
    )

    execution = facts.execution
    when = execution.get("stopDate") if kind != "START" else execution["startDate"]
    run_facets: dict = {
        "nominalTime": nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=f"{facts.run_date}T00:00:00Z", producer=PRODUCER
        ),
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=__version__,
            name="etl-workbench local workflow (moto Step Functions)",
            openlineageAdapterVersion=_client_version(),
            producer=PRODUCER,
        ),
        "etl_execution": _custom("EtlExecutionRunFacet", _execution_facet(facts, kind)),
    }
    if kind in ("FAIL", "ABORT"):
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{execution.get('error', '')}: {execution.get('cause', '')}".strip(": "),
            programmingLanguage="python",
            producer=PRODUCER,
        )
    job_facets = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH",
            integration="STEP_FUNCTIONS",
            jobType="WORKFLOW",
            producer=PRODUCER,
        )
    }
    raw = InputDataset(
        namespace=f"s3://{facts.input['bucket']}",
        name=facts.input["key"],
        facets=_input_facets(facts),
        inputFacets=_input_quality_facets(facts) if kind != "START" else {},
    )
    outputs = [_output(table) for table in facts.tables] if kind == "COMPLETE" else []
    return RunEvent(
        eventType=RunState[kind],
        eventTime=_time(when).isoformat(),
        run=Run(runId=run_id_for(execution), facets=run_facets),
        job=Job(
            namespace=namespace or os.environ.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE,
            name=f"{facts.state_machine}.{facts.dataset}",
            facets=job_facets,
        ),
        inputs=[raw],
        outputs=outputs,
        producer=PRODUCER,
    )


def _execution_facet(facts: ExecutionFacts, kind: str) -> dict:
    execution = facts.execution
    facet = {
        "executionArn": execution["executionArn"],
        "name": execution["name"],
        "stateMachineArn": execution.get("stateMachineArn", ""),
        "status": "RUNNING" if kind == "START" else execution.get("status", ""),
        "dataset": facts.dataset,
        "runDate": facts.run_date,
    }
    if kind != "START":
        facet["jobRunId"] = facts.job_run_id
        if facts.quality:
            facet["qualityScore"] = facts.quality.get("qualityScore")
            facet["threshold"] = facts.quality.get("threshold")
        if facts.rows:
            facet["rows"] = facts.rows
        if facts.unmatched:
            facet["unmatched"] = facts.unmatched
    return facet


def _input_facets(facts: ExecutionFacts) -> dict:
    from openlineage.client.facet_v2 import dataset_version_dataset

    etag = facts.input.get("etag", "")
    source = {"localPath": facts.source_path, "size": facts.input.get("size"), "etag": etag}
    if facts.input.get("key"):  # the prefix of the files the job writes for this source
        source["sourceId"] = source_id(source_of(facts))
    return {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=object_version(facts), producer=PRODUCER
        ),
        "etl_source": _custom("EtlSourceDatasetFacet", source),
    }


def source_of(facts: ExecutionFacts) -> str:
    """The source the job named its files after: key + object version (the key alone for an
    input from before versions)."""
    key, version = facts.input.get("key", ""), facts.input.get("version", "")
    return facts.source or versioned_key(key, version)


def object_version(facts: ExecutionFacts) -> str:
    """The object version the run processed (the ETag for an input from before versions)."""
    if facts.source:
        return split_versioned_key(facts.source)[1]
    return facts.input.get("version") or facts.input.get("etag", "")


def _input_quality_facets(facts: ExecutionFacts) -> dict:
    from openlineage.client.facet_v2 import (
        data_quality_assertions_dataset as assertions,
    )
    from openlineage.client.facet_v2 import (
        data_quality_metrics_input_dataset as metrics,
    )
    from openlineage.client.facet_v2 import input_statistics_input_dataset as stats

    rows = (facts.quality or {}).get("totalRecords")
    facets: dict = {
        "inputStatistics": stats.InputStatisticsInputDatasetFacet(
            rowCount=rows, size=facts.input.get("size"), fileCount=1, producer=PRODUCER
        )
    }
    gate = (facts.job_quality or {}).get("quality")
    if gate:
        facets["dataQualityMetrics"] = metrics.DataQualityMetricsInputDatasetFacet(
            rowCount=gate.get("totalRecords"),
            bytes=facts.input.get("size"),
            fileCount=1,
            columnMetrics={
                column: metrics.ColumnMetrics(nullCount=nulls)
                for column, nulls in (gate.get("nullCounts") or {}).items()
            },
            producer=PRODUCER,
        )
    validation = (facts.job_quality or {}).get("validation")
    if validation:
        facets["dataQualityAssertions"] = assertions.DataQualityAssertionsDatasetFacet(
            assertions=[
                assertions.Assertion(
                    assertion=r["expectation_config"]["type"],
                    success=bool(r["success"]),
                    column=r["expectation_config"]["kwargs"].get("column"),
                )
                for r in validation.get("results", [])
            ],
            producer=PRODUCER,
        )
    return facets


def _output(table: TableFacts):
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats
    from openlineage.client.facet_v2 import symlinks_dataset

    from etl.local.moto_adapter import ACCOUNT, REGION

    written = [p for p in table.partitions if not p.moved_out]
    return OutputDataset(
        namespace=f"s3://{table.bucket}",
        name=table.key,
        facets={
            "symlinks": symlinks_dataset.SymlinksDatasetFacet(
                identifiers=[
                    symlinks_dataset.Identifier(
                        namespace=f"arn:aws:glue:{REGION}:{ACCOUNT}",
                        name=f"table/{table.database}/{table.table}",
                        type="TABLE",
                    )
                ],
                producer=PRODUCER,
            ),
            "etl_partitions": _custom(
                "EtlPartitionsDatasetFacet",
                {"zone": table.zone, "partitions": [asdict(p) for p in table.partitions]},
            ),
        },
        outputFacets={
            "outputStatistics": stats.OutputStatisticsOutputDatasetFacet(
                rowCount=sum(p.rows for p in written),
                size=sum(p.bytes for p in written),
                fileCount=sum(p.files for p in written),
                producer=PRODUCER,
            )
        },
    )


def _custom(name: str, values: dict):
    """A custom facet: the base facet's ``_producer``/``_schemaURL`` plus ``values``."""
    from openlineage.client.facet_v2 import BaseFacet

    facet = BaseFacet(producer=PRODUCER).with_additional_properties(**values)
    facet._schemaURL = f"{FACET_SCHEMA}#/$defs/{name}"
    return facet


# --------------------------------------------------------------------------- emitting
def _warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def lineage_folder(lake: Lake) -> Path:
    return Path(lake.system_path("lineage"))


def emit(lake: Lake, execution: str, event, warn=_warn) -> Path:
    """Append ``event`` to the execution's file in the lake; POST it when a URL is set."""
    from openlineage.client.transport.file import FileConfig, FileTransport

    path = lineage_folder(lake) / f"{execution}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    FileTransport(FileConfig(log_file_path=str(path), append=True)).emit(event)
    url = os.environ.get("OPENLINEAGE_URL", "").strip()
    if url:
        try:
            http_transport(url).emit(event)
        except Exception as error:  # an unreachable lineage server must not fail the run
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            warn(f"warning: lineage {event.eventType.value} not sent to {url}: {reason}")
    return path


def http_transport(url: str):
    """The client's HTTP transport for ``url``: short timeout, one retry, optional API key."""
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    config: dict = {
        "url": url,
        "endpoint": os.environ.get("OPENLINEAGE_ENDPOINT") or "api/v1/lineage",
        "timeout": HTTP_TIMEOUT_SECONDS,
        "retry": {"total": 1, "connect": 1, "read": 1, "backoff_factor": 0.1},
    }
    if os.environ.get("OPENLINEAGE_API_KEY"):
        config["auth"] = {"type": "api_key", "apiKey": os.environ["OPENLINEAGE_API_KEY"]}
    return HttpTransport(HttpConfig.from_dict(config))


# --------------------------------------------------------------------------- reading
def read_events(lake: Lake, execution: str | None = None) -> list[dict]:
    """Every lineage event kept in the lake (or one execution's), oldest first."""
    folder = lineage_folder(lake)
    files = [folder / f"{execution}.jsonl"] if execution else sorted(folder.glob("*.jsonl"))
    events = [
        json.loads(line)
        for path in files
        if path.is_file()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return sorted(events, key=lambda e: e["eventTime"])


def execution_of(event: dict) -> dict:
    """The ``etl_execution`` facet of an event."""
    return event["run"]["facets"].get("etl_execution", {})


# --------------------------------------------------------------------------- tracing
@dataclass
class SourceTrace:
    """One source file behind a partition, and the executions that wrote its rows there."""

    raw: str  # s3://<raw bucket>/<key>
    path: str  # its local path (the version's own copy)
    version: str  # the object version
    executions: list[dict]  # {name, status, eventTime, runDate}, newest first
    files: list[str] = field(default_factory=list)


@dataclass
class Trace:
    """``etl lineage PATH``: the partition a path is in and what produced it."""

    path: str
    partition: str
    zone: str
    table: str
    written_by: list[dict]  # executions whose COMPLETE event lists the partition, newest first
    sources: list[SourceTrace]
    summarises: str = ""  # for an analytics partition: the curated partition it summarises


def trace(lake: Lake, path: str) -> Trace:
    """Which source files and executions produced ``path`` (a file or partition folder).

    A curated file is named after its source (``etl.storage.staging.source_id``), so its
    source is exact. An analytics partition summarises the whole curated partition of the
    same processing date, so its sources are the sources of that curated partition.
    Raises ``LookupError`` with a message for a path outside the lake's tables.
    """
    target = Path(path).resolve()
    zone, partition = _partition_of(lake, target)
    events = [e for e in read_events(lake) if e.get("eventType") == "COMPLETE"]
    by_partition = _writers(events)
    writers = list(reversed(by_partition.get(str(partition), [])))
    if zone == "curated" and target.is_file():  # a curated file is its source's alone
        source = target.name.split("-part-", 1)[0]
        writers = [e for e in writers if _input_source_id(e) == source]
    written_by = [_execution_row(e) for e in writers]
    table = partition.parents[len(PROCESS_PARTITIONS) - 1]
    result = Trace(str(target), str(partition), zone, table.name, written_by, [])
    curated = partition
    if zone == "analytics":
        curated = _curated_partition_for(lake, partition, events)
        result.summarises = str(curated) if curated else ""
    if curated is None or not curated.is_dir():
        return result
    names = sorted(n for n in list_files(str(curated)) if n.endswith(".parquet"))
    if zone == "curated" and target.is_file():
        names = [target.name]
    sources = _sources_by_id(events)
    for prefix in sorted({n.split("-part-", 1)[0] for n in names}):
        files = [n for n in names if n.startswith(f"{prefix}-part-")]
        known = sources.get(prefix)
        if known is None:
            result.sources.append(SourceTrace(f"(no lineage recorded for {prefix})", "", "", []))
            continue
        raw, local, version = known
        wrote = [
            _execution_row(e)
            for e in reversed(by_partition.get(str(curated), []))
            if _input_source_id(e) == prefix
        ]
        result.sources.append(SourceTrace(raw, local, version, wrote, files))
    return result


def _partition_of(lake: Lake, target: Path) -> tuple[str, Path]:
    for zone in ("curated", "analytics"):
        root = Path(getattr(lake, zone)).resolve()
        if target.is_relative_to(root):
            folder = target if target.is_dir() or not target.suffix else target.parent
            depth = len(PROCESS_PARTITIONS)
            tail = folder.parts[-depth:]
            if len(tail) == depth and all(
                part.startswith(f"{column}=")
                for part, column in zip(tail, PROCESS_PARTITIONS, strict=True)
            ):
                return zone, folder
            raise LookupError(
                f"{target} is not a partition or a file in one "
                f"(a folder ending in {'/'.join(c + '=…' for c in PROCESS_PARTITIONS)})"
            )
    raise LookupError(
        f"{target} is not in the lake's curated or analytics zone ({lake.curated}, "
        f"{lake.analytics}); pass --lake DIR for another lake"
    )


def _writers(events: list[dict]) -> dict[str, list[dict]]:
    """Partition folder -> the COMPLETE events that published into it, oldest first."""
    writers: dict[str, list[dict]] = {}
    for event in events:
        for output in event.get("outputs", []):
            facet = output.get("facets", {}).get("etl_partitions", {})
            for partition in facet.get("partitions", []):
                if not partition.get("moved_out"):
                    writers.setdefault(partition["location"], []).append(event)
    return writers


def _sources_by_id(events: list[dict]) -> dict[str, tuple[str, str, str]]:
    sources = {}
    for event in events:
        for dataset in event.get("inputs", []):
            facet = dataset.get("facets", {}).get("etl_source", {})
            if facet.get("sourceId"):
                version = dataset["facets"].get("version", {}).get("datasetVersion", "")
                raw = f"{dataset['namespace']}/{dataset['name']}"
                sources[facet["sourceId"]] = (raw, facet.get("localPath", ""), version)
    return sources


def _input_source_id(event: dict) -> str:
    for dataset in event.get("inputs", []):
        return dataset.get("facets", {}).get("etl_source", {}).get("sourceId", "")
    return ""


def _curated_partition_for(lake: Lake, partition: Path, events: list[dict]) -> Path | None:
    """The curated partition an analytics partition was computed from (same dates)."""
    segments = partition.parts[-len(PROCESS_PARTITIONS) :]
    for event in reversed(events):
        outputs = event.get("outputs", [])
        if any(_lists(o, partition) for o in outputs):
            for output in outputs:
                facet = output.get("facets", {}).get("etl_partitions", {})
                if facet.get("zone") == "curated":
                    for p in facet.get("partitions", []):
                        if Path(p["location"]).parts[-len(segments) :] == segments:
                            return Path(p["location"])
    return None


def _lists(output: dict, partition: Path) -> bool:
    facet = output.get("facets", {}).get("etl_partitions", {})
    return any(p["location"] == str(partition) for p in facet.get("partitions", []))


def _execution_row(event: dict) -> dict:
    facet = execution_of(event)
    return {
        "execution": facet.get("name", ""),
        "status": facet.get("status", ""),
        "eventTime": event["eventTime"],
        "runDate": facet.get("runDate", ""),
        "runId": event["run"]["runId"],
    }


def render_trace(found: Trace) -> str:
    """``etl lineage`` for a terminal."""
    lines = [f"{found.path}", f"  {found.zone} table {found.table}, partition {found.partition}"]
    if found.written_by:
        latest, *earlier = found.written_by
        lines.append(
            f"  written by   {latest['execution']} ({latest['status']}, {latest['eventTime']})"
        )
        lines += [
            f"  before that  {e['execution']} ({e['status']}, {e['eventTime']})" for e in earlier
        ]
    else:
        lines.append("  written by   (no lineage event lists this partition)")
    if found.summarises:
        lines.append(f"  summarises   {found.summarises}")
    for source in found.sources:
        lines.append(
            f"  source       {source.raw}"
            + (f" (version {source.version})" if source.version else "")
        )
        if source.path:
            lines.append(f"               {source.path}")
        for execution in source.executions[:1]:
            lines.append(f"               by {execution['execution']} ({execution['eventTime']})")
        if source.files:
            lines.append(f"               files: {', '.join(source.files)}")
    if not found.sources:
        lines.append("  source       (none found: the partition has no files)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers
def _time(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _client_version() -> str:
    from importlib.metadata import version

    return version("openlineage-python")
