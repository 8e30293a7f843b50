"""The right Spark session for where the code runs.

Inside AWS Glue (a Glue job or a Glue interactive session) ``awsglue`` is importable and the
session comes from the ``GlueContext``. Everywhere else we build a local session tuned for a
2-core laptop: UTC session time zone (partition dates must not depend on the laptop's zone),
no UI, small shuffles, and all Spark state under a temp dir instead of the user's home.

The driver JVM is tuned for a short local run (``etl.jobs.jvm``): most of a small run's
time is the JVM warming up. When ``etl spark start`` keeps a JVM running, a session is
created in that one instead, already warm, unless another run is using it
(``etl.jobs.spark_server``).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

from pyspark import SparkConf
from pyspark.sql import SparkSession

from etl.jobs import jvm, spark_server
from etl.storage.locks import mark_owner, owner_gone

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
LOCAL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Adaptive execution coalesces shuffle output: a small input writes one file per partition.
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.driver.memory": "2g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # A date that does not parse is null (its record is quarantined), not a job failure.
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}


def in_glue() -> bool:
    """True when running inside AWS Glue (job or interactive session)."""
    try:
        import awsglue
    except ImportError:
        return False
    return not getattr(awsglue, "LOCAL_STAND_IN", False)


_SCRATCH: list[str] = []
# The Spark server this process uses, and its lease: a descriptor left open until the process
# ends, when the system closes it and so frees the server for the next run.
_LEASE: list[tuple[int, spark_server.ServerState]] = []
_RESERVED: list[int] = []  # a lease taken before the session (``reserve_server``)
_OWN_JVM: list[bool] = []  # set once this process has started a local JVM of its own
_ENDS_AT_ONCE: list[subprocess.Popen] = []  # that JVM, when ``end_own_jvm`` may kill it


SCRATCH_PREFIX = "etl-spark-"
SCRATCH_OWNER = ".owner"  # in a scratch folder: the process that made it (pid, start time)


def _new_scratch() -> str:
    """A temp folder for this process's Spark state, removed when the process ends, or by a
    later process if it is killed first (``remove_orphaned_scratch``)."""
    remove_orphaned_scratch()
    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
    mark_owner(Path(scratch, SCRATCH_OWNER))
    _SCRATCH.append(scratch)
    if len(_SCRATCH) == 1:
        atexit.register(remove_scratch)
    return scratch


def end_own_jvm() -> None:
    """Kill this process's own Spark JVM: for the end of a command whose work is done.

    Left alone, the JVM ends when this process's pipe to it closes, stopping its context on
    the way (~0.5 s), and whatever reads the command's output (a pipe, ``| tee``, a test or
    benchmark) waits for that too, as the JVM shares it. Every output of the run is
    committed by then, and Spark keeps its state in this process's temp folder, removed
    after. A JVM writing the class archive (``etl.jobs.jvm``) writes it as it exits, one
    profiled (a flight recording or agent) writes its results (``jvm.ends_by_itself``),
    and one keeping its state in ``ETL_SPARK_TMP`` cleans it up as it exits: those end by
    themselves. Logging is turned off first: py4j's threads (its finalizer worker) may
    still send the JVM a command and log the refused connection, which would be noise.
    """
    if _ENDS_AT_ONCE:
        logging.disable(logging.CRITICAL)
    while _ENDS_AT_ONCE:
        process = _ENDS_AT_ONCE.pop()
        process.kill()
        process.wait(timeout=30)


def remove_orphaned_scratch(parent: str | None = None) -> list[str]:
    """Remove the Spark temp folders (in ``parent``, default the system's temp folder) whose
    process is gone: one killed never removes its own, and its JVM, which outlives it,
    empties it but leaves it (a test suite that kills runs left ~10 a run). A folder without
    a readable owner (one being made, or another tool's) is left alone unless it is empty
    and a day old: what versions before owner marks left (1,186 of them on one machine)."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        if owner_gone(folder / SCRATCH_OWNER):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
        elif _remove_if_empty_and_old(folder):
            removed.append(str(folder))
    return removed


UNOWNED_EMPTY_SECONDS = 24 * 3600


def _remove_if_empty_and_old(folder: Path) -> bool:
    try:
        if time.time() - folder.stat().st_mtime < UNOWNED_EMPTY_SECONDS:
            return False
        folder.rmdir()  # fails unless empty
    except OSError:
        return False
    return True


def remove_scratch() -> None:
    """Remove the temp folders local sessions of this process made (Spark removes only
    what it made inside them). For the end of the process: the session cannot run after."""
    while _SCRATCH:
        shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)


@cache
def get_spark(
    app_name: str = "etl-workbench", input_bytes: int | None = None, use_server: bool = True
) -> SparkSession:
    """Return the session for this environment (Glue's, or a local one built once).

    ``input_bytes``, the size of the input the process is about to run on, tunes a local
    JVM started for it (``etl.jobs.jvm.java_options``); an existing session is returned as is.
    With a Spark server running and free (``etl spark start``), the session is a new one on
    the server's warm context instead (``_attach_to_server``), unless not ``use_server``.
    """
    if in_glue():
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext

        return GlueContext(SparkContext.getOrCreate()).spark_session
    active = SparkSession.getActiveSession()
    if active is not None:  # one session per process, whoever built it
        return active
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    attached = _attach_to_server() if use_server else None
    if attached is not None:
        attached.sparkContext.setLogLevel(os.environ.get("ETL_SPARK_LOG_LEVEL", "ERROR"))
        return attached
    scratch = os.environ.get("ETL_SPARK_TMP") or _new_scratch()
    builder = SparkSession.builder.master(os.environ.get("ETL_SPARK_MASTER", "local[*]"))
    builder = builder.appName(app_name)
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.local.dir", scratch).config(
        "spark.sql.warehouse.dir", os.path.join(scratch, "warehouse")
    )
    options = jvm_options(scratch, input_bytes)
    spark = builder.config("spark.driver.extraJavaOptions", options).getOrCreate()
    _OWN_JVM.append(True)
    jvm.record_writer(options, spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    if scratch in _SCRATCH and not jvm.ends_by_itself(options):
        _ENDS_AT_ONCE.append(spark.sparkContext._gateway.proc)
    spark.sparkContext.setLogLevel(os.environ.get("ETL_SPARK_LOG_LEVEL", "ERROR"))
    return spark


def jvm_options(scratch: str, input_bytes: int | None = None) -> str:
    """The driver JVM's options for a local session keeping its state in ``scratch``."""
    return " ".join(
        [
            f"-Dderby.system.home={scratch}",
            f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}",
            *jvm.java_options(input_bytes),
        ]
    )


