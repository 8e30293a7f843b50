"""The Spark server's process: started in the background, tending its JVM, stopped.

``start`` runs ``python -m etl.jobs.spark_server_process`` detached; that process starts the
driver JVM and the context runs share, with the local session's settings (``etl.jobs.session``),
records how to reach it (``etl.jobs.spark_server``), starts its warm-up run
(``etl.local.spark_warm_up``, in a process of its own), and every ``CHECK_SECONDS`` clears
what a killed run left (or starts the context again if a run stopped it), and ends when idle
for its ``idle_minutes``, when told (SIGTERM: ``stop``), or when the JVM died.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime

from etl.jobs import jvm
from etl.jobs.session import jvm_conf
from etl.jobs.spark_server import (
    ServerState,
    log_path,
    release_lease,
    reset_context,
    running,
    shared_context,
    start_lock_path,
    state_path,
    take_lease,
    warm_up_path,
)
from etl.storage.locks import pid_alive

MODULE = "etl.jobs.spark_server_process"  # what `start` runs
WARM_UP_MODULE = "etl.local.spark_warm_up"  # what the server runs to warm its JVM
WARM_UP_FOLDER = "warm-up"  # its rows and lake, in the server's scratch folder
DEFAULT_IDLE_MINUTES = 60.0
# Orders rows the warm-up runs, shared between its runs (``etl.local.spark_warm_up``): 300,000
# rows did as much for the next runs as smaller warm-ups done more often
# (docs/performance-history.md, sixth and seventh rounds): ~24 s on 2 cores, rows generated
# first.
DEFAULT_WARM_UP_ROWS = 300_000
CHECK_SECONDS = 2.0  # how often the server looks for a finished or killed run
START_TIMEOUT = 120.0


class ServerError(Exception):
    """The server could not be started or stopped."""


def start(
    idle_minutes: float = DEFAULT_IDLE_MINUTES, warm_up_rows: int = DEFAULT_WARM_UP_ROWS
) -> tuple[ServerState, bool]:
    """Start this environment's server in the background unless it runs; ``(state, started)``.
    It warms up on ``warm_up_rows`` generated orders (0: no warm-up) once it is up."""
    with _start_lock() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two `etl spark start` at once make one server
        state = running()
        if state is not None:
            return state, False
        return _wait_until_up(_spawn(idle_minutes, warm_up_rows, lock)), True


def start_in_background(idle_minutes: float, warm_up_rows: int = DEFAULT_WARM_UP_ROWS) -> bool:
    """Start this environment's server without waiting for it; False if one runs or is
    being started. The server holds the start lock until it is up, so a run that arrives
    meanwhile waits for it (``spark_server.wait_for_start``)."""
    with _start_lock() as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another process is starting it
        if running() is not None:
            return False
        _spawn(idle_minutes, warm_up_rows, lock)
        return True


def _start_lock():
    path = start_lock_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return open(path, "w")


def _spawn(idle_minutes: float, warm_up_rows: int, lock) -> subprocess.Popen:
    """The server's process, detached, holding the start ``lock`` (a shared descriptor: the
    lock stays held until the server releases it, up, whoever started it)."""
    command = [
        sys.executable,
        "-m",
        MODULE,
        f"--idle-minutes={idle_minutes}",
        f"--warm-up-rows={warm_up_rows}",
        f"--start-lock-fd={lock.fileno()}",
    ]
    with open(log_path(), "ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(lock.fileno(),),
            start_new_session=True,  # a Ctrl-C in the terminal that started it is not for it
        )


def _wait_until_up(server: subprocess.Popen) -> ServerState:
    deadline = time.monotonic() + START_TIMEOUT
    pause = threading.Event()
    while (state := running()) is None or state.pid != server.pid:
        if server.poll() is not None:
            raise ServerError(f"the Spark server exited at start; see {log_path()}")
        if time.monotonic() > deadline:
            server.terminate()
            raise ServerError(f"the Spark server did not start in {START_TIMEOUT:.0f} s")
        pause.wait(0.1)
    return state


def stop(timeout: float = 60.0) -> ServerState | None:
    """Stop the running server (it stops its JVM); the state it had, or None if none ran."""
    state = running()
    if state is None:
        return None
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while (left := [p for p in (state.pid, state.jvm_pid) if pid_alive(p)]) and (
        time.monotonic() < deadline
    ):
        pause.wait(0.1)
    if left:
        raise ServerError(f"the Spark server (PID {state.pid}) did not stop in {timeout:.0f} s")
    return state


def serve(idle_minutes: float, warm_up_rows: int = 0, start_lock_fd: int | None = None) -> None:
    """Run the server: start the JVM, record how to reach it, tend it until idle or told.
    ``start_lock_fd`` (the start lock, held) is released once it is recorded."""
    from pyspark.java_gateway import launch_gateway

    told = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: told.set())
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    scratch = tempfile.mkdtemp(prefix="etl-spark-server-")
    conf, options = jvm_conf(scratch)
    gateway = launch_gateway(conf)
    jvm_pid = gateway.jvm.java.lang.ProcessHandle.current().pid()
    jvm.record_writer(options, jvm_pid)
    _start_context(conf, gateway)
    state = ServerState(
        pid=os.getpid(),
        jvm_pid=jvm_pid,
        port=gateway.java_parameters.port,
        secret=gateway.java_parameters.auth_token,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        idle_minutes=idle_minutes,
    )
    _write_state(state)
    if start_lock_fd is not None:
        os.close(start_lock_fd)  # up: runs waiting for it go on
    _log(f"serving: JVM PID {jvm_pid}, idle timeout {idle_minutes} min")
    warm_up = _start_warm_up(warm_up_rows, scratch) if warm_up_rows > 0 else None
    try:
        reason = _tend(gateway, state, told, conf, warm_up, scratch)
    finally:
        if warm_up is not None and warm_up.poll() is None:
            warm_up.kill()
            warm_up.wait()
        warm_up_path().unlink(missing_ok=True)
        if running() == state:
            state_path().unlink(missing_ok=True)
        gateway.proc.stdin.close()  # the JVM's lifeline: it exits (and writes its archive)
        gateway.proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    _log(f"stopped: {reason}")


def _log(message: str) -> None:
    print(f"{datetime.now(UTC).isoformat(timespec='seconds')} {message}", flush=True)


def _start_context(conf, gateway) -> None:
    """Start the context runs share, with its default session (runs make theirs from it)."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    SparkSession(SparkContext(conf=conf, gateway=gateway))


