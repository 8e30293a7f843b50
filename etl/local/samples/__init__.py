"""Sample feeds for the bundled datasets (``etl sample --dataset NAME``), deterministic.

Each module generates one dataset's feed with the dirt real feeds have and writes it in the
formats that dataset is delivered in; ``GENERATORS`` maps dataset names to them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from etl.core.errors import EtlError
from etl.local.samples import flights, orders

Writer = Callable[..., list[Path]]
GENERATORS: dict[str, Writer] = {"orders": orders.write_samples, "flights": flights.write_samples}


def write_samples(
    dataset: str, out_dir: str | Path, rows: int = 1000, as_of: date | None = None
) -> list[Path]:
    """Write the sample feed of ``dataset`` into ``out_dir``; return the files written."""
    if dataset not in GENERATORS:
        raise EtlError(
            f"no sample generator for dataset {dataset!r}; generators exist for: "
            f"{', '.join(sorted(GENERATORS))}"
        )
    return GENERATORS[dataset](out_dir, rows=rows, as_of=as_of)
