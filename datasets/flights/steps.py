"""The flights dataset's own steps (``steps:`` in dataset.yaml), run after the reference joins.

A step is a ``DataFrame -> DataFrame`` function for a rule the spec cannot say; the job
loads this file by path, so it imports only PySpark.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# A US civil registration: N, a first digit 1-9, then up to four digits or letters.
US_REGISTRATION = r"^N[1-9][0-9A-Z]{0,4}$"


def normalise_tail_numbers(df: DataFrame) -> DataFrame:
    """Tail numbers as registered (``n 619-aa`` -> ``N619AA``); placeholders such as
    ``UNKNOWN`` or ``0``, which would merge unrelated aircraft, become null."""
    tidy = F.upper(F.regexp_replace(F.col("tailnum"), r"[\s-]", ""))
    return df.withColumn("tailnum", F.when(tidy.rlike(US_REGISTRATION), tidy))
