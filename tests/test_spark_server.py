"""The local Spark server (``etl spark``): runs create their session on its warm context,
one at a time, write exactly what a run in a JVM of its own writes, and leave nothing behind.

Each test's server keeps its state in a folder of its own (``ETL_SPARK_SERVER``), so a
server the developer runs is never touched.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from etl.cli.main import main
from etl.jobs import spark_server
from etl.local.samples.orders import generate_orders, write_json_lines
from etl.storage.locks import pid_alive
from tests.process_support import lines_of

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 420  # seconds for one `etl run` on a busy 2-core machine


def environment(folder: Path) -> dict[str, str]:
    """The server's state in ``folder``, and temp files (the server's and the runs') in
    ``folder/tmp``."""
    temp = folder / "tmp"
    temp.mkdir(exist_ok=True)
    return os.environ | {
        "PYTHONPATH": str(ROOT),
        "ETL_SPARK_SERVER": str(folder),
        "TMPDIR": str(temp),
    }


def completed(
    folder: Path, argv: list[str], cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run ``argv`` with the server in ``folder`` (and ``env``); it must exit 0.
    ``subprocess.run`` reads its output to the end, so it returns only once no process is
    left holding that output open."""
    done = subprocess.run(
        argv,
        env=environment(folder) | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return done


def succeeds(folder: Path, argv: list[str], cwd: Path | None = None, **env: str) -> str:
    """Run ``argv`` with the server in ``folder`` (and ``env``); its output (it must exit 0)."""
    return completed(folder, argv, cwd, **env).stdout


def etl(folder: Path, *argv: str, **env: str) -> str:
    return succeeds(folder, [sys.executable, "-m", "etl.cli", *argv], **env)


def start_server(folder: Path, *argv: str, warm_up_rows: int = 0, **env: str) -> str:
    """``etl spark start`` with the server in ``folder``; without a warm-up unless asked, so
    the tests' runs, not the warm-up, decide what uses the server when."""
    return etl(folder, "spark", "start", "--warm-up-rows", str(warm_up_rows), *argv, **env)


def python(folder: Path, code: str, cwd: Path) -> str:
    return succeeds(folder, [sys.executable, "-c", code], cwd)


def etl_run(folder: Path, source: Path, lake: Path, **env: str) -> dict:
    return json.loads(etl_run_said(folder, source, lake, **env)[0])


def etl_run_said(folder: Path, source: Path, lake: Path, **env: str) -> tuple[str, str]:
    """``etl run --json`` (it must exit 0): its stdout and stderr."""
    argv = ["run", str(source), "--lake", str(lake), "--run-date", "2026-11-26", "--json"]
    done = completed(folder, [sys.executable, "-m", "etl.cli", *argv], **env)
    return done.stdout, done.stderr


def state_in(folder: Path, monkeypatch) -> spark_server.ServerState | None:
    monkeypatch.setenv("ETL_SPARK_SERVER", str(folder))
    return spark_server.running()


def wait_until(condition, what: str, timeout: float = 120.0) -> None:
    """Wait, with a bound, for something another process does."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {timeout} s"
        pause.wait(0.1)


RUN_OWN = {"run_id", "source_key"}  # the run's id and its lake's raw version: each run's own


def curated_rows(lake: Path) -> list[dict]:
    """Every curated record (processed and quarantined) with the table it is in."""
    rows = []
    for file in (lake / "curated").rglob("*.parquet"):
        table = file.relative_to(lake / "curated").parts[:2]
        for row in pq.read_table(file).to_pylist():
            rows.append({"table": table} | {k: v for k, v in row.items() if k not in RUN_OWN})
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Spark server of this module's own: its state folder and its state."""
    folder = tmp_path_factory.mktemp("spark-server")
    started = start_server(folder, "--idle-minutes", "10")
    assert "started: PID" in started
    state = spark_server.ServerState(**json.loads(next(folder.glob("server-*.json")).read_text()))
    yield folder, state
    etl(folder, "spark", "stop")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("feed")
    return write_json_lines(generate_orders(200, date(2026, 11, 26)), folder / "orders.json")


@pytest.fixture(scope="module")
def run_beside_busy_server(server, source, tmp_path_factory):
    """A run started while this process holds the server's lease, as another run would."""
    folder, _ = server
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ETL_SPARK_SERVER", str(folder))
        lease = spark_server.take_lease()
        assert lease is not None
        try:
            lake = tmp_path_factory.mktemp("busy") / "lake"
            return etl_run(folder, source, lake), lake
        finally:
            spark_server.release_lease(lease)


def test_a_run_that_finds_the_server_in_use_starts_a_jvm_of_its_own(run_beside_busy_server):
    result, _ = run_beside_busy_server
    assert result["status"] == "SUCCEEDED"
    assert result["spark"].startswith("its own JVM")


def test_runs_in_the_server_use_its_context_and_write_what_a_run_in_its_own_jvm_writes(
    server, source, run_beside_busy_server, tmp_path
):
    folder, state = server
    own_result, own_lake = run_beside_busy_server
    for attempt in ("first", "second"):  # the second reuses the context the first used
        lake = tmp_path / attempt / "lake"
        result = etl_run(folder, source, lake)
        assert result["spark"] == f"the Spark server's warm JVM (PID {state.jvm_pid})"
        assert result["rows"] == own_result["rows"]
        assert curated_rows(lake) == curated_rows(own_lake)
    assert "free" in etl(folder, "spark", "status")


CLIENT = """\
import sys
from etl.jobs.session import get_spark, server_in_use
spark = get_spark()
spark.range(3).write.parquet("written-here")
spark.range(5).cache().count()
print(server_in_use().jvm_pid, flush=True)
sys.stdin.readline()
"""
PERSISTED = """\
from etl.jobs.session import get_spark, server_in_use
spark = get_spark()
print(server_in_use() is not None, len(spark.sparkContext._jsc.getPersistentRDDs()))
"""
STOPPING = """\
from etl.jobs.session import get_spark, server_in_use
spark = get_spark()
assert server_in_use() is not None
spark.stop()
"""


NOTEBOOK = """\
from etl.jobs.session import server_in_use
from etl.notebooks.session import notebook_spark
notebook_spark().range(3).count()
print(server_in_use() is not None)
"""


@pytest.mark.parametrize(("batch", "in_server"), [("", False), ("1", True)])
def test_an_open_notebook_never_takes_the_server_and_one_papermill_runs_does(
    server, tmp_path, batch, in_server
):
    folder, _ = server
    said = succeeds(folder, [sys.executable, "-c", NOTEBOOK], tmp_path, ETL_NOTEBOOK_BATCH=batch)
    assert said.split()[-1] == str(in_server)
    assert "free" in etl(folder, "spark", "status")


def test_a_killed_run_leaves_nothing_that_stops_the_next_one(server, source, tmp_path):
    folder, state = server
    with subprocess.Popen(
        [sys.executable, "-c", CLIENT],
        env=environment(folder),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as client:
        lines: queue.Queue = queue.Queue()
        lines_of(client.stdout, lines)
        assert lines.get(timeout=TIMEOUT) == f"{state.jvm_pid}\n"  # its session is up
        # Relative paths are the run's own directory's, not the server's.
        assert (tmp_path / "written-here").is_dir()
        client.kill()  # no chance to clear what it cached
    # Whoever comes first, the server tidying or the next run attaching, clears it.
    assert python(folder, PERSISTED, tmp_path) == "True 0\n"
    result = etl_run(folder, source, tmp_path / "lake")
    assert result["status"] == "SUCCEEDED"
    assert result["spark"] == f"the Spark server's warm JVM (PID {state.jvm_pid})"


def test_a_run_that_stops_the_shared_context_does_not_stop_the_server(server, source, tmp_path):
    folder, _ = server
    python(folder, STOPPING, tmp_path)
    result = etl_run(folder, source, tmp_path / "lake")  # in the server or in its own JVM
    assert result["status"] == "SUCCEEDED"
    log = next(folder.glob("server-*.log"))
    wait_until(lambda: "started it again" in log.read_text(), "started again")
    assert "True 0" in python(folder, PERSISTED, tmp_path)  # the server serves again


def test_an_idle_server_stops_by_itself_and_its_jvm_with_it(tmp_path, monkeypatch):
    started = start_server(tmp_path, "--idle-minutes", "0.01")
    # Its PIDs from what `start` printed: the server may already have stopped.
    pid, jvm_pid = map(int, re.findall(r"PID (\d+)", started))
    wait_until(lambda: not pid_alive(jvm_pid), "stopped")
    wait_until(lambda: not pid_alive(pid), "stopped")
    monkeypatch.setenv("ETL_SPARK_SERVER", str(tmp_path))
    assert spark_server.running() is None
    assert "stopped: idle for 0.01 min" in (spark_server.log_path()).read_text()
    assert "not running" in etl(tmp_path, "spark", "status")


def test_a_run_after_the_servers_jvm_died_starts_its_own_and_the_server_ends(
    source, tmp_path, monkeypatch
):
    started = start_server(tmp_path)
    pid, jvm_pid = map(int, re.findall(r"PID (\d+)", started))
    os.kill(jvm_pid, signal.SIGKILL)  # as the kernel's OOM killer would
    result = etl_run(tmp_path, source, tmp_path / "lake")
    assert result["status"] == "SUCCEEDED"
    assert result["spark"].startswith("its own JVM")
    wait_until(lambda: not pid_alive(pid), "ended")
    monkeypatch.setenv("ETL_SPARK_SERVER", str(tmp_path))
    assert "stopped: the JVM exited" in spark_server.log_path().read_text()
    assert spark_server.running() is None


def test_stop_ends_the_server_and_its_jvm(tmp_path, monkeypatch):
    assert "not running; nothing to stop" in etl(tmp_path, "spark", "stop")
    start_server(tmp_path)
    assert "already running" in etl(tmp_path, "spark", "start")
    state = state_in(tmp_path, monkeypatch)
    assert list((tmp_path / "tmp").glob("etl-spark-server-*"))  # the server's scratch
    assert "stopped: PID" in etl(tmp_path, "spark", "stop")
    assert not list((tmp_path / "tmp").glob("etl-spark-server-*"))
    assert not pid_alive(state.pid)
    assert not pid_alive(state.jvm_pid)
    assert not list(tmp_path.glob("server-*.json"))


def test_a_record_left_by_a_server_that_died_is_not_a_server(tmp_path, monkeypatch):
    monkeypatch.setenv("ETL_SPARK_SERVER", str(tmp_path))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    pid = int(dead.stdout)
    record = spark_server.ServerState(pid, pid, 1, "secret", "2026-11-27", 60.0)
    spark_server.state_path().parent.mkdir(parents=True, exist_ok=True)
    spark_server.state_path().write_text(json.dumps(record.__dict__))
    assert spark_server.running() is None
    assert not spark_server.state_path().exists()


def test_off_makes_runs_ignore_a_server(monkeypatch):
    monkeypatch.setenv("ETL_SPARK_SERVER", "off")
    assert not spark_server.enabled()
    monkeypatch.setenv("ETL_SPARK_SERVER", "")
    assert spark_server.enabled()


@pytest.mark.parametrize("minutes", ["0", "-1", "soon"])
def test_an_idle_time_that_is_not_a_positive_number_is_a_usage_error(minutes, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["spark", "start", "--idle-minutes", minutes])
    assert stopped.value.code == 2
    assert "is not a number of minutes above 0" in capsys.readouterr().err


@pytest.mark.parametrize("rows", ["-1", "many"])
def test_a_warm_up_size_that_is_not_a_number_of_rows_is_a_usage_error(rows, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["spark", "start", "--warm-up-rows", rows])
    assert stopped.value.code == 2
    assert "is not a number of rows (0 or more)" in capsys.readouterr().err


def test_a_new_server_warms_up_with_a_run_of_its_own_and_leaves_nothing_of_it(
    tmp_path, monkeypatch
):
    started = start_server(tmp_path, warm_up_rows=2000)
    try:
        assert "warming up in the background on 2,000 generated orders" in started
        state = state_in(tmp_path, monkeypatch)
        log = spark_server.log_path()
        wait_until(lambda: "warm-up: " in log.read_text(), "warmed up", timeout=TIMEOUT)
        said = log.read_text()
        assert "warm-up: SUCCEEDED on 2 x 1,000 rows" in said
        assert f"in the Spark server's warm JVM (PID {state.jvm_pid})" in said
        # The server notes the end within CHECK_SECONDS: its PID file and scratch lake go.
        (scratch,) = (tmp_path / "tmp").glob("etl-spark-server-*")
        wait_until(lambda: not (scratch / "warm-up").exists(), "removed its warm-up folder")
        assert not spark_server.warm_up_path().exists()
        assert "; free;" in etl(tmp_path, "spark", "status")
    finally:
        etl(tmp_path, "spark", "stop")


def test_a_run_stops_the_warm_up_and_takes_the_server(source, tmp_path, monkeypatch):
    channel = tmp_path / "warm-up"
    os.mkfifo(f"{channel}.out")
    os.mkfifo(f"{channel}.in")
    # The warm-up pauses holding the server's lease, as if its run were under way.
    pause = {"ETL_TEST_PAUSE_AT": f"warm-up-reserved={channel}"}
    start_server(tmp_path, warm_up_rows=200, **pause)
    try:
        lines: queue.Queue = queue.Queue()
        lines_of(f"{channel}.out", lines)
        step, pid = lines.get(timeout=TIMEOUT).split()
        assert step == "warm-up-reserved"
        state = state_in(tmp_path, monkeypatch)
        assert spark_server.warming_up() == int(pid)
        assert f"warming up (PID {pid}; a run stops it)" in etl(tmp_path, "spark", "status")
        result = etl_run(tmp_path, source, tmp_path / "lake")
        assert result["status"] == "SUCCEEDED"
        assert result["spark"] == f"the Spark server's warm JVM (PID {state.jvm_pid})"
        assert not pid_alive(int(pid))
        log = spark_server.log_path()
        noted = "warm-up stopped: a run needed the server"
        wait_until(lambda: noted in log.read_text(), "noted")
    finally:
        etl(tmp_path, "spark", "stop")


def test_a_run_leaves_a_server_for_the_next_runs_which_wait_for_it_to_start(
    source, tmp_path, monkeypatch
):
    # Not at a terminal (stderr is a pipe here), "auto" leaves none: scripts and CI get none.
    said = etl_run_said(tmp_path, source, tmp_path / "lake0", ETL_SPARK_SERVER_AUTOSTART="auto")
    assert "Spark server" not in said[1]
    assert state_in(tmp_path, monkeypatch) is None
    on = {"ETL_SPARK_SERVER_AUTOSTART": "on"}  # what a person at a terminal gets by default
    try:
        out, err = etl_run_said(tmp_path, source, tmp_path / "lake1", **on)
        assert json.loads(out)["spark"].startswith("its own JVM")
        assert "a Spark server is starting in the background" in err
        # Started at once, the next run finds the server starting, waits for it, runs in it.
        second = etl_run(tmp_path, source, tmp_path / "lake2", **on)
        state = state_in(tmp_path, monkeypatch)
        assert state is not None
        assert second["spark"] == f"the Spark server's warm JVM (PID {state.jvm_pid})"
        assert state.idle_minutes == spark_server.AUTOSTART_IDLE_MINUTES
        assert curated_rows(tmp_path / "lake2") == curated_rows(tmp_path / "lake1")
    finally:
        etl(tmp_path, "spark", "stop")


@pytest.mark.parametrize(
    ("setting", "interactive", "ci", "wanted"),
    [
        ("", True, "", True),  # the default, "auto": a person at a terminal
        ("auto", False, "", False),
        ("auto", True, "true", False),
        ("on", False, "true", True),
        ("off", True, "", False),
    ],
)
def test_when_a_run_starts_a_server_for_the_next_runs(
    setting, interactive, ci, wanted, monkeypatch
):
    monkeypatch.setenv("ETL_SPARK_SERVER", "")
    monkeypatch.setenv("ETL_SPARK_SERVER_AUTOSTART", setting)
    monkeypatch.setenv("CI", ci)
    assert spark_server.autostart_wanted(interactive) is wanted


def test_no_server_is_started_where_runs_ignore_servers_or_the_setting_is_unknown(monkeypatch):
    monkeypatch.setenv("ETL_SPARK_SERVER", "off")
    monkeypatch.setenv("ETL_SPARK_SERVER_AUTOSTART", "on")
    assert not spark_server.autostart_wanted(interactive=True)
    monkeypatch.setenv("ETL_SPARK_SERVER", "")
    monkeypatch.setenv("ETL_SPARK_SERVER_AUTOSTART", "always")
    with pytest.raises(ValueError, match="expected one of auto, on, off"):
        spark_server.autostart_wanted(interactive=True)


def test_a_run_waits_while_a_server_starts_and_goes_on_once_it_is_up(tmp_path, monkeypatch, capsys):
    import fcntl

    monkeypatch.setenv("ETL_SPARK_SERVER", str(tmp_path))
    assert not spark_server.starting()  # no server ever started here: nothing to wait for
    with open(spark_server.start_lock_path(), "w") as starting:
        fcntl.flock(starting, fcntl.LOCK_EX)  # as a server holds it until it is up
        assert spark_server.starting()
        assert main(["spark", "status"]) == 0
        assert capsys.readouterr().out.startswith("starting: its JVM is not up yet")
        waiting = threading.Thread(target=spark_server.wait_for_start, kwargs={"timeout": 120})
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()
    waiting.join(timeout=30)  # the lock is released: it goes on
    assert not waiting.is_alive()
    assert not spark_server.starting()


def test_no_server_is_started_for_the_next_runs_on_a_machine_short_of_memory(
    tmp_path, monkeypatch, capsys
):
    import psutil

    from etl.cli.spark import AUTOSTART_MIN_AVAILABLE_GB, leave_server_for_next_runs
    from etl.jobs import spark_server_process

    monkeypatch.setenv("ETL_SPARK_SERVER", str(tmp_path))
    monkeypatch.setenv("ETL_SPARK_SERVER_AUTOSTART", "on")
    short = (AUTOSTART_MIN_AVAILABLE_GB - 0.5) * 2**30
    memory = psutil.virtual_memory()._replace(available=int(short))
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory)
    started = []
    monkeypatch.setattr(spark_server_process, "start_in_background", started.append)
    leave_server_for_next_runs()
    assert started == []
    assert f"{short / 2**30:.1f} GB of memory available" in capsys.readouterr().err
