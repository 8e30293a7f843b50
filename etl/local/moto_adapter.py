"""Run a state machine definition locally with moto's Step Functions interpreter.

Why moto: moto 5.2.5 (pinned in requirements.txt) carries LocalStack's Amazon States
Language interpreter, which really executes a definition (Choice, Wait, Pass, Retry,
Catch, paths, intrinsic functions, the ``$$`` context, execution history) when enabled with
``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``. Writing our own
interpreter would mean re-deriving all of that. moto only stands in for the AWS APIs here.

The seam: the interpreter calls every Task resource through a boto3 client made from
boto3's default session (``moto...asl.utils.boto_client.boto_client_for``). We register
botocore ``before-call`` handlers on that session; a handler that returns a response
short-circuits the call (the mechanism ``botocore.stub.Stubber`` uses), so
``(service, operation)`` pairs we own are answered by local Python functions and everything
else falls through to moto's in-memory backends. Handlers receive the API parameters and
return the parsed response dict, or raise ``AwsServiceError`` to answer with an AWS error.

Three small corrections to moto 5.2.5, applied only inside ``local_step_functions``:

* ``glue:startJobRun.sync`` crashes in moto's shared callback code because the Glue
  integration has no task token to release; we give it one, as the Lambda integration has.
* ``aws-sdk:glue:*`` errors are named ``glue.X`` instead of AWS's ``Glue.X``, so a
  ``Retry`` on ``Glue.CrawlerRunningException`` would never match locally.
* Time compression: ``Wait`` states and ``Retry`` intervals are multiplied by
  ``time_scale`` (0 = no waiting) without touching the definition.

Two shortcuts for reading: ``execution_events`` takes a running execution's history, and
``execution_status`` its status, straight from moto's in-process backend. Through the API,
moto serialises the whole history on every call: 29 ms of CPU for a 63-event history against
0.4 ms here (measured on the sample run), and following a run's progress four times a second
that way took a 2 M-row run some 7 s of the CPU its Spark job needed. A ``DescribeExecution``
through botocore, polled ten times a second, held the interpreter lock for 0.7 s of a 2 M-row
run (py-spy ``--gil``), competing with the quality Lambda.

One import deferred: the interpreter imports a Task class for every service it integrates
with, and its AWS Batch one imports moto's Batch and EC2 models (region and instance-type
tables): 0.7 s of import, a second of a cold run's CPU, for a service the workflow never
calls. ``local_step_functions`` hands the interpreter a stand-in for that module whose
``StateTaskServiceBatch`` imports moto's own the first time a definition has a Batch Task,
so such a definition runs as before. Measured on the 1,000-row sample, cold, five
interleaved pairs: 8.4-9.5 s with the import, 7.6-8.0 s without.

And one guard: the interpreter runs a ``Parallel`` state's branches in threads of their own
(really at the same time), and each Task makes a boto3 client from the one default session,
whose client creation is not thread-safe; creating clients is serialised (calls are not).

``tests/workflow/test_moto_adapter.py`` exercises each of these, so a moto upgrade that
moves them fails loudly there instead of silently changing local runs.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import io
import json
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from unittest import mock

Handler = Callable[[dict], dict]
REGION = "us-east-1"
ACCOUNT = "123456789012"


class AwsServiceError(Exception):
    """Raised by a local handler to answer the call with an AWS error response."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class _Response:
    """The minimal HTTP response botocore needs after a short-circuited call."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""
        self.raw = io.BytesIO()


def _dispatch(handlers: dict[tuple[str, str], Handler]):
    """botocore event handlers that answer the calls listed in ``handlers``."""

    def remember_params(params, context, model, **_):
        context["etl_local_params"] = params

    def answer(model, context, **_):
        service = model.service_model.service_name
        handler = handlers.get((service, model.name))
        if handler is None:
            return None
        try:
            result = handler(dict(context.get("etl_local_params") or {}))
        except AwsServiceError as error:
            body = {"Error": {"Code": error.code, "Message": error.message}}
            body["ResponseMetadata"] = {"HTTPStatusCode": error.status, "RequestId": "local"}
            return _Response(error.status), body
        if result is None:  # the handler declined: let moto answer
            return None
        result.setdefault("ResponseMetadata", {"HTTPStatusCode": 200, "RequestId": "local"})
        return _Response(200), result

    return remember_params, answer


def _compressed_wait(time_scale: float):
    def wait_interval(self, env, wait_seconds: int) -> None:
        deadline = time.monotonic() + max(0.0, wait_seconds * time_scale)
        while env.is_running() and (left := deadline - time.monotonic()) > 0:
            env.program_state_event.wait(left)

    return wait_interval


class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier: scaled ``sleep``."""

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale

    def sleep(self, seconds: float) -> None:
        threading.Event().wait(max(0.0, seconds * self.time_scale))


