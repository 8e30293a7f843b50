"""A deterministic orders feed with the dirt real feeds have, in every supported format.

Records are generated relative to an ``as_of`` date so the one-year retention rule always
has something to keep and something to drop. The same seed and date give the same bytes.
Dirt injected on purpose: exact duplicate records, null ids, numbers as strings, unknown
region codes, statuses outside ACTIVE/PENDING, records older than a year, untrimmed and
lower-case names, Japanese names and missing emails.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from etl.core.datasets import get_dataset

FIELDS = (
    "id",
    "name",
    "email",
    "region_code",
    "status",
    "quantity",
    "price",
    "amount",
    "created_date",
    "channel",
)
FIRST_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan")
LAST_NAMES = ("smith", "jones", "taylor", "brown", "wilson", "evans", "thomas", "roberts")
JAPANESE_NAMES = ("山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲", "田中 健")
UNKNOWN_REGION_CODES = ("05", "99")
STATUSES = ("ACTIVE", "PENDING")
OTHER_STATUSES = ("CANCELLED", "INACTIVE", "active")
CHANNELS = ("web", "store", "phone")


def _regions() -> dict[str, str]:
    """The orders dataset's regions reference table: the codes a clean record uses."""
    text = get_dataset("orders").folder.joinpath("reference/regions.csv").read_text("utf-8")
    return {row["region_code"]: row["region_name"] for row in csv.DictReader(io.StringIO(text))}


REGIONS = _regions()
REGION_CODES = tuple(sorted(REGIONS))


def generate_orders(rows: int = 1000, as_of: date | None = None, seed: int = 42) -> list[dict]:
    """Return ``rows`` order records (duplicates included) as plain dicts.

    Missing values are ``None``. Numbers are sometimes strings, as in real JSON feeds.
    """
    as_of = as_of or date.today()
    rng = random.Random(seed)
    records: list[dict] = []
    next_id = 1
    while len(records) < rows:
        if records and rng.random() < 0.03:
            records.append(dict(rng.choice(records)))  # an exact duplicate record
            continue
        records.append(_order(rng, next_id, as_of))
        next_id += 1
    return records


def _order(rng: random.Random, order_id: int, as_of: date) -> dict:
    quantity = rng.randint(1, 20)
    price = round(rng.uniform(5, 2000), 2)
    name = (
        rng.choice(JAPANESE_NAMES)
        if rng.random() < 0.1
        else f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    )
    if rng.random() < 0.5:
        name = name.title()
    if rng.random() < 0.2:
        name = f"  {name} "
    days_old = rng.randint(366, 700) if rng.random() < 0.1 else rng.randint(0, 364)
    created = datetime.combine(as_of, datetime.min.time()) - timedelta(
        days=days_old, seconds=rng.randint(0, 86_399)
    )
    email = (
        None if rng.random() < 0.05 else f"{name.strip().split()[0].lower()}{order_id}@example.com"
    )
    return {
        "id": None if rng.random() < 0.02 else order_id,
        "name": name,
        "email": email,
        "region_code": rng.choice(UNKNOWN_REGION_CODES)
        if rng.random() < 0.05
        else rng.choice(REGION_CODES),
        "status": rng.choice(OTHER_STATUSES) if rng.random() < 0.1 else rng.choice(STATUSES),
        "quantity": str(quantity) if rng.random() < 0.1 else quantity,
        "price": f"{price:.2f}" if rng.random() < 0.1 else price,
        "amount": round(rng.uniform(10, 20000), 2),
        "created_date": created.strftime("%Y-%m-%d %H:%M:%S"),
        "channel": rng.choice(CHANNELS),
    }


def write_json_lines(records: list[dict], path: Path) -> Path:
    """One JSON object per line; missing emails are left out of the object, as feeds do."""
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            compact = {k: v for k, v in record.items() if not (k == "email" and v is None)}
            out.write(json.dumps(compact, ensure_ascii=False) + "\n")
    return path


def write_json_array(records: list[dict], path: Path) -> Path:
    """A single multi-line JSON array (what the seed's job reads with ``multiline``)."""
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def write_csv(records: list[dict], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in records)
    return path


def write_parquet(records: list[dict], path: Path) -> Path:
    """Parquet needs one type per column, so the feed's mixed-type numbers become strings."""
    columns = {field: [r[field] for r in records] for field in FIELDS}
    for field in ("quantity", "price"):
        columns[field] = [None if v is None else str(v) for v in columns[field]]
    schema = pa.schema(
        [("id", pa.int64()), ("amount", pa.float64())]
        + [(f, pa.string()) for f in FIELDS if f not in ("id", "amount")]
    )
    table = pa.table({f.name: columns[f.name] for f in schema}, schema=schema)
    pq.write_table(table.select(list(FIELDS)), path, compression="snappy")
    return path


WRITERS = {
    "orders.json": write_json_lines,
    "orders_array.json": write_json_array,
    "orders.csv": write_csv,
    "orders.parquet": write_parquet,
}


def write_samples(out_dir: str | Path, rows: int = 1000, as_of: date | None = None) -> list[Path]:
    """Write the orders feed in every format plus ``regions.csv`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = generate_orders(rows, as_of)
    paths = [writer(records, out / name) for name, writer in WRITERS.items()]
    paths.append(write_regions(out / "regions.csv"))
    return paths


def write_regions(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["region_code", "region_name"])
        writer.writerows(sorted(REGIONS.items()))
    return path
