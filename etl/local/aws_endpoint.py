"""``etl aws up | status | down``: a local AWS endpoint holding the deployed stacks.

``up`` starts ``etl.local.aws_server`` (moto's APIs plus a recording path) on 127.0.0.1 as a
detached background process, records it under ``<lake>/_system/aws/``, deploys the stacks
into it with the real ``scripts/deploy.sh dev --endpoint-url URL`` and subscribes a queue to
the notification topic (the local stand-in for an e-mail subscription, so the messages can be
read back). While it runs, ``etl.local.aws_mirror`` records each local execution into it, so
the AWS CLI's ``--endpoint-url URL`` answers with the local runs' facts.

Files under ``<lake>/_system/aws/``: ``endpoint.json`` (PID, its start time, port, URL),
``server.log`` (the server's output), ``deploy.log`` (the last deploy's output) and
``mirror.json`` (how much of the lake's notifications and metrics has been recorded).
``down`` stops only the process ``endpoint.json`` names, and only if it is still that process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from etl.core.errors import EtlError
from etl.core.paths import REPO_ROOT
from etl.storage.lake import Lake

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
RECORD_PATH = "/_etl/record/"
ENVIRONMENT = "dev"
PROJECT = "etl-pipeline"
STACKS = ("data-lake", "glue", "workflow", "monitoring")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
# An emulator checks no signature: any key works, but the AWS CLI wants one to sign with.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
INBOX_QUEUE = f"{PROJECT}-{ENVIRONMENT}-notifications-inbox"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
DEPLOY_TIMEOUT = 600.0


class EndpointError(EtlError):
    """The endpoint could not be started, deployed or stopped; the message says why."""


@dataclass(frozen=True)
class Endpoint:
    """A running endpoint as recorded in ``endpoint.json``."""

    pid: int
    create_time: float
    host: str
    port: int
    started: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, service: str):
        """A boto3 client of this endpoint (dummy credentials, the deploy's region)."""
        import boto3

        return boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        ).client(service, endpoint_url=self.url)

    def environment(self) -> dict[str, str]:
        """The variables that point the AWS CLI (and boto3) at this endpoint."""
        return {**CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": self.url}


def folder(lake: Lake) -> Path:
    return Path(lake.system_path("aws"))


def _record_path(lake: Lake) -> Path:
    return folder(lake) / "endpoint.json"


def recorded(lake: Lake) -> Endpoint | None:
    """The endpoint ``endpoint.json`` names, running or not."""
    path = _record_path(lake)
    if not path.is_file():
        return None
    try:
        return Endpoint(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        return None  # unreadable: treated as no record, replaced by the next `up`


def _is_ours(endpoint: Endpoint) -> bool:
    """Is the recorded PID still the process `up` started (not a reused PID)?"""
    import psutil

    try:
        process = psutil.Process(endpoint.pid)
        alive = process.status() != psutil.STATUS_ZOMBIE
        return alive and abs(process.create_time() - endpoint.create_time) < 1.0
    except psutil.Error:
        return False


def running(lake: Lake) -> Endpoint | None:
    """The lake's endpoint if its process is alive, else ``None``."""
    endpoint = recorded(lake)
    return endpoint if endpoint and _is_ours(endpoint) else None


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------- up
def start_server(lake: Lake, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> Endpoint:
    """Start the server detached (own session, output to ``server.log``); wait until it answers."""
    import psutil

    if not _port_free(host, port):
        raise EndpointError(f"port {port} on {host} is in use; pick another with --port N")
    state = folder(lake)
    state.mkdir(parents=True, exist_ok=True)
    # The server imports this same etl package, wherever it is imported from here.
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, **CREDENTIALS, "AWS_DEFAULT_REGION": REGION}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "etl.local.aws_server", "--host", host, "--port", str(port)]
    with (state / "server.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # not in the terminal's process group: Ctrl-C spares it
        )
    endpoint = Endpoint(
        pid=process.pid,
        create_time=psutil.Process(process.pid).create_time(),
        host=host,
        port=port,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _record_path(lake).write_text(json.dumps(asdict(endpoint), indent=2) + "\n", encoding="utf-8")
    deadline = time.monotonic() + START_TIMEOUT
    tick = threading.Event()
    while not answers(endpoint.url, timeout=1.0):
        if process.poll() is not None:
            _record_path(lake).unlink(missing_ok=True)
            raise EndpointError(
                f"the server exited at start (code {process.returncode}); "
                f"see {state / 'server.log'}"
            )
        if time.monotonic() > deadline:
            stop(lake)
            raise EndpointError(f"the server did not answer within {START_TIMEOUT:.0f} s")
        tick.wait(0.1)
    return endpoint


def deploy(lake: Lake, endpoint: Endpoint) -> None:
    """``scripts/deploy.sh dev --endpoint-url URL``; its output goes to ``deploy.log``."""
    log_path = folder(lake) / "deploy.log"
    script = REPO_ROOT / "scripts" / "deploy.sh"
    env = {**os.environ, **endpoint.environment()}
    env.pop("AWS_ENDPOINT_URL")  # the script takes it as an argument
    env.pop("AWS_PROFILE", None)  # the dummy credentials, not a real profile's
    with log_path.open("w", encoding="utf-8") as log:
        try:
            result = subprocess.run(
                [str(script), ENVIRONMENT, "--endpoint-url", endpoint.url],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=DEPLOY_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise EndpointError(
                f"deploying took over {DEPLOY_TIMEOUT:.0f} s; see {log_path}"
            ) from None
    if result.returncode != 0:
        lines = log_path.read_text(encoding="utf-8").splitlines()
        reason = next((line for line in reversed(lines) if line.startswith("error:")), "")
        raise EndpointError(f"deploying the stacks failed ({reason or 'see the log'}); {log_path}")


def subscribe_inbox(endpoint: Endpoint) -> str:
    """A queue subscribed to the notification topic; return its URL (idempotent)."""
    sqs, sns = endpoint.client("sqs"), endpoint.client("sns")
    queue_url = sqs.create_queue(QueueName=INBOX_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    topic_arn = stack_outputs(endpoint)["NotificationTopicArn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    if not any(s["Endpoint"] == queue_arn for s in subscriptions):
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


MIRROR_FILE = "mirror.json"


# --------------------------------------------------------------------------- mirror bookkeeping
def mirror_sources(lake: Lake) -> dict[str, Path]:
    """The lake's local SNS and CloudWatch stand-ins (one JSON record per line)."""
    return {
        "notifications": Path(lake.system_path("notifications", "notifications.jsonl")),
        "metrics": Path(lake.system_path("metrics", "metrics.jsonl")),
    }


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def start_recording(lake: Lake) -> None:
    """Called by ``etl aws up``: runs from now on are recorded, earlier ones are not."""
    marks = {name: len(read_lines(path)) for name, path in mirror_sources(lake).items()}
    write_mirror_marks(lake, marks)


def mirror_marks(lake: Lake) -> dict[str, int]:
    path = folder(lake) / MIRROR_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_mirror_marks(lake: Lake, marks: dict[str, int]) -> None:
    path = folder(lake) / MIRROR_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(marks) + "\n", encoding="utf-8")


def up(lake: Lake, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> tuple[Endpoint, bool]:
    """Start and deploy the endpoint; ``(endpoint, False)`` if it was already up (untouched)."""
    lake.ensure()
    current = running(lake)
    if current is not None:
        return current, False
    endpoint = start_server(lake, port, host)
    try:
        deploy(lake, endpoint)
        subscribe_inbox(endpoint)
    except BaseException:
        stop(lake)
        raise
    start_recording(lake)
    return endpoint, True


# --------------------------------------------------------------------------- status, down
def stack_outputs(endpoint: Endpoint) -> dict[str, str]:
    """Every deployed stack's outputs, merged (missing stacks give none)."""
    cloudformation = endpoint.client("cloudformation")
    outputs: dict[str, str] = {}
    for stack in stack_statuses(endpoint):
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        outputs.update({o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])})
    return {k: v for k, v in outputs.items() if not k.startswith("EmulatedResource")}


def stack_statuses(endpoint: Endpoint) -> dict[str, str]:
    """``{stack name: status}`` of this project's stacks in the endpoint, in deploy order."""
    stacks = endpoint.client("cloudformation").describe_stacks()["Stacks"]
    live = {
        s["StackName"]: s["StackStatus"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"
    }
    names = [f"{PROJECT}-{ENVIRONMENT}-{stack}" for stack in STACKS]
    return {name: live[name] for name in names if name in live}


def stop(lake: Lake) -> Endpoint | None:
    """Stop the recorded server if it is still the process `up` started; forget the record.

    Returns the endpoint stopped, or ``None`` when nothing was running (a stale record is
    removed, and a PID now used by another process is left alone).
    """
    import psutil

    endpoint = running(lake)
    _record_path(lake).unlink(missing_ok=True)
    if endpoint is None:
        return None
    try:
        process = psutil.Process(endpoint.pid)
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
    except psutil.NoSuchProcess:
        pass
    return endpoint


def export_lines(endpoint: Endpoint) -> list[str]:
    return [f"export {k}={v}" for k, v in endpoint.environment().items()]
