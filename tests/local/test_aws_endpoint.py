"""``etl aws up | status | down``: one server per lake, started once, stopped by its own PID.

These start the real server process (``etl.local.aws_server``) but replace the deploy with a
recorder: deploying is tested in tests/infra, and end to end in test_aws_endpoint_e2e.py.
"""

from __future__ import annotations

import json
import os
import socket

import psutil
import pytest

from etl.cli.main import main
from etl.local import aws_endpoint, aws_mirror


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def deploys(monkeypatch) -> list[str]:
    """The endpoints `up` deployed to (the deploy itself is not run here)."""
    calls: list[str] = []
    monkeypatch.setattr(aws_endpoint, "deploy", lambda lake, endpoint: calls.append(endpoint.url))
    monkeypatch.setattr(aws_endpoint, "subscribe_inbox", lambda endpoint: "")
    return calls


@pytest.fixture
def endpoint_lake(lake):
    """A lake whose endpoint, if a test leaves one running, is stopped afterwards."""
    yield lake
    aws_endpoint.stop(lake)


def test_up_starts_a_detached_server_that_answers_and_records_its_pid(endpoint_lake, deploys):
    endpoint, started = aws_endpoint.up(endpoint_lake, free_port())
    assert started
    assert aws_endpoint.answers(endpoint.url)
    process = psutil.Process(endpoint.pid)
    assert "etl.local.aws_server" in process.cmdline()
    assert os.getsid(endpoint.pid) == endpoint.pid, "its own session: Ctrl-C does not reach it"
    recorded = json.loads((aws_endpoint.folder(endpoint_lake) / "endpoint.json").read_text())
    assert (recorded["pid"], recorded["port"]) == (endpoint.pid, endpoint.port)
    assert deploys == [endpoint.url]


def test_up_when_already_up_starts_and_deploys_nothing(endpoint_lake, deploys):
    first, _ = aws_endpoint.up(endpoint_lake, free_port())
    again, started = aws_endpoint.up(endpoint_lake, free_port())
    assert not started
    assert again == first
    assert deploys == [first.url]


def test_down_stops_the_recorded_process_and_forgets_it(endpoint_lake, deploys):
    endpoint, _ = aws_endpoint.up(endpoint_lake, free_port())
    assert aws_endpoint.stop(endpoint_lake) == endpoint
    assert not psutil.pid_exists(endpoint.pid) or (
        psutil.Process(endpoint.pid).status() == psutil.STATUS_ZOMBIE
    )
    assert aws_endpoint.running(endpoint_lake) is None
    assert not (aws_endpoint.folder(endpoint_lake) / "endpoint.json").exists()


def test_down_when_not_running_is_harmless(endpoint_lake, capsys):
    assert main(["aws", "down", "--lake", endpoint_lake.root]) == 0
    assert capsys.readouterr().out.strip() == "not running; nothing to stop"


def test_down_leaves_alone_a_process_that_reused_the_recorded_pid(endpoint_lake):
    folder = aws_endpoint.folder(endpoint_lake)
    folder.mkdir(parents=True, exist_ok=True)
    stale = {"pid": os.getpid(), "create_time": 1.0, "host": "127.0.0.1", "port": 1, "started": ""}
    (folder / "endpoint.json").write_text(json.dumps(stale))
    assert aws_endpoint.stop(endpoint_lake) is None
    assert psutil.pid_exists(os.getpid())  # this test process: not ours to stop
    assert not (folder / "endpoint.json").exists(), "the stale record is forgotten"


def test_status_says_not_running_without_an_endpoint(endpoint_lake, capsys):
    assert main(["aws", "status", "--lake", endpoint_lake.root]) == 0
    assert capsys.readouterr().out.startswith("not running")


def test_status_names_the_url_pid_and_that_no_stack_is_deployed(endpoint_lake, deploys, capsys):
    endpoint, _ = aws_endpoint.up(endpoint_lake, free_port())
    assert main(["aws", "status", "--lake", endpoint_lake.root]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"running: {endpoint.url} (PID {endpoint.pid}")
    assert out[1].split() == ["stacks", "none", "deployed"]


def test_up_on_a_port_in_use_fails_in_one_line(endpoint_lake, deploys, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["aws", "up", "--lake", endpoint_lake.root, "--port", str(port)]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line == f"error: port {port} on 127.0.0.1 is in use; pick another with --port N"
    assert deploys == []


def test_a_run_is_not_mirrored_when_no_endpoint_runs(endpoint_lake):
    record = {"execution": {"name": "x", "status": "SUCCEEDED"}, "events": []}
    assert aws_mirror.mirror_execution(endpoint_lake, record, names=None) is None


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_port_that_is_not_1_to_65535_is_a_usage_error(port, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["aws", "up", "--port", port])
    assert stopped.value.code == 2
    assert f"{port!r} is not a port number (1-65535)" in capsys.readouterr().err
