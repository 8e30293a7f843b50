"""The AWS resources the workflow calls, played locally over a lake folder.

Each deployed resource maps to the code it runs in AWS, or to its local stand-in:

* Lambda ``Invoke`` -> the handlers in ``etl/lambdas/`` (the code deployed to Lambda);
* S3 ``HeadObject``/``GetObject`` on the zone buckets -> files in the lake's zone folders,
  so those handlers read the landed file through their normal boto3 range GETs; the raw
  bucket is versioned like the deployed one: ``VersionId`` reads a version the raw zone
  keeps (``raw/_versions/``, see ``etl.storage.lake``), and every answer names its version;
* Glue ``StartJobRun``/``GetJobRun`` -> ``etl.jobs.transform.run_transform_job`` on local Spark,
  on the version ``--source-version`` names (its own copy in the raw zone, so a run reads
  its version even after a newer one landed). The job runs to completion inside
  ``StartJobRun``; ``GetJobRun`` reports its end state;
* Glue ``StartCrawler``/``GetCrawler`` -> the raw crawler is ``etl.stages.landed.discover_landed``
  on the object of the running execution; the curated crawler has nothing to do (the job
  registers curated tables). A crawler reports RUNNING for ``crawler_running_polls`` polls,
  then READY with its ``LastCrawl``;
* Glue ``GetTable`` of the raw table -> what the crawl registered for the running
  execution's object (the local pin, ``etl.stages.landed.registration``), with a
  ``VersionId`` naming that registration (``registration_version``); the job, given it as
  ``--raw-table-version``, stops when its object's registration is no longer that version;
* SNS ``Publish`` -> ``etl.local.notifications.LocalNotifications`` (a file in the lake,
  echoed to the console).
* CloudWatch ``PutMetricData`` (namespace ``ETL/Pipeline``) -> the lake's metrics file.

Executions run one at a time locally (as the raw crawler allows in AWS), so "the running
execution" is well defined: ``StartExecution`` records its input.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from botocore.response import StreamingBody

from etl.core import progress
from etl.core.conventions import DEFAULT_DATABASE, DEFAULT_DATASET
from etl.core.datasets import get_dataset
from etl.core.errors import EtlError, one_line
from etl.core.metrics import METRIC_NAMESPACE
from etl.jobs.progress import spark_progress
from etl.jobs.transform import run_transform_job
from etl.lambdas import quality_check, validation
from etl.local import history
from etl.local.moto_adapter import ACCOUNT, REGION, AwsServiceError, json_payload
from etl.local.notifications import LocalNotifications
from etl.stages.landed import (
    discover_landed,
    registration,
    registration_version,
    validate_landed,
)
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake, content_version, keep_current_version
from etl.storage.metrics import LocalMetricsFile

LambdaHandler = Callable[[dict, object], dict]
TransformJob = Callable[..., object]


@dataclass(frozen=True)
class LocalNames:
    """Names of the local stand-ins for the deployed resources."""

    prefix: str = "etl-local"

    def bucket(self, zone: str) -> str:
        return f"{self.prefix}-{zone}"

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.prefix}-{name}"

    @property
    def state_machine(self) -> str:
        return f"{self.prefix}-etl-workflow"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{self.prefix}-stepfunctions"

    def substitutions(self) -> dict[str, str]:
        """Values for the definition's ``${...}`` variables, as CloudFormation passes them."""
        return {
            "ValidationFunctionArn": self.function_arn("data-validation"),
            "QualityCheckFunctionArn": self.function_arn("data-quality-check"),
            "RawCrawlerName": f"{self.prefix}-raw-crawler",
            "CuratedCrawlerName": f"{self.prefix}-curated-crawler",
            "GlueDatabaseName": DEFAULT_DATABASE,
            "TransformJobName": f"{self.prefix}-transform",
            "NotificationTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.prefix}-notifications",
            "RawBucketName": self.bucket("raw"),
            "CuratedBucketName": self.bucket("curated"),
        }


def default_functions() -> dict[str, LambdaHandler]:
    return {"data-validation": validation.handler, "data-quality-check": quality_check.handler}


@dataclass
class _Crawler:
    running_polls_left: int = 0
    last_crawl: dict | None = None


