"""The lake lock: a waiter says who holds it, gives up after the timeout with one line, and
a holder killed with -9 leaves no stale lock."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etl.storage.locks import LakeBusy, file_lock, lock_timeout, pid_alive

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60

HOLDER = """
import sys
from etl.storage.locks import file_lock
with file_lock(sys.argv[1], holder="run-one"):
    pass
"""


def read_line(fifo: str) -> str:
    """One line from a FIFO, waiting at most TIMEOUT seconds for the writer."""
    handle = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # does not wait for a writer
    deadline = time.monotonic() + TIMEOUT
    try:
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([handle], [], [], max(left, 0))
            assert ready and left > 0, f"nothing on {fifo} after {TIMEOUT} s"
            chunk = os.read(handle, 4096)
            if not chunk and data:
                break
            data += chunk
        return data.decode()
    finally:
        os.close(handle)


@pytest.fixture
def holder(tmp_path):
    """A child process holding the lock, paused inside it until the test writes a line."""
    lock, channel = tmp_path / "locks" / "lake.lock", tmp_path / "holder"
    os.mkfifo(f"{channel}.out")
    os.mkfifo(f"{channel}.in")
    env = os.environ | {"PYTHONPATH": str(ROOT), "ETL_TEST_PAUSE_AT": f"locked:lake={channel}"}
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], env=env)
    try:
        assert read_line(f"{channel}.out").startswith("locked:lake")  # it holds the lock
        yield lock, child, channel
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=TIMEOUT)


def test_a_waiter_says_who_holds_the_lock_and_gives_up_after_the_timeout(holder):
    lock, child, _ = holder
    said = []
    expected = rf"gave up after 0.3 s .* run run-one \(pid {child.pid}"
    with (
        pytest.raises(LakeBusy, match=expected),
        file_lock(lock, holder="run-two", timeout=0.3, on_wait=said.append),
    ):
        pass
    assert len(said) == 1 and f"held by run run-one (pid {child.pid}" in said[0]


def test_the_lock_goes_when_the_holder_is_killed(holder):
    lock, child, _ = holder
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=TIMEOUT)
    with file_lock(lock, holder="run-two", timeout=TIMEOUT):
        assert "run-two" in lock.read_text()


def test_the_lock_goes_to_the_waiter_when_the_holder_finishes(holder):
    lock, child, channel = holder
    with open(f"{channel}.in", "w", encoding="utf-8") as go_on:
        go_on.write("go\n")
    with file_lock(lock, holder="run-two", timeout=TIMEOUT, on_wait=lambda _line: None):
        assert child.wait(timeout=TIMEOUT) == 0


def test_a_timeout_that_is_not_a_number_is_one_line(monkeypatch):
    monkeypatch.setenv("ETL_LOCK_TIMEOUT", "soon")
    with pytest.raises(LakeBusy, match="ETL_LOCK_TIMEOUT='soon' is not a number of seconds"):
        lock_timeout()


def test_a_process_that_exited_but_is_not_reaped_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, left a zombie
    try:
        assert not pid_alive(child.pid)
    finally:
        child.wait()
    assert pid_alive(os.getpid())
