"""Dataset definitions: every threshold, mapping and rule of a dataset in one declared place.

The defaults are the seed tutorial's values. A new dataset is a new ``DatasetConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DatasetConfig:
    """Rules for one dataset, from landing file to analytics table."""

    name: str
    database: str = "etl_pipeline"
    # validation (the seed's validation Lambda)
    allowed_extensions: tuple[str, ...] = (".json", ".csv", ".parquet", ".txt")
    max_file_bytes: int = 5 * 1024**3
    filename_pattern: str = r"^[a-zA-Z0-9_-]+\.[a-zA-Z0-9]+$"
    # discovery: columns read as text whatever their values look like (codes keep leading
    # zeros; timestamps are parsed by the transform with ``timestamp_format``)
    string_columns: tuple[str, ...] = ("region_code", "created_date")
    # quality gate
    quality_threshold: float = 70.0
    expectation_suite: str = "orders_raw"
    # transform rules
    id_column: str = "id"
    numeric_columns: tuple[str, ...] = ("amount", "quantity", "price")
    timestamp_column: str = "created_date"
    timestamp_format: str = "yyyy-MM-dd HH:mm:ss"
    valid_statuses: tuple[str, ...] = ("ACTIVE", "PENDING")
    retention_days: int = 365
    amount_category_bounds: tuple[tuple[float, str], ...] = ((1000.0, "Small"), (10000.0, "Medium"))
    amount_category_default: str = "Large"
    email_column: str = "email"
    email_mask_pattern: str = r"(.{2}).*@"
    email_mask_replacement: str = "$1***@"
    pii_columns: tuple[str, ...] = ("email",)
    # reference data
    regions: dict[str, str] = field(
        default_factory=lambda: {"01": "North", "02": "South", "03": "East", "04": "West"}
    )
    # load
    process_partition_columns: tuple[str, ...] = ("process_year", "process_month", "process_day")

    @property
    def curated_table(self) -> str:
        return self.name

    @property
    def raw_table(self) -> str:
        return f"raw_{self.name}"


ORDERS = DatasetConfig(name="orders")

DATASETS = {ORDERS.name: ORDERS}


def get_dataset(name: str) -> DatasetConfig:
    """Return the dataset called ``name`` or raise ``ValueError`` listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {sorted(DATASETS)}") from None
