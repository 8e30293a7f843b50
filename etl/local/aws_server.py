"""The local AWS endpoint's server: moto's APIs, plus a path that records local runs.

``python -m etl.local.aws_server --port N`` serves every AWS API moto emulates, like
``moto_server``, and one path more, ``/_etl/record/<what>``, through which
``etl.local.aws_mirror`` puts what no AWS API lets a client write: a Step Functions execution
with the status, dates, input, output and full history of a local run, and the Glue job run
it made. (moto's own ``StartExecution`` would invent both: its history is a fixed sample.)
The recorded objects live in moto's backends, so ``describe-execution``,
``get-execution-history`` and ``get-job-runs`` answer with them.

``etl aws up`` starts this process in the background; ``etl.local.aws_endpoint`` manages it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from datetime import datetime
from typing import Any

from moto.glue.models import FakeJobRun, glue_backends
from moto.stepfunctions.models import Execution, stepfunctions_backends

from etl.local.aws_endpoint import DEFAULT_HOST, DEFAULT_PORT, RECORD_PATH


def _time(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class RecordedExecution(Execution):
    """An execution whose facts and history are a local run's."""

    events: list[dict]

    def get_execution_history(self, roleArn: str) -> list[dict]:
        return self.events


class RecordedJobRun(FakeJobRun):
    """A job run whose state, dates and arguments are a local run's."""

    recorded: dict

    @property
    def status(self) -> str:
        return self.recorded["JobRunState"]

    def as_dict(self) -> dict:
        return self.recorded


def record_execution(record: dict) -> str:
    """Add (or replace) an execution of a deployed state machine; return its ARN.

    ``record`` is ``{"execution": <describe-execution>, "events": <history events>}``.
    """
    described = record["execution"]
    _, _, _, region, account, *_ = described["stateMachineArn"].split(":")
    machine = stepfunctions_backends[account][region].describe_state_machine(
        described["stateMachineArn"]
    )

    execution = RecordedExecution(
        region_name=region,
        account_id=account,
        state_machine_name=machine.name,
        execution_name=described["name"],
        state_machine_arn=machine.arn,
        execution_input=described.get("input", "{}"),
    )
    execution.start_date = _time(described["startDate"])
    execution.stop_date = _time(described.get("stopDate"))
    execution.status = described["status"]
    execution.output = described.get("output")
    execution.output_details = described.get("outputDetails")
    execution.error = described.get("error")
    execution.cause = described.get("cause")
    execution.events = [{**e, "timestamp": _time(e["timestamp"])} for e in record["events"]]
    machine.executions = [
        e for e in machine.executions if e.execution_arn != execution.execution_arn
    ] + [execution]
    return execution.execution_arn


def record_job_run(record: dict) -> str:
    """Add (or replace) a run of a deployed Glue job; return its id.

    ``record`` is ``{"region": ..., "account": ..., "JobRun": <get-job-run's JobRun>}``.
    """
    run = {
        key: _time(value) if key in ("StartedOn", "CompletedOn", "LastModifiedOn") else value
        for key, value in record["JobRun"].items()
    }
    job = glue_backends[record["account"]][record["region"]].get_job(run["JobName"])
    job_run = RecordedJobRun(job_name=run["JobName"], arguments=run.get("Arguments"))
    job_run.job_run_id, job_run.recorded = run["Id"], run
    job.job_runs = [r for r in job.job_runs if r.job_run_id != run["Id"]] + [job_run]
    return run["Id"]


RECORDERS = {"execution": record_execution, "job-run": record_job_run}


class RecordingApp:
    """WSGI: ``POST /_etl/record/<what>`` to a recorder, everything else to moto."""

    def __init__(self, moto_app) -> None:
        self.moto_app = moto_app

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(RECORD_PATH):
            return self.moto_app(environ, start_response)
        recorder = RECORDERS.get(path.removeprefix(RECORD_PATH))
        status, answer = "200 OK", {}
        try:
            if recorder is None or environ.get("REQUEST_METHOD") != "POST":
                raise LookupError(f"POST {RECORD_PATH}{{{', '.join(RECORDERS)}}} only")
            length = int(environ.get("CONTENT_LENGTH") or 0)
            answer = {"recorded": recorder(json.loads(environ["wsgi.input"].read(length)))}
        except Exception as error:  # reported to the client, which prints it in one line
            status, answer = "400 Bad Request", {"error": f"{type(error).__name__}: {error}"}
        body = json.dumps(answer).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl.local.aws_server", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    # `etl aws down` sends SIGTERM: leave through SystemExit so the socket is closed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = RecordingApp(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
