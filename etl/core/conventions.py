"""Names the whole pipeline shares, declared once: catalog database, lake prefixes, partitions.

Standard library only (the Lambdas import it too).
"""

from __future__ import annotations

DEFAULT_DATABASE = "etl_pipeline"
# Files landed directly under the landing prefix belong to this dataset; the others land
# under ``incoming/<dataset>/``.
DEFAULT_DATASET = "orders"

LANDING_PREFIX = "incoming"
CURATED_PREFIX = "processed"
REFERENCE_PREFIX = "reference"
# Rejected records, per dataset, in the curated zone: quarantine/<dataset>/.../rule=<rule>/.
QUARANTINE_PREFIX = "quarantine"

# What a source is called when it has an object version: the key, then the version as S3
# writes it in a version's URL (``incoming/orders.json?versionId=3HL4kqtJ...``).
VERSION_MARK = "?versionId="

# Every curated and analytics table is partitioned by the run's logical date.
PROCESS_PARTITIONS = ("process_year", "process_month", "process_day")
# Columns (not partitions) taken from each record's time column.
DATA_PERIOD_COLUMNS = ("data_year", "data_month")
# The quarantine's own columns: the rule a record broke (its last partition), where from.
RULE_COLUMN = "rule"
QUARANTINE_COLUMNS = ("source_key", "run_id")
# Columns the lake's tables add to a feed's own: a feed column so named would be overwritten
# in curated or clash in the quarantine, so a run refuses it.
RESERVED_COLUMNS = (*DATA_PERIOD_COLUMNS, *PROCESS_PARTITIONS, RULE_COLUMN, *QUARANTINE_COLUMNS)


def sql_identifier(name: str) -> str:
    """A column name in Spark SQL: in backticks, its own backticks doubled, so ``user.name``
    or ``Unit Price (€)`` is one column (Spark reads a bare ``user.name`` as a struct's field)."""
    return "`" + name.replace("`", "``") + "`"


def landing_key(filename: str, dataset: str = DEFAULT_DATASET) -> str:
    """Where a file for ``dataset`` lands in the raw zone: ``incoming/<dataset>/<file>``,
    or ``incoming/<file>`` for the default dataset."""
    if dataset == DEFAULT_DATASET:
        return f"{LANDING_PREFIX}/{filename}"
    return f"{LANDING_PREFIX}/{dataset}/{filename}"


def dataset_for_key(key: str) -> str | None:
    """The dataset a raw-zone key belongs to (its folder under ``incoming/``), the default
    dataset for a file directly under ``incoming/``, None outside the landing prefix."""
    parts = key.split("/")
    if len(parts) < 2 or parts[0] != LANDING_PREFIX:
        return None
    return parts[1] if len(parts) > 2 else DEFAULT_DATASET


def versioned_key(key: str, version: str = "") -> str:
    """A source's identity: its raw key and object version (``incoming/orders.json?versionId=v``),
    the key alone when it has no version. A re-used key with new bytes is another source."""
    return f"{key}{VERSION_MARK}{version}" if version else key


def split_versioned_key(source: str) -> tuple[str, str]:
    """``(key, version)`` from ``versioned_key``'s text (version ``""`` when there is none)."""
    key, _, version = source.partition(VERSION_MARK)
    return key, version
