"""The right Spark session for where the code runs.

Inside AWS Glue (a Glue job or a Glue interactive session) ``awsglue`` is importable and the
session comes from the ``GlueContext``. Everywhere else we build a local session tuned for a
2-core laptop: UTC session time zone (partition dates must not depend on the laptop's zone),
no UI, small shuffles, and all Spark state under a temp dir instead of the user's home.

The driver JVM is tuned for a short local run (``etl.jobs.jvm``): most of a small run's
time is the JVM warming up.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

from pyspark.sql import SparkSession

from etl.jobs import jvm

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


def _new_scratch() -> str:
    """A temp folder for this process's Spark state, removed when the process ends."""
    scratch = tempfile.mkdtemp(prefix="etl-spark-")
    _SCRATCH.append(scratch)
    if len(_SCRATCH) == 1:
        atexit.register(remove_scratch)
    return scratch


def remove_scratch() -> None:
    """Remove the temp folders local sessions of this process made (Spark removes only
    what it made inside them). For the end of the process: the session cannot run after."""
    while _SCRATCH:
        shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)


@cache
def get_spark(app_name: str = "etl-workbench", input_bytes: int | None = None) -> SparkSession:
    """Return the session for this environment (Glue's, or a local one built once).

    ``input_bytes``, the size of the input the process is about to run on, tunes a local
    JVM started for it (``etl.jobs.jvm.java_options``); an existing session is returned as is.
    """
    if in_glue():
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext

        return GlueContext(SparkContext.getOrCreate()).spark_session
    active = SparkSession.getActiveSession()
    if active is not None:  # one session per process, whoever built it
        return active
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    scratch = os.environ.get("ETL_SPARK_TMP") or _new_scratch()
    builder = SparkSession.builder.master(os.environ.get("ETL_SPARK_MASTER", "local[*]"))
    builder = builder.appName(app_name)
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.local.dir", scratch).config(
        "spark.sql.warehouse.dir", os.path.join(scratch, "warehouse")
    )
    options = " ".join(
        [
            f"-Dderby.system.home={scratch}",
            f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}",
            *jvm.java_options(input_bytes),
        ]
    )
    spark = builder.config("spark.driver.extraJavaOptions", options).getOrCreate()
    jvm.record_writer(options, spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    spark.sparkContext.setLogLevel(os.environ.get("ETL_SPARK_LOG_LEVEL", "ERROR"))
    return spark
