"""Execute the workflow definition locally, one execution at a time, and keep its history.

``LocalWorkflow`` deploys ``infra/statemachine/etl_workflow.asl.json`` (substitutions filled
with local names) to moto's Step Functions, answers its Tasks with ``LocalServices``, and
saves every finished execution's history in the lake.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from unittest import mock
from urllib.parse import quote_plus

from etl.jobs.session import get_spark
from etl.lambdas import trigger
from etl.local import aws_mirror, history
from etl.local.definition import DEFINITION_PATH, load_definition, render
from etl.local.lineage import ExecutionLineage
from etl.local.moto_adapter import execution_events, execution_status, local_step_functions
from etl.local.services import LocalNames, LocalServices, etag_of
from etl.storage.lake import Lake, keep_current_version

DEFAULT_TIMEOUT = 1800.0
# Poll often at first (a small run's execution takes seconds), then less: each poll is an
# API call into moto that competes with the execution's own Python threads.
POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.1
REPORT_SECONDS = 0.25
EventCallback = Callable[[dict], None]


class LocalWorkflow:
    """The state machine running locally; use as a context manager."""

    def __init__(
        self,
        lake: Lake,
        spark=None,
        time_scale: float = 0.0,
        services: LocalServices | None = None,
        definition_path: Path = DEFINITION_PATH,
        echo: bool = True,
        show_progress: bool = False,
    ) -> None:
        self.lake = lake.ensure()
        self.services = services or LocalServices(
            lake,
            spark_factory=self._spark_factory(spark),
            echo=echo,
            show_progress=show_progress,
        )
        self.names: LocalNames = self.services.names
        self.time_scale = time_scale
        self.definition = render(load_definition(definition_path), self.names.substitutions())
        self._stack = ExitStack()
        self.state_machine_arn = ""
        # The execution an interrupt stopped waiting for (recorded ABORTED); its thread goes
        # on in the background, so a CLI ends the process rather than waiting for it.
        self.interrupted: str | None = None

    @staticmethod
    def _spark_factory(spark):
        """``spark`` is a session, a function returning one (e.g. a session being started
        in the background), or None for the default session."""

        def get():
            if spark is None:
                return get_spark()
            return spark() if callable(spark) else spark

        return get

    def __enter__(self) -> LocalWorkflow:
        import boto3

        stack = self._stack.__enter__()
        quiet = logging.getLogger("moto.stepfunctions")
        stack.callback(quiet.setLevel, quiet.level)
        quiet.setLevel(logging.CRITICAL)  # moto logs every caught task error as a warning
        stack.enter_context(local_step_functions(self.services.handlers(), self.time_scale))
        self.sfn = boto3.client("stepfunctions")
        self.state_machine_arn = self.sfn.create_state_machine(
            name=self.names.state_machine, definition=self.definition, roleArn=self.names.role_arn
        )["stateMachineArn"]
        stack.enter_context(
            mock.patch.dict("os.environ", {"STATE_MACHINE_ARN": self.state_machine_arn})
        )
        return self

    def __exit__(self, *exc) -> bool | None:
        return self._stack.__exit__(*exc)

    # --- starting --------------------------------------------------------------------
    def start(self, execution_input: dict, name: str) -> str:
        """StartExecution; raises ``ExecutionAlreadyExists`` for a name already used."""
        return self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]

    def landed_input(self, uri: str, run_date: date) -> dict:
        """The execution input the S3 event for a landed object would give: ``uri`` is a
        version ``land_file`` returned, or a key's path in ``raw/incoming/`` (its current
        version)."""
        path = Path(self.landed_version(uri))
        return trigger.execution_input(
            self.names.bucket("raw"),
            self.raw_key(path),
            etag_of(path),
            path.stat().st_size,
            run_date,
            version_id=self.lake.raw_version(str(path)),
        )

    def landed_version(self, uri: str) -> str:
        """The kept version behind ``uri``: itself, or the current version of a key's path."""
        path = str(Path(uri).resolve())
        return path if self.lake.raw_version(path) else keep_current_version(self.lake, path)

    def raw_key(self, path: Path) -> str:
        """The S3 key of a file in the local raw zone (``incoming/...``), also for a version."""
        return self.lake.raw_key(str(path.resolve()))

    def run_landed(self, uri: str, run_date: date, on_event: EventCallback | None = None) -> dict:
        """Run the workflow on a landed file, as a manual re-drive (a fresh execution name).

        ``on_event`` receives each history event while the execution runs (for progress).
        """
        execution_input = self.landed_input(uri, run_date)
        obj = execution_input["inputData"]
        name = trigger.execution_name(obj["key"], f"{obj['etag']}:{uuid.uuid4().hex}")
        return self.wait(self.start(execution_input, name), on_event=on_event)

    def object_created_event(self, path: Path) -> dict:
        """The S3 event notification S3 would send for ``path`` in ``raw/incoming/`` (a
        versioned bucket's: the object's current version)."""
        version = Path(self.landed_version(str(path)))
        stat = version.stat()
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": self.names.bucket("raw")},
                        "object": {
                            "key": quote_plus(self.raw_key(path)),
                            "size": stat.st_size,
                            "eTag": etag_of(version),
                            "versionId": self.lake.raw_version(str(version)),
                        },
                    },
                }
            ]
        }

    def run_new_landings(self) -> list[dict]:
        """Trigger every object in ``raw/incoming/``; the trigger skips those already run."""
        landed = sorted(
            p
            for p in Path(self.lake.landing_path("")).rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.parts)
        )
        return [r for path in landed for r in self.trigger(self.object_created_event(path))]

    def trigger(self, event: dict) -> list[dict]:
        """Feed an S3/EventBridge event to the trigger Lambda; wait for what it started."""
        result = trigger.handler(event, None)
        return [self.wait(e["executionArn"]) for e in result["executions"] if "executionArn" in e]

    # --- finishing -------------------------------------------------------------------
    def wait(
        self,
        execution_arn: str,
        timeout: float = DEFAULT_TIMEOUT,
        on_event: EventCallback | None = None,
    ) -> dict:
        """Block until the execution stops; save and return its history record.

        ``on_event`` is called once per history event, in order, as events appear. Until
        then the execution is recorded RUNNING by this process: if the process dies,
        ``etl executions`` shows it ABORTED; an interrupt (Ctrl-C, SIGTERM in ``etl run``)
        or a timeout records it ABORTED at once.
        """
        started = self.sfn.describe_execution(executionArn=execution_arn)
        started.pop("ResponseMetadata", None)
        history.save_running(self.lake, started)
        try:
            return self._follow(execution_arn, timeout, on_event)
        except BaseException as error:
            if history.load(self.lake, started["name"])["execution"]["status"] != "RUNNING":
                raise  # it stopped and was recorded; what failed came after
            self.interrupted = started["name"]
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
            record = history.aborted(started, reason, stopped=datetime.now(UTC))
            history.save(self.lake, record, self._history(execution_arn))
            raise

    def _follow(self, execution_arn: str, timeout: float, on_event: EventCallback | None):
        """``wait`` without the ABORTED record."""
        deadline = time.monotonic() + timeout
        tick = threading.Event()
        reported, next_report, poll = 0, 0.0, POLL_SECONDS
        # OpenLineage START / COMPLETE / FAIL around the execution, kept in the lake.
        lineage = ExecutionLineage(self.services)
        lineage.started(self.sfn.describe_execution(executionArn=execution_arn))
        while execution_status(execution_arn) == "RUNNING":
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout} s")
            if on_event and now >= next_report:
                reported = self._report(execution_arn, reported, on_event)
                next_report = now + REPORT_SECONDS
            tick.wait(poll)
            poll = min(poll * 1.25, MAX_POLL_SECONDS)
        described = self.sfn.describe_execution(executionArn=execution_arn)
        described.pop("ResponseMetadata", None)
        events = self._history(execution_arn)
        for event in events[reported:] if on_event else ():
            on_event(event)
        history.save(self.lake, described, events)
        record = {"execution": described, "events": events}
        lineage.stopped(record)
        # Recorded into the local AWS endpoint too, when `etl aws up` runs one for this lake.
        aws_mirror.mirror_execution(self.lake, record, self.names, echo=self.services.echo)
        return record

    def _report(self, execution_arn: str, reported: int, on_event: EventCallback) -> int:
        events = execution_events(execution_arn)  # in-process: cheap enough to poll
        for event in events[reported:]:
            on_event(event)
        return max(reported, len(events))

    def _history(self, execution_arn: str) -> list[dict]:
        events: list[dict] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(
            executionArn=execution_arn
        ):
            events.extend(page["events"])
        return events
