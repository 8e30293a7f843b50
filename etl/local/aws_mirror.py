"""Record a local run into the local AWS endpoint, under the deployed stacks' names.

When the lake records a running endpoint (``etl aws up``), the workflow runner calls
``mirror_execution`` after each execution. What the run did locally is put where the
deployed pipeline would have put it, so the tutorial's AWS CLI checks answer with it:

* the landed object version -> the raw bucket (``incoming/<name>``); the curated and analytics
  zones -> their buckets (the Parquet files the catalog's partitions point at);
* the execution, with its status, input, output and full history, and the Glue job run it
  made -> the deployed state machine and job (``etl.local.aws_server`` records them: no
  AWS API lets a client write an execution's history);
* the local catalog's tables and partitions -> the deployed Glue database;
* the notifications -> ``sns publish`` on the deployed topic; the metrics ->
  ``cloudwatch put-metric-data`` (``ETL/Pipeline``), with their original timestamps.

Local runs use local names (``etl-local-raw``, ``etl-local-etl-workflow`` ...: see
``etl.local.services.LocalNames``); every one of them, and every local zone path, is
translated to the deployed name or ``s3://`` URI first. A mirror that fails prints one line
and leaves the run's own result alone: the endpoint is a view, not part of the pipeline.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from etl.local import aws_endpoint
from etl.local.aws_endpoint import (
    RECORD_PATH,
    Endpoint,
    mirror_marks,
    mirror_sources,
    read_lines,
    write_mirror_marks,
)
from etl.storage.catalog import GLUE_FORMATS, GlueCatalog, LocalCatalog
from etl.storage.lake import Lake, join

# Zone folders and files that are bookkeeping, not data (staging, hidden publish folders).
_SKIPPED = ("_", ".")


class MirrorError(Exception):
    """The endpoint cannot take the run; the message says why."""


# --------------------------------------------------------------------------- the hook
def mirror_execution(lake: Lake, record: dict, names, echo: bool = True) -> str | None:
    """Record a finished execution into the lake's endpoint, if one is running.

    Returns a one-line summary (printed to stderr when ``echo``), or ``None`` when no
    endpoint runs or the mirror failed (then a one-line warning is printed instead).
    """
    endpoint = aws_endpoint.running(lake)
    if endpoint is None:
        return None
    import botocore.exceptions

    try:
        summary = AwsMirror(lake, endpoint, names).record(record)
    except (MirrorError, OSError, botocore.exceptions.BotoCoreError) as error:
        summary, line = None, f"[aws] not recorded in {endpoint.url}: {error}"
    except botocore.exceptions.ClientError as error:
        summary, line = None, f"[aws] not recorded in {endpoint.url}: {error}"
    else:
        line = f"[aws] {summary}"
    if echo or summary is None:
        print(line, file=sys.stderr, flush=True)
    return summary


class AwsMirror:
    """One lake's runs, recorded into one endpoint under the deployed names."""

    def __init__(self, lake: Lake, endpoint: Endpoint, names) -> None:
        self.lake = lake
        self.endpoint = endpoint
        self.outputs = aws_endpoint.stack_outputs(endpoint)
        if "StateMachineArn" not in self.outputs:
            raise MirrorError("the stacks are not deployed there; run `etl aws down && etl aws up`")
        self.buckets = {
            "raw": self.outputs["RawBucketName"],
            "curated": self.outputs["CuratedBucketName"],
            "analytics": self.outputs["AnalyticsBucketName"],
        }
        self._translation = self._translation_table(names)

    def client(self, service: str):
        return self.endpoint.client(service)

    # --- names -----------------------------------------------------------------------
    def _translation_table(self, names) -> dict[str, str]:
        """Local name or path -> deployed name or ``s3://`` URI."""
        table = {
            local: self.outputs[key]
            for key, local in names.substitutions().items()
            if key in self.outputs
        }
        table[names.bucket("analytics")] = self.buckets["analytics"]
        table[names.state_machine] = self.outputs["StateMachineName"]
        machine = self.client("stepfunctions").describe_state_machine(
            stateMachineArn=self.outputs["StateMachineArn"]
        )
        table[names.role_arn] = machine["roleArn"]
        for zone, bucket in self.buckets.items():
            table[getattr(self.lake, zone)] = f"s3://{bucket}"
        return table

    def translate(self, value: Any) -> Any:
        """``value`` (any JSON) with every local name and zone path replaced, in one pass."""
        text = json.dumps(value, default=_iso)
        # Longest first: "etl-local-raw-crawler" before "etl-local-raw".
        keys = sorted(self._translation, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(k) for k in keys))
        return json.loads(pattern.sub(lambda m: self._translation[m.group(0)], text))

    # --- recording -------------------------------------------------------------------
    def record(self, record: dict) -> str:
        execution = record["execution"]
        objects = (
            self.put_landed(execution) + self.sync_zone("curated") + self.sync_zone("analytics")
        )
        self._post("execution", self.translate(record))
        runs = [self._post("job-run", run) for run in self.job_runs(record["events"])]
        tables = self.put_catalog()
        notifications, metrics = self.put_notifications_and_metrics()
        return (
            f"recorded in {self.endpoint.url}: execution {execution['name']} "
            f"({execution['status']}), {len(runs)} job run(s), {objects} object(s) uploaded, "
            f"{tables} table(s), {notifications} notification(s), {metrics} metric record(s)"
        )

    def put_landed(self, execution: dict) -> int:
        """The execution's object version, from ``raw/`` to the raw bucket under its key (the
        version the run processed, kept in ``raw/_versions/``, even if a newer one landed)."""
        obj = json.loads(execution.get("input") or "{}").get("inputData") or {}
        if not obj.get("key"):
            return 0
        path = Path(join(self.lake.raw, obj["key"]))
        if obj.get("versionId"):
            kept = Path(self.lake.version_path(obj["key"], obj["versionId"]))
            path = kept if kept.is_file() else path
        return self._upload(path, self.buckets["raw"], obj["key"]) if path.is_file() else 0

    def sync_zone(self, zone: str) -> int:
        """The zone's data files to its bucket: new or changed ones up, vanished ones deleted."""
        root = Path(getattr(self.lake, zone))
        bucket = self.buckets[zone]
        local = {
            p.relative_to(root).as_posix(): p
            for p in root.rglob("*")
            if p.is_file()
            and not any(part.startswith(_SKIPPED) for part in p.relative_to(root).parts)
        }
        s3 = self.client("s3")
        remote = {
            o["Key"]: o["Size"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])
        }
        uploaded = sum(
            self._upload(path, bucket, key)
            for key, path in sorted(local.items())
            if remote.get(key) != path.stat().st_size
        )
        for key in sorted(set(remote) - set(local)):
            s3.delete_object(Bucket=bucket, Key=key)
        return uploaded

    def _upload(self, path: Path, bucket: str, key: str) -> int:
        with path.open("rb") as body:
            self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        return 1

    def job_runs(self, events: list[dict]) -> list[dict]:
        """The Glue job runs the execution made: ``startJobRun.sync`` results, translated."""
        runs = []
        for event in events:
            details = event.get("taskSucceededEventDetails") or event.get("taskFailedEventDetails")
            if not details or details.get("resourceType") != "glue":
                continue
            text = details.get("output") or details.get("cause") or ""
            try:
                run = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(run, dict) and "Id" in run and "JobName" in run:
                runs.append(
                    {"region": aws_endpoint.REGION, "account": aws_endpoint.ACCOUNT}
                    | {"JobRun": self.translate(run)}
                )
        return runs

    def put_catalog(self) -> int:
        """Every local table, with its partitions, into the deployed database."""
        glue = self.client("glue")
        database = self.outputs["GlueDatabaseName"]
        catalog = LocalCatalog(self.lake)
        count = 0
        for local_database in catalog.databases():
            for table in catalog.tables(local_database):
                table_input = self.translate(
                    {
                        k: table[k]
                        for k in (
                            "Name",
                            "TableType",
                            "StorageDescriptor",
                            "PartitionKeys",
                            "Parameters",
                        )
                        if k in table
                    }
                )
                classification = table_input.get("Parameters", {}).get("classification")
                if classification in GLUE_FORMATS:
                    input_format, output_format, serde = GLUE_FORMATS[classification]
                    table_input["StorageDescriptor"].update(
                        InputFormat=input_format, OutputFormat=output_format, SerdeInfo=serde
                    )
                try:
                    glue.update_table(DatabaseName=database, TableInput=table_input)
                except glue.exceptions.EntityNotFoundException:
                    glue.create_table(DatabaseName=database, TableInput=table_input)
                values = [p["Values"] for p in table.get("Partitions", [])]
                if values:
                    GlueCatalog(glue).add_partitions(database, table["Name"], values)
                count += 1
        return count

    def put_notifications_and_metrics(self) -> tuple[int, int]:
        """The notifications and metric records written since the last mirror."""
        marks = mirror_marks(self.lake)
        sources = mirror_sources(self.lake)
        notifications = read_lines(sources["notifications"])[marks.get("notifications", 0) :]
        metrics = read_lines(sources["metrics"])[marks.get("metrics", 0) :]
        sns, cloudwatch = self.client("sns"), self.client("cloudwatch")
        for line in notifications:
            notification = self.translate(json.loads(line))
            sns.publish(
                TopicArn=self.outputs["NotificationTopicArn"],
                Subject=notification["Subject"],
                Message=json.dumps(notification["Message"]),
            )
        for line in metrics:
            put = json.loads(line)
            stamp = datetime.fromisoformat(put["Timestamp"])
            cloudwatch.put_metric_data(
                Namespace=put["Namespace"],
                MetricData=[
                    {**m, "Timestamp": m.get("Timestamp", stamp)} for m in put["MetricData"]
                ],
            )
        marks["notifications"] = marks.get("notifications", 0) + len(notifications)
        marks["metrics"] = marks.get("metrics", 0) + len(metrics)
        write_mirror_marks(self.lake, marks)
        return len(notifications), len(metrics)

    def _post(self, what: str, body: dict) -> str:
        request = urllib.request.Request(
            f"{self.endpoint.url}{RECORD_PATH}{what}",
            data=json.dumps(body, default=_iso).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())["recorded"]
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}").get("error", error.reason)
            raise MirrorError(f"recording the {what} failed: {detail}") from None


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to the endpoint")