def jvm_conf(scratch: str) -> tuple[SparkConf, str]:
    """The configuration of a Spark server's JVM and of the context it keeps, with its state
    in ``scratch``, and its JVM options (sized for any input: runs of every size use it)."""
    options = jvm_options(scratch)
    conf = SparkConf(loadDefaults=False).setAll(LOCAL_CONF.items())
    conf.setMaster("local[*]").setAppName("etl-workbench-server")
    conf.set("spark.local.dir", scratch).set("spark.sql.warehouse.dir", f"{scratch}/warehouse")
    return conf.set("spark.driver.extraJavaOptions", options), options


def _attach_to_server() -> SparkSession | None:
    """A new session on the running Spark server's context, if there is one and no other
    run has it (the server's own warm-up gives way: ``spark_server.stop_warm_up``).

    The server keeps one ``SparkContext`` warm: its JVM's compiled code, and Spark's cache
    of compiled query code, which is kept per context. Each run gets a session of its own on
    it (its own SQL settings and temporary views), and starts by clearing what an earlier
    run left, if the server has not yet (``spark_server.reset_context``).
    """
    if not spark_server.enabled():
        return None
    if (state := spark_server.running()) is None:
        spark_server.wait_for_start()  # one being started is as soon up as a JVM of our own
        if (state := spark_server.running()) is None:
            return None
    lease = _RESERVED.pop() if _RESERVED else spark_server.take_lease()
    if lease is None and spark_server.stop_warm_up():  # the server's own warm-up had it
        lease = spark_server.take_lease(wait=spark_server.WARM_UP_STOP_SECONDS)
    if lease is None:
        return None  # another run has it: this one starts its own JVM
    try:
        gateway = spark_server.connect(state)
        context = spark_server.shared_context(gateway.jvm)
        if context is None:
            raise LookupError("the server's context was stopped; it starts a new one")
        spark_server.reset_context(gateway.jvm, context)  # what a killed run left
        spark_server.set_working_directory(gateway.jvm, os.getcwd())
    except Exception:  # gone, stopped or failing: start a JVM as if it never ran
        spark_server.release_lease(lease)
        return None
    from pyspark import SparkContext

    java_context = gateway.jvm.org.apache.spark.api.java.JavaSparkContext(context)
    python_context = SparkContext(gateway=gateway, jsc=java_context)
    session = gateway.jvm.org.apache.spark.sql.SparkSession.getDefaultSession().get().newSession()
    for key, value in LOCAL_CONF.items():
        if key.startswith("spark.sql."):  # the session's settings; the rest are the server's
            session.conf().set(key, value)
    _LEASE.append((lease, state))
    return SparkSession(python_context, jsparkSession=session)


def reserve_server() -> bool:
    """Take the running Spark server's lease now, for the session this process builds later
    (``get_spark``); False if no server runs or a run has it. For a process that has no use
    for a JVM of its own (the server's warm-up, ``etl.local.spark_warm_up``)."""
    if not spark_server.enabled() or spark_server.running() is None:
        return False
    lease = spark_server.take_lease()
    if lease is not None:
        _RESERVED.append(lease)
    return lease is not None


def started_own_jvm() -> bool:
    """True once this process has started a local Spark JVM of its own (no server's)."""
    return bool(_OWN_JVM)


def server_in_use() -> spark_server.ServerState | None:
    """The Spark server this process's session runs in; None for a JVM of its own."""
    return _LEASE[0][1] if _LEASE else None
