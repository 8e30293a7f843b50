"""The `etl` process itself: it ends as soon as its command is done (``run_as_command``),
with its exit code, all of its output, and no temp folder left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from etl.local.samples.orders import generate_orders, write_json_lines

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 420  # seconds for one `etl run` on a busy 2-core machine


def etl(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    return python(tmp_path, "-m", "etl.cli", *argv)


def python(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """A Python process of this checkout, its temp folders in ``tmp_path / "tmp"`` and its
    Spark state in one of its own (not the user's ``ETL_SPARK_TMP``)."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    environment = os.environ | {"PYTHONPATH": str(ROOT), "TMPDIR": str(temp)} | env
    environment.pop("ETL_SPARK_TMP", None)
    return subprocess.run(
        [sys.executable, *argv],
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_a_run_prints_its_whole_result_exits_0_and_leaves_no_spark_temp_folder(tmp_path):
    source = write_json_lines(generate_orders(50, date(2026, 11, 26)), tmp_path / "orders.json")
    done = etl(tmp_path, "run", str(source), "--lake", str(tmp_path / "lake"), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # flushed before the process ended
    assert result["status"] == "SUCCEEDED"
    assert result["rows"]["read"] == 50
    assert not list((tmp_path / "tmp").glob("etl-spark-*"))


def test_a_json_result_has_stdout_to_itself_when_the_jvm_prints_there(tmp_path):
    # A flight recorder given to every JVM prints its start-up notes on the JVM's stdout,
    # which the JVM shares with the command; the JVM also runs without the class archive.
    source = write_json_lines(generate_orders(50, date(2026, 11, 26)), tmp_path / "orders.json")
    recorder = f"-XX:StartFlightRecording=filename={tmp_path / 'run.jfr'}"
    argv = ["run", str(source), "--lake", str(tmp_path / "lake"), "--json"]
    done = python(tmp_path, "-m", "etl.cli", *argv, JAVA_TOOL_OPTIONS=recorder)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "SUCCEEDED"  # the JSON and nothing else
    assert "Started recording" in done.stderr  # the JVM's note, on stderr instead


def test_a_failing_command_keeps_its_exit_code_and_message(tmp_path):
    done = etl(tmp_path, "run", str(tmp_path / "missing.json"), "--lake", str(tmp_path / "lake"))
    assert done.returncode == 2
    assert "missing.json: no such file" in done.stderr


END_OWN_JVM = """
from etl.jobs import session
spark = session.get_spark(use_server=False)
jvm = spark.sparkContext._gateway.proc
session.end_own_jvm()
try:  # what a py4j thread may still do: it fails, without logging a traceback
    spark.sparkContext._jvm.java.lang.System.currentTimeMillis()
except Exception as error:
    print(type(error).__name__)
print(jvm.returncode)
"""


def test_a_command_ends_its_own_jvm_at_once_instead_of_waiting_for_its_shutdown(tmp_path):
    # Without a class archive to write (ETL_JVM_CACHE=off): that JVM may be killed.
    done = python(tmp_path, "-c", END_OWN_JVM, ETL_JVM_CACHE="off")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["Py4JError", "-9"]  # killed, reaped before the end
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "tmp").glob("etl-spark-*"))  # its Spark state went too


def test_the_temp_folder_of_a_killed_process_is_removed_by_the_next_one_and_no_other(
    tmp_path, monkeypatch
):
    from etl.jobs import session
    from etl.storage.locks import mark_owner, read_owner

    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()  # gone, as a killed run is
    names = ("killed", "running", "unowned", "half")
    folders = {name: tmp_path / f"{session.SCRATCH_PREFIX}{name}" for name in names}
    folders["not ours"] = tmp_path / "other-tool-killed"
    for folder in folders.values():
        (folder / "blockmgr").mkdir(parents=True)  # what its JVM had made
    for name in ("killed", "not ours"):
        owner = {"pid": killed.pid, "started": None}
        (folders[name] / session.SCRATCH_OWNER).write_text(json.dumps(owner))
    mark_owner(folders["running"] / session.SCRATCH_OWNER)  # this process
    (folders["half"] / session.SCRATCH_OWNER).write_text('{"pid": ')  # being written

    monkeypatch.setattr(session.tempfile, "tempdir", str(tmp_path))
    made = session._new_scratch()  # what the next process to start Spark does
    session._SCRATCH.remove(made)  # the test's tmp_path, not this process's to remove
    assert read_owner(Path(made, session.SCRATCH_OWNER))["pid"] == os.getpid()  # marked, ours
    assert sorted(n for n, f in folders.items() if f.exists()) == [
        "half",
        "not ours",
        "running",
        "unowned",
    ]


def test_unowned_temp_folders_go_only_when_empty_and_a_day_old(tmp_path):
    from etl.jobs import session

    day_ago = time.time() - session.UNOWNED_EMPTY_SECONDS - 60
    folders = {
        name: tmp_path / f"{session.SCRATCH_PREFIX}{name}"
        for name in ("old empty", "old in use", "new empty")
    }
    for folder in folders.values():
        folder.mkdir()
    (folders["old in use"] / "blockmgr").mkdir()  # an older version's JVM at work
    for name in ("old empty", "old in use"):
        os.utime(folders[name], (day_ago, day_ago))
    removed = session.remove_orphaned_scratch(str(tmp_path))
    assert removed == [str(folders["old empty"])]
    assert sorted(n for n, f in folders.items() if f.exists()) == ["new empty", "old in use"]