@contextmanager
def local_step_functions(
    handlers: dict[tuple[str, str], Handler], time_scale: float = 0.0
) -> Iterator[None]:
    """Inside: moto executes state machines, and ``handlers`` answer the calls they own.

    ``handlers`` maps ``(botocore service name, operation name)``, e.g. ``("glue",
    "StartJobRun")``, to a function of the call's parameters.
    """
    import boto3

    _defer_batch_task_import()
    from moto import mock_aws
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        resource as sfn_resource,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_glue as glue,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    glue_patterns = {
        *glue._SUPPORTED_INTEGRATION_PATTERNS,
        sfn_resource.ResourceCondition.WaitForTaskToken,
    }
    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.dict(
                "os.environ",
                {"AWS_DEFAULT_REGION": REGION, "MOTO_ACCOUNT_ID": ACCOUNT},
            )
        )
        stack.enter_context(
            mock_aws(
                config={
                    "stepfunctions": {"execute_state_machine": True},
                    "lambda": {"use_docker": False},
                }
            )
        )
        stack.enter_context(
            mock.patch.object(glue, "_SUPPORTED_INTEGRATION_PATTERNS", glue_patterns)
        )
        stack.enter_context(mock.patch.dict(aws_sdk._SERVICE_ERROR_NAMES, {"glue": "Glue"}))
        stack.enter_context(
            mock.patch.object(
                wait_function.WaitFunction, "_wait_interval", _compressed_wait(time_scale)
            )
        )
        stack.enter_context(mock.patch.object(retrier_decl, "time", _ScaledTime(time_scale)))
        boto3.setup_default_session(region_name=REGION)
        _serialise_client_creation(boto3.DEFAULT_SESSION)
        remember_params, answer = _dispatch(handlers)
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", remember_params)
        boto3.DEFAULT_SESSION.events.register("before-call", answer)
        yield


BATCH_TASK_MODULE = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch"
)


def _defer_batch_task_import() -> None:
    """Have the interpreter import its AWS Batch Task when a definition first has one, not
    when it starts (see the module's docstring); no-op once that module is imported."""
    if BATCH_TASK_MODULE in sys.modules:
        return
    stand_in = types.ModuleType(BATCH_TASK_MODULE, "moto's AWS Batch Task, imported when made")
    stand_in.StateTaskServiceBatch = lambda: _batch_task_class()()
    sys.modules[BATCH_TASK_MODULE] = stand_in


@functools.cache
def _batch_task_class() -> type:
    """moto's ``StateTaskServiceBatch``, its module imported now (and kept in its place)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import service

    spec = importlib.machinery.PathFinder.find_spec(BATCH_TASK_MODULE, service.__path__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[BATCH_TASK_MODULE] = module
    return module.StateTaskServiceBatch


def execution_status(execution_arn: str) -> str:
    """An execution's status (``RUNNING``, ``SUCCEEDED``, ...) in this process's moto, read
    from its backend: a ``DescribeExecution`` call takes ~4 ms of CPU through botocore, and a
    run polls ten times a second. Call inside ``local_step_functions``."""
    from moto.stepfunctions.responses import get_backend

    execution = get_backend(ACCOUNT, REGION).describe_execution(execution_arn)
    return execution.exec_status.value if execution.exec_status else "RUNNING"


def execution_events(execution_arn: str) -> list[dict]:
    """The history events of an execution in this process's moto, as ``GetExecutionHistory``
    lists them (same order and fields, timestamps as datetimes), without the API's
    serialisation. Call inside ``local_step_functions``."""
    from moto.stepfunctions.responses import get_backend

    return get_backend(ACCOUNT, REGION).get_execution_history(execution_arn)["events"]


def _serialise_client_creation(session) -> None:
    """One client created at a time from ``session`` (botocore sessions are not thread-safe)."""
    create, lock = session.client, threading.Lock()

    def client(*args, **kwargs):
        with lock:
            return create(*args, **kwargs)

    session.client = client


def json_payload(value: object) -> io.BytesIO:
    """A Lambda ``Invoke`` response ``Payload`` stream holding ``value`` as JSON."""
    return io.BytesIO(json.dumps(value, default=str).encode("utf-8"))