@dataclass
class LocalServices:
    """Local answers to the workflow's AWS calls, keyed for ``local_step_functions``."""

    lake: Lake
    spark_factory: Callable[[], object]
    names: LocalNames = field(default_factory=LocalNames)
    functions: dict[str, LambdaHandler] = field(default_factory=default_functions)
    transform_job: TransformJob | None = None
    crawler_running_polls: int = 1
    echo: bool = True
    show_progress: bool = False
    current_input: dict | None = None
    _crawlers: dict[str, _Crawler] = field(default_factory=dict)
    _job_runs: dict[str, dict] = field(default_factory=dict)
    _job_outcomes: dict[str, object] = field(default_factory=dict)
    _invoking: str | None = None
    _scans: dict[str, _Scan] = field(default_factory=dict)

    def handlers(self) -> dict[tuple[str, str], Callable[[dict], dict | None]]:
        """The answers, looked up when called (a test may wrap one on a running workflow)."""
        methods = {
            ("lambda", "Invoke"): "invoke",
            ("s3", "HeadObject"): "head_object",
            ("s3", "GetObject"): "get_object",
            ("glue", "StartJobRun"): "start_job_run",
            ("glue", "GetJobRun"): "get_job_run",
            ("glue", "StartCrawler"): "start_crawler",
            ("glue", "GetCrawler"): "get_crawler",
            ("glue", "GetTable"): "get_table",
            ("sns", "Publish"): "publish",
            ("cloudwatch", "PutMetricData"): "put_metric_data",
            ("stepfunctions", "StartExecution"): "start_execution",
        }
        return {call: partial(self._answer, method) for call, method in methods.items()}

    def _answer(self, method: str, params: dict) -> dict | None:
        return getattr(self, method)(params)

    # --- S3 over the lake ------------------------------------------------------------
    def zone_for(self, bucket: str) -> str | None:
        zones = {self.names.bucket(z): getattr(self.lake, z) for z in ("raw", "curated")}
        zones[self.names.bucket("analytics")] = self.lake.analytics
        return zones.get(bucket)

    def local_uri(self, s3_uri: str, version: str = "") -> str:
        """The lake path behind ``s3://<zone bucket>/<key>``; with ``version``, the raw zone's
        copy of that version of the object (``LookupError`` when it keeps no such version)."""
        bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
        zone = self.zone_for(bucket)
        if zone is None:
            raise ValueError(f"{s3_uri} is not in a local zone bucket ({self.names.bucket('raw')})")
        path = key_path(zone, key)
        versioned = version and zone == self.lake.raw  # only the raw bucket keeps versions
        return str(self._version_file(path, key, version) if versioned else path)

    def _version_file(self, path: Path, key: str, version: str) -> Path:
        """The kept copy of ``version`` of ``key``. A version the raw zone has not kept yet
        (a file put straight into ``raw/incoming/``) is the current object when that is its
        content version or, for an unversioned event, its ETag; it is kept on first read."""
        if not re.fullmatch(r"[A-Za-z0-9_-]+", version):  # a folder name, never a path
            raise LookupError(f"version {version!r} of {key} is not a local version id")
        kept = Path(self.lake.version_path(key, version))
        if kept.is_file():
            return kept
        if path.is_file() and version in (content_version_of(path), etag_of(path)):
            return Path(keep_current_version(self.lake, str(path)))
        raise LookupError(
            f"version {version} of {key} is not in the raw zone (the current object is "
            f"{content_version_of(path) if path.is_file() else 'missing'})"
        )

    def _file(self, params: dict) -> Path | None:
        zone = self.zone_for(params["Bucket"])
        if zone is None:
            return None
        try:
            path = key_path(zone, params["Key"])
        except ValueError as error:
            raise AwsServiceError("NoSuchKey", str(error), 404) from None
        version = params.get("VersionId")
        if version and zone == self.lake.raw:
            try:
                return self._version_file(path, params["Key"], version)
            except LookupError as error:
                raise AwsServiceError("NoSuchVersion", str(error), 404) from None
        if not path.is_file():
            raise AwsServiceError("NoSuchKey", f"no object {params['Key']!r}", 404)
        return path

    def head_object(self, params: dict) -> dict | None:
        path = self._file(params)
        if path is None:
            return None
        stat = path.stat()
        head = {
            "ContentLength": stat.st_size,
            "ETag": f'"{etag_of(path)}"',
            "LastModified": datetime.fromtimestamp(stat.st_mtime, UTC),
        }
        if self.zone_for(params["Bucket"]) == self.lake.raw:
            head["VersionId"] = self.lake.raw_version(str(path)) or content_version_of(path)
        return head

    def get_object(self, params: dict) -> dict | None:
        path = self._file(params)
        if path is None:
            return None
        size = path.stat().st_size
        start, end = 0, size - 1
        if params.get("Range"):
            first, _, last = params["Range"].removeprefix("bytes=").partition("-")
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        handle = path.open("rb")
        handle.seek(start)
        length = max(0, end - start + 1)
        on_read = None
        if self.show_progress and _is_scan(params.get("Range"), size):  # not a head/tail peek
            on_read = self._scan_progress(params["Key"], size)
        body = StreamingBody(_Limited(handle, length, on_read), length)
        return {"Body": body, "ContentLength": length}

    def _scan_progress(self, key: str, size: int) -> Callable[[int, int], None]:
        """One transfer line per object scanned, summed over its block reads (the quality
        Lambda reads 8 MB ranges, two at a time)."""
        scan = self._scans.get(key)
        if scan is None:
            reader = self._invoking or "s3"
            scan = self._scans[key] = _Scan(progress.bytes_reporter(f"{reader} reads {key}"), size)
        return scan.reader()

    # --- Lambda ----------------------------------------------------------------------
    def invoke(self, params: dict) -> dict:
        name = params["FunctionName"].rsplit(":", 1)[-1].removeprefix(f"{self.names.prefix}-")
        if name not in self.functions:
            raise AwsServiceError("ResourceNotFoundException", f"Function not found: {name}", 404)
        event = json.loads(params.get("Payload") or b"{}")
        self._invoking = name  # names the function's object reads in progress
        try:
            result = self.functions[name](event, None)
        except AwsServiceError:
            raise
        except Exception as error:  # what Lambda reports for an unhandled exception
            payload = {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": json_payload(payload),
            }
        finally:
            self._invoking = None
            self._scans.clear()
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": json_payload(result)}

    # --- Glue job --------------------------------------------------------------------
    def start_job_run(self, params: dict) -> dict:
        args = params.get("Arguments") or {}
        run_id = f"jr_{uuid.uuid4().hex}"
        run = {
            "Id": run_id,
            "JobName": params["JobName"],
            "Arguments": args,
            "StartedOn": datetime.now(UTC),
            "JobRunState": "RUNNING",
            "Attempt": 0,
        }
        self._job_runs[run_id] = run
        job = self.transform_job or partial(run_transform_job, show_progress=self.show_progress)
        try:
            dataset = get_dataset(args.get("--dataset") or DEFAULT_DATASET)
            run_date = date.fromisoformat(args["--run-date"]) if args.get("--run-date") else None
            # The version's own copy: its path names the version the job's rows are for.
            source = self.local_uri(args["--source-path"], args.get("--source-version", ""))
            if args.get("--raw-table-version"):
                check_raw_table_version(self.lake, dataset, source, args["--raw-table-version"])
            self._job_outcomes[run_id] = job(
                self.spark_factory(),
                self.lake,
                LocalCatalog(self.lake),
                dataset,
                source,
                run_date or datetime.now(UTC).date(),
                run_id,
            )
            run["JobRunState"] = "SUCCEEDED"
        except Exception as error:
            run["JobRunState"] = "FAILED"
            run["ErrorMessage"] = one_line(f"{type(error).__name__}: {error}")
        run["CompletedOn"] = datetime.now(UTC)
        run["ExecutionTime"] = int((run["CompletedOn"] - run["StartedOn"]).total_seconds())
        return {"JobRunId": run_id}

    def job_outcome(self, run_id: str) -> object | None:
        """What the local job returned (a ``JobOutcome``): detail Glue's API does not carry."""
        return self._job_outcomes.get(run_id)

    def get_job_run(self, params: dict) -> dict:
        run = self._job_runs.get(params["RunId"])
        if run is None:
            raise AwsServiceError("EntityNotFoundException", f"no job run {params['RunId']}")
        return {"JobRun": _json_safe(run)}

    # --- Glue crawlers ---------------------------------------------------------------
    def start_crawler(self, params: dict) -> dict:
        name = params["Name"]
        crawler = self._crawlers.setdefault(name, _Crawler())
        if crawler.running_polls_left > 0:
            raise AwsServiceError(
                "CrawlerRunningException", f"Crawler with name {name} has already started"
            )
        started = datetime.now(UTC)
        status, message = "SUCCEEDED", None
        crawls_raw = name == self.names.substitutions()["RawCrawlerName"]
        if crawls_raw:
            try:
                self._crawl_raw()
            except Exception as error:
                status, message = "FAILED", one_line(f"{type(error).__name__}: {error}")
        crawler.last_crawl = {"Status": status, "StartTime": started}
        if message:
            crawler.last_crawl["ErrorMessage"] = message
        # A crawl with nothing to do (the curated one: the job registered its tables)
        # is over at once; the raw one reports RUNNING to the workflow's first polls.
        crawler.running_polls_left = self.crawler_running_polls if crawls_raw else 0
        return {}

    def _running_object(self) -> str:
        """The lake path of the running execution's object (the version it was started for)."""
        if not self.current_input:
            raise RuntimeError(
                "no running execution: the local raw crawler does not know what landed"
            )
        obj = self.current_input["inputData"]
        return self.local_uri(f"s3://{obj['bucket']}/{obj['key']}", obj.get("versionId", ""))

    def _crawl_raw(self) -> None:
        uri = self._running_object()
        dataset = get_dataset(self.current_input["dataset"]["name"])
        data_format = validate_landed(uri, dataset.csv_delimiter).dataFormat or "json"
        spark = self.spark_factory()
        with spark_progress(spark, "discovery", enabled=self.show_progress):
            discover_landed(spark, LocalCatalog(self.lake), dataset, uri, data_format)

    def get_crawler(self, params: dict) -> dict:
        name = params["Name"]
        crawler = self._crawlers.setdefault(name, _Crawler())
        state = "READY"
        if crawler.running_polls_left > 0:
            crawler.running_polls_left -= 1
            state = "RUNNING"
        description: dict = {"Name": name, "State": state}
        if crawler.last_crawl and state == "READY":
            description["LastCrawl"] = dict(crawler.last_crawl)
        return {"Crawler": _json_safe(description)}

    def get_table(self, params: dict) -> dict | None:
        """The raw table as this execution's crawl registered it, with a ``VersionId``.

        The shared entry may already hold another run's crawl (runs in other processes
        share the lake); the crawl's own registration is the pin it kept for this object,
        so the answer is the version this execution's crawl made, as on Glue right after it.
        """
        name = ((self.current_input or {}).get("dataset") or {}).get("name")
        dataset = get_dataset(name) if name else None
        if dataset is None or params.get("Name") != dataset.raw_table:
            return None  # not the raw table: moto's Glue answers (EntityNotFound)
        try:
            found = registration(LocalCatalog(self.lake), dataset, self._running_object())
        except KeyError as error:
            raise AwsServiceError("EntityNotFoundException", str(error)) from None
        table = {
            "Name": dataset.raw_table,
            "DatabaseName": params.get("DatabaseName") or dataset.database,
            "Parameters": {"classification": found["dataFormat"], **found["parameters"]},
            "VersionId": registration_version(found),
        }
        return {"Table": _json_safe(table)}

    # --- SNS ---------------------------------------------------------------------------
    def publish(self, params: dict) -> dict | None:
        if params.get("TopicArn") != self.names.substitutions()["NotificationTopicArn"]:
            return None
        message = json.loads(params["Message"])
        LocalNotifications(self.lake, echo=self.echo).publish(message, params.get("Subject"))
        return {"MessageId": str(uuid.uuid4())}

    # --- CloudWatch --------------------------------------------------------------------
    def put_metric_data(self, params: dict) -> dict | None:
        """The pipeline's metrics go to the lake's metrics file, like the Glue job's."""
        if params.get("Namespace") != METRIC_NAMESPACE:
            return None
        LocalMetricsFile(self.lake).put_metrics(list(params["MetricData"]))
        return {}

    # --- Step Functions ------------------------------------------------------------------
    def start_execution(self, params: dict) -> None:
        """Refuse names already in the lake's history; else let moto start the execution."""
        name = params.get("name") or ""
        if name and history.exists(self.lake, name):
            raise AwsServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{name}'")
        self.current_input = json.loads(params.get("input") or "{}")
        return None


