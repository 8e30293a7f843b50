"""A local Spark driver kept running between runs: ``etl spark start | status | stop``.

A cold local run spends much of its time in a JVM that has not warmed up: loading classes
and compiling the code that runs hot (``etl.jobs.jvm``; README "Performance"). A person
iterating on a feed runs the same job again and again, so, like a Glue interactive session,
a server process keeps one JVM and one ``SparkContext`` running: each run's process connects
to it over PySpark's own gateway (py4j, with its secret) instead of starting a JVM, and works
in a ``SparkSession`` of its own on that context (its own SQL settings and temporary views).
Spark's classes stay loaded and compiled from one run to the next, and so does the query code
Spark generates (its cache of compiled query code is per context: a new context per run
compiled some 40 classes again every run).

Why home-made: Spark Connect, Spark's own remote-driver server, is not in PySpark 3.5's jars
and cannot be fetched offline; PySpark itself connects to a running gateway
(``PYSPARK_GATEWAY_PORT``) and wraps an existing context (``SparkContext(jsc=...)``), which is
what this builds on.

* **One run at a time.** A run leases the server with an exclusive ``flock`` on
  ``<key>.lock`` for the life of its process; a run that finds the server in use starts a
  JVM of its own, as without a server.
* **Nothing left behind.** What a run leaves in the context (jobs still running if it was
  killed, data it cached) is cleared once it has ended: by the server, which looks every
  ``CHECK_SECONDS`` while no run holds the lease, or by the next run as it takes the lease,
  whichever comes first. A run that stopped the context has the server start a new one.
* **Warm from the first run.** A new server runs one pipeline run of its own in the
  background (``etl.local.spark_warm_up``: generated orders in its scratch folder), so the
  JVM has loaded and compiled the job's code before a person's first run. A run that
  arrives meanwhile stops it (``stop_warm_up``) and takes the server: a warm-up never
  makes a run wait for it or start a JVM of its own.
* **Started when a person needs it,** as Gradle starts its daemon: an ``etl run`` typed at a
  terminal that ran in a JVM of its own leaves a server starting in the background when it
  ends (``autostart_wanted``; ``ETL_SPARK_SERVER_AUTOSTART=off`` never, ``on`` also when
  not at a terminal), stopping after ``AUTOSTART_IDLE_MINUTES`` unused. A run that arrives
  while a server starts waits for it (``wait_for_start``) rather than start a second JVM.
* **Off when not used.** The server ends after ``idle_minutes`` without a run, and the JVM
  ends with the server (its stdin is the server's pipe, as with any PySpark JVM).
* **Where:** ``<key>.json`` (port, secret, PIDs; readable by the user only), ``.lock``,
  ``.log``, ``.start.lock`` and, while the warm-up runs, ``.warm-up`` (its PID) in
  ``~/.cache/etl-workbench/spark-server/``, one server per Python environment (``.venv``).
  ``ETL_SPARK_SERVER=off`` makes runs ignore a server; ``ETL_SPARK_SERVER=DIR`` keeps that
  state in DIR instead.

The server's process (starting, serving, stopping) is ``etl.jobs.spark_server_process``;
this module is what runs and the server share: its record, the lease, the context.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from etl.storage.locks import pid_alive, process_start

LEASE_WAIT_SECONDS = 0.5  # the server's own look takes the lease for a moment
WARM_UP_STOP_SECONDS = 10.0  # for a stopped warm-up's process to end and free the lease
START_WAIT_SECONDS = 30.0  # for a server being started to be up (3-15 s on 2 cores), then own JVM


@dataclass(frozen=True)
class ServerState:
    """What a running server recorded: who it is and how to reach its JVM."""

    pid: int
    jvm_pid: int
    port: int
    secret: str
    started: str
    idle_minutes: float

    def alive(self) -> bool:
        return pid_alive(self.pid) and pid_alive(self.jvm_pid)


# --- where ----------------------------------------------------------------------------
def enabled() -> bool:
    """False when ``ETL_SPARK_SERVER=off``: runs then always start their own JVM."""
    return os.environ.get("ETL_SPARK_SERVER", "").lower() != "off"


def folder() -> Path:
    """The folder holding the servers' state (``ETL_SPARK_SERVER`` or the user cache)."""
    setting = os.environ.get("ETL_SPARK_SERVER", "")
    if setting and setting.lower() != "off":
        return Path(setting)
    return Path.home() / ".cache" / "etl-workbench" / "spark-server"


def _path(suffix: str) -> Path:
    """This Python environment's server file ``suffix`` (one server per ``.venv``)."""
    import pyspark

    key = hashlib.sha256(f"{sys.prefix}\n{pyspark.__version__}".encode()).hexdigest()[:12]
    return folder() / f"server-{key}{suffix}"


def state_path() -> Path:
    return _path(".json")


def log_path() -> Path:
    return _path(".log")


def warm_up_path() -> Path:
    return _path(".warm-up")


def start_lock_path() -> Path:
    """Held while a server starts, until it has recorded how to reach it."""
    return _path(".start.lock")


