"""``GlueContext`` reduced to what the job uses: the Spark session and a logger."""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession


class GlueContext:
    def __init__(self, spark_context) -> None:
        self._sc = spark_context
        self.spark_session = SparkSession.builder.getOrCreate()

    def get_logger(self) -> logging.Logger:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
        return logging.getLogger("glue-job")