def check_raw_table_version(lake: Lake, dataset, source: str, version: str) -> None:
    """Stop the job (before it reads) when ``source``'s registration is no longer the raw
    table version the workflow recorded after its crawl (``--raw-table-version``)."""
    try:
        now = registration_version(registration(LocalCatalog(lake), dataset, source))
    except KeyError:
        now = "none"
    if now != version:
        raise EtlError(
            f"raw table {dataset.database}.{dataset.raw_table} version {version}, which this "
            f"execution's crawl registered for {Path(source).name}, is gone (the catalog now "
            f"has {now} for it); nothing was written: run the file again to crawl it again"
        )


def key_path(zone: str, key: str) -> Path:
    """The file behind an S3 key in a local zone folder, strictly inside that folder.

    On S3 ``a/../b`` is just a name; a folder cannot hold it, and following it would read or
    write outside the lake, so such keys are refused (``ValueError``).
    """
    segments = key.split("/")
    if not key or key.startswith("/") or any(s in (".", "..") for s in segments):
        raise ValueError(f"key {key!r} cannot be stored in a local lake ('.' or '..' segment)")
    base = Path(zone).resolve()
    path = (base / key).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"key {key!r} resolves outside the local zone {base}")
    return path


def _json_safe(value: dict) -> dict:
    """Timestamps as ISO strings: the interpreter keeps task results as JSON state."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()))


SCAN_BYTES = 1 << 20  # a ranged read this long or longer is part of a scan, not a peek


def _is_scan(byte_range: str | None, size: int) -> bool:
    """A whole-object read, or a block of a scan (long, or the whole object in one range)."""
    if not byte_range:
        return True
    first, _, last = byte_range.removeprefix("bytes=").partition("-")
    start, end = int(first), min(int(last) if last else size - 1, size - 1)
    return end - start + 1 >= SCAN_BYTES or (start == 0 and end == size - 1)


class _Scan:
    """The bytes read of one object, summed over concurrent ranged reads."""

    def __init__(self, on_bytes: Callable[[int, int], None], size: int) -> None:
        self.on_bytes, self.size, self.done, self.lock = on_bytes, size, 0, threading.Lock()

    def reader(self) -> Callable[[int, int], None]:
        seen = [0]

        def on_read(done: int, _length: int) -> None:
            with self.lock:
                self.done += done - seen[0]
                seen[0] = done
                self.on_bytes(min(self.done, self.size), self.size)

        return on_read


class _Limited:
    """At most ``length`` bytes of an open file (a ranged GET's body); ``on_read`` hears
    ``(bytes read, length)`` as the caller reads."""

    def __init__(self, handle, length: int, on_read: Callable[[int, int], None] | None = None):
        self._handle, self._left, self._length, self._on_read = handle, length, length, on_read

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._left:
            size = self._left
        data = self._handle.read(size) if size else b""
        self._left -= len(data)
        if self._on_read and (data or not self._length):
            self._on_read(self._length - self._left, self._length)
        if not data:
            self._handle.close()
        return data

    def close(self) -> None:
        self._handle.close()


_ETAGS: dict[tuple[str, int, int], Future] = {}
_ETAGS_LOCK = threading.Lock()
_VERSIONS: dict[tuple[str, int, int], str] = {}


def etag_of(path: Path) -> str:
    """The object's ETag as S3 computes it for a single-part upload: the MD5 of its bytes
    (computed once per file state, or kept by ``remember_etag``)."""
    return _etag(path).result()


def remember_etag(path: Path, md5: str) -> None:
    """Keep ``md5``, computed from ``path``'s bytes as they were written (``land_file``'s
    ``digests``), as its ETag: a run need not read 431 MB again before it starts."""
    known = Future()
    known.set_result(md5)
    with _ETAGS_LOCK:
        _ETAGS[_file_state(path)] = known


def _etag(path: Path) -> Future:
    cache_key = _file_state(path)
    with _ETAGS_LOCK:
        known = _ETAGS.get(cache_key)
        if known is not None:
            return known
        future = _ETAGS[cache_key] = Future()
    _md5(path, cache_key, future)
    return future


def _file_state(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def _md5(path: Path, cache_key: tuple, future: Future) -> None:
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            while block := handle.read(4 << 20):
                digest.update(block)
        future.set_result(digest.hexdigest())
    except BaseException as error:
        with _ETAGS_LOCK:  # a failure is not kept: the next call tries again
            _ETAGS.pop(cache_key, None)
        future.set_exception(error)


def content_version_of(path: Path) -> str:
    """The local raw zone's version id of a file's bytes (``etl.storage.lake``), cached like
    the ETag: a HEAD answers it without reading the object again."""
    cache_key = _file_state(path)
    if cache_key not in _VERSIONS:
        _VERSIONS[cache_key] = content_version(str(path))
    return _VERSIONS[cache_key]