def running() -> ServerState | None:
    """The server of this Python environment if it runs (a stale record is removed)."""
    path = state_path()
    try:
        state = ServerState(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if state.alive():
        return state
    path.unlink(missing_ok=True)
    return None


def starting() -> bool:
    """True while a server is being started (its start lock is held)."""
    try:
        descriptor = os.open(start_lock_path(), os.O_RDONLY)
    except OSError:  # no server was ever started here
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # a lock taken above goes with it


def wait_for_start(timeout: float = START_WAIT_SECONDS) -> None:
    """If a server is starting, wait until it is up (or failed), at most ``timeout`` s: a
    run that arrives meanwhile uses it instead of starting a JVM of its own beside it, which
    would take as long and share the cores with it."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while starting() and time.monotonic() < deadline:
        pause.wait(0.05)


# --- starting one for the runs that follow ------------------------------------------------
AUTOSTART = "ETL_SPARK_SERVER_AUTOSTART"
AUTOSTART_SETTINGS = ("auto", "on", "off")
# A server started for the runs that follow gives its memory back sooner than one a person
# asked for (``etl spark start``, 60 minutes): its JVM holds 2-2.7 GB.
AUTOSTART_IDLE_MINUTES = 30.0
NOT_CI = ("", "0", "false")  # CI services set CI=true


def autostart_wanted(interactive: bool) -> bool:
    """Whether ``etl run`` leaves a server starting for the runs that follow once it has
    run in a JVM of its own: ``ETL_SPARK_SERVER_AUTOSTART`` ``on`` / ``off``, or ``auto``
    (the default): only for a person at a terminal (``interactive``), never under CI."""
    setting = os.environ.get(AUTOSTART, "auto").strip().lower() or "auto"
    if setting not in AUTOSTART_SETTINGS:
        expected = ", ".join(AUTOSTART_SETTINGS)
        raise ValueError(f"{AUTOSTART}={setting!r}: expected one of {expected}")
    if setting == "off" or not enabled():
        return False
    return setting == "on" or (interactive and os.environ.get("CI", "").lower() in NOT_CI)


# --- the lease (one run at a time) ------------------------------------------------------
def take_lease(wait: float = LEASE_WAIT_SECONDS) -> int | None:
    """An open descriptor holding the exclusive lease, or None if it stayed taken ``wait`` s."""
    path = _path(".lock")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    pause = threading.Event()
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return descriptor
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(descriptor)
                return None
            pause.wait(0.02)


def release_lease(descriptor: int) -> None:
    os.close(descriptor)  # closing the descriptor releases the flock


# --- the warm-up (a run of the server's own) --------------------------------------------
def record_warm_up(pid: int) -> None:
    """Note the server's warm-up process, once it holds the lease (with its start time: a
    PID may be reused). The server removes the note when the warm-up has ended."""
    record = {"pid": pid, "started": process_start(pid)}
    warm_up_path().write_text(json.dumps(record), encoding="utf-8")


def warming_up() -> int | None:
    """The PID of the server's warm-up process while it runs holding the lease, else None."""
    try:
        record = json.loads(warm_up_path().read_text(encoding="utf-8"))
        pid, started = int(record["pid"]), record.get("started")
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return pid if pid != os.getpid() and pid_alive(pid, started) else None


def stop_warm_up() -> bool:
    """Stop the server's warm-up if it runs (a run needs the server); True if one was
    stopped. It only warms the JVM, in a scratch lake of the server's: killing it loses
    nothing, and what it left in the context is cleared like any killed run's."""
    pid = warming_up()
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):  # it ended by itself meanwhile
        os.kill(pid, signal.SIGKILL)
    return True


# --- the run's side ---------------------------------------------------------------------
def connect(state: ServerState):
    """A py4j gateway to the server's JVM (PySpark's own connection to a running gateway)."""
    from pyspark.java_gateway import launch_gateway

    reach = {"PYSPARK_GATEWAY_PORT": str(state.port), "PYSPARK_GATEWAY_SECRET": state.secret}
    with mock.patch.dict(os.environ, reach):  # not left for child processes to inherit
        return launch_gateway()


def shared_context(jvm):
    """The server's ``SparkContext`` (JVM object), or None if it was stopped."""
    context = getattr(getattr(jvm.org.apache.spark, "SparkContext$"), "MODULE$").getActive()
    return context.get() if context.isDefined() and not context.get().isStopped() else None


def reset_context(jvm, context) -> bool:
    """Clear what a run left in the shared context: its jobs (cancelled) and its cached data
    (tables cached through any session, and RDDs persisted directly). True if any was left."""
    persisted = jvm.org.apache.spark.api.java.JavaSparkContext(context).getPersistentRDDs()
    left = len(context.statusTracker().getActiveJobIds()) > 0 or len(persisted) > 0
    context.cancelAllJobs()
    session = jvm.org.apache.spark.sql.SparkSession.getDefaultSession()
    if session.isDefined():
        session.get().sharedState().cacheManager().clearCache()
    for rdd in list(persisted.values()):
        rdd.unpersist(False)
    return left


def set_working_directory(jvm, directory: str) -> None:
    """Resolve relative paths as the run's process does, not as the server's did."""
    hadoop_conf = jvm.org.apache.hadoop.conf.Configuration()
    local = jvm.org.apache.hadoop.fs.FileSystem.getLocal(hadoop_conf)
    local.setWorkingDirectory(jvm.org.apache.hadoop.fs.Path(f"file://{directory}"))
