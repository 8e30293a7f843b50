"""The sample feed is deterministic and carries the dirt the pipeline must handle."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta

from etl.local.samples.orders import REGIONS, generate_orders, write_samples

AS_OF = date(2026, 11, 26)


def test_the_same_seed_and_date_give_the_same_bytes(tmp_path):
    first = write_samples(tmp_path / "a", rows=200, as_of=AS_OF)
    second = write_samples(tmp_path / "b", rows=200, as_of=AS_OF)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_the_feed_has_every_kind_of_dirt():
    records = generate_orders(1000, AS_OF)
    counts = Counter(json.dumps(r, sort_keys=True) for r in records)
    cutoff = datetime.combine(AS_OF - timedelta(days=365), datetime.min.time())
    dirt = {
        "exact duplicates": any(n > 1 for n in counts.values()),
        "null ids": any(r["id"] is None for r in records),
        "numbers as strings": any(isinstance(r["quantity"], str) for r in records),
        "unknown region codes": any(r["region_code"] not in REGIONS for r in records),
        "other statuses": any(r["status"] not in ("ACTIVE", "PENDING") for r in records),
        "older than a year": any(
            datetime.fromisoformat(r["created_date"]) < cutoff for r in records
        ),
        "untrimmed names": any(r["name"] != r["name"].strip() for r in records),
        "lower-case names": any(r["name"].islower() for r in records),
        "japanese names": any(not r["name"].isascii() for r in records),
        "missing emails": any(r["email"] is None for r in records),
    }
    assert all(dirt.values()), [k for k, v in dirt.items() if not v]


def test_every_format_is_written(tmp_path):
    names = sorted(p.name for p in write_samples(tmp_path, rows=20, as_of=AS_OF))
    expected = ["orders.csv", "orders.json", "orders.parquet", "orders_array.json", "regions.csv"]
    assert names == expected