def _start_warm_up(rows: int, scratch: str) -> subprocess.Popen:
    """Start the warm-up run, in this server (its output goes to this server's log), with
    its lake in ``scratch/warm-up``."""
    folder = os.path.join(scratch, WARM_UP_FOLDER)
    command = [sys.executable, "-m", WARM_UP_MODULE, f"--rows={rows}", f"--folder={folder}"]
    env = os.environ | {"ETL_SPARK_SERVER": str(state_path().parent)}  # even if "off" here
    warm_up = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env)
    _log(f"warming up: a run on {rows:,} generated orders (PID {warm_up.pid})")
    return warm_up


def _warm_up_ended(warm_up: subprocess.Popen, scratch: str) -> None:
    warm_up_path().unlink(missing_ok=True)
    if warm_up.returncode == -signal.SIGKILL:
        _log("warm-up stopped: a run needed the server")
    elif warm_up.returncode:
        _log(f"warm-up failed (exit code {warm_up.returncode}); runs still use the server")
    shutil.rmtree(os.path.join(scratch, WARM_UP_FOLDER), ignore_errors=True)


def _tend(
    gateway,
    state: ServerState,
    told: threading.Event,
    conf,
    warm_up: subprocess.Popen | None,
    scratch: str,
) -> str:
    """Every ``CHECK_SECONDS``, while no run holds the lease: clear what a killed run left,
    start the context again if a run stopped it; end when idle, told or the JVM died. Notes
    the end of the warm-up run."""
    last_used = time.monotonic()
    while not told.wait(CHECK_SECONDS):
        if not pid_alive(state.jvm_pid):
            return "the JVM exited"
        if warm_up is not None and warm_up.poll() is not None:
            _warm_up_ended(warm_up, scratch)
            warm_up = None
        lease = take_lease(wait=0)
        if lease is None:
            last_used = time.monotonic()
            continue
        try:
            _tidy(gateway, conf)
        finally:
            release_lease(lease)
        if time.monotonic() - last_used > state.idle_minutes * 60:
            return f"idle for {state.idle_minutes} min"
    return "told to stop"


def _tidy(gateway, conf) -> None:
    from pyspark import SparkContext

    context = shared_context(gateway.jvm)
    if context is None:
        if SparkContext._active_spark_context is not None:
            SparkContext._active_spark_context.stop()  # this process's handle on it
        _start_context(conf, gateway)
        _log("a run stopped the shared Spark context: started it again")
    elif reset_context(gateway.jvm, context):
        _log("cleared the jobs and cached data of a run that ended without clearing them")


def _write_state(state: ServerState) -> None:
    path = state_path()
    writing = path.with_suffix(f".{os.getpid()}.writing")
    descriptor = os.open(writing, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(asdict(state), out)
    os.replace(writing, path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve a local Spark driver JVM (etl spark).")
    parser.add_argument("--idle-minutes", type=float, default=DEFAULT_IDLE_MINUTES)
    parser.add_argument("--warm-up-rows", type=int, default=0)
    parser.add_argument("--start-lock-fd", type=int, default=None)
    arguments = parser.parse_args()
    serve(arguments.idle_minutes, arguments.warm_up_rows, arguments.start_lock_fd)
