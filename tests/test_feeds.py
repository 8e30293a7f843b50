"""Feeds as they really arrive (issue 10, point 4): JSON lines by any name, gzip, names with
spaces and Unicode, CSV with quoted newlines, a column added by a later file, Parquet, and a
missing required column. Function-level, except two in-process ``etl run``s at the end."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.core import feeds
from etl.core.datasets import get_dataset
from etl.core.errors import ValidationFailed
from etl.lambdas import quality_check, trigger, validation
from etl.lambdas.quality_check import Limits, profile_csv
from etl.stages.discover import discover
from etl.stages.extract import read_raw
from etl.stages.landed import validate_landed
from etl.stages.validate import (
    FileFacts,
    check_file,
    decompressed_facts,
    sniff_delimiter,
    validate_file,
)
from etl.storage.catalog import LocalCatalog
from etl.storage.lake import Lake
from etl.storage.staging import source_id

ORDERS = get_dataset("orders")
RUN_DATE = "2026-11-26"
BUCKET = "raw"  # the shared ``s3`` fixture's bucket (tests/conftest.py)
HEADER = "id,name,email,region_code,status,quantity,price,amount,created_date,channel"


def order(i: int, name: str = "ann lee", **extra) -> dict:
    return {
        "id": i,
        "name": name,
        "email": f"a{i}@example.com",
        "region_code": "01",
        "status": "ACTIVE",
        "quantity": 2,
        "price": 10.5,
        "amount": 21.0,
        "created_date": "2026-11-20 10:00:00",
        "channel": "web",
        **extra,
    }


def json_lines(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def csv_text(rows: list[dict], columns: str = HEADER) -> bytes:
    """CSV with every text field quoted, so a name may hold a newline."""
    names = columns.split(",")
    lines = [columns]
    for row in rows:
        lines.append(
            ",".join(
                '"' + str(row[c]).replace('"', '""') + '"'
                if isinstance(row[c], str)
                else str(row[c])
                for c in names
            )
        )
    return ("\n".join(lines) + "\n").encode()


def facts(name: str, body: bytes) -> FileFacts:
    return FileFacts(key=f"incoming/{name}", size=len(body), head=body[: 64 * 1024], tail=body[-8:])


# --- 1. extensions and gzip --------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "orders.jsonl",
        "orders.ndjson",
        "orders.json.gz",
        "orders.jsonl.gz",
        "orders.ndjson.gz",
        "orders.csv.gz",
        "orders.txt.gz",
        "orders.tsv",
        "orders.tsv.gz",
        "ORDERS.JSONL.GZ",
    ],
)
def test_json_lines_extensions_and_gzip_of_text_formats_are_accepted(name):
    feeds.check_extension(name)


@pytest.mark.parametrize("name", ["orders.parquet.gz", "orders.gz", "orders.xlsx", "orders.zip"])
def test_gzipped_parquet_and_unknown_formats_are_refused_with_the_list(name):
    with pytest.raises(ValidationFailed, match=r"unsupported file format .*\.csv\.gz"):
        feeds.check_extension(name)


@pytest.mark.parametrize("name", ["orders.jsonl", "orders.ndjson", "orders.jsonl.gz"])
def test_json_lines_names_are_validated_as_json_lines(name):
    body = json_lines([order(1), order(2)])
    if name.endswith(".gz"):
        body = gzip.compress(body)
    verdict = validate_file(facts(name, body))
    assert verdict.isValid and verdict.dataFormat == "json", verdict.reason


def test_a_tsv_is_validated_as_csv_split_at_tabs():
    body = csv_text([order(1), order(2)]).replace(b",", b"\t")
    verdict = validate_file(facts("orders.tsv.gz", gzip.compress(body)))
    assert verdict.isValid and verdict.dataFormat == "csv", verdict.reason
    assert sniff_delimiter(body.decode()) == "\t"


def test_a_gzipped_csv_is_validated_on_its_decompressed_content():
    verdict = validate_file(facts("orders.csv.gz", gzip.compress(csv_text([order(1)]))))
    assert (verdict.isValid, verdict.dataFormat, verdict.fileFormat) == (True, "csv", ".csv.gz")


def test_a_gzipped_file_whose_content_is_broken_fails_like_the_plain_file():
    broken = gzip.compress(b'{"id": 1}\n{"id": 2,\n{"id": 3}\n')
    verdict = validate_file(facts("orders.json.gz", broken))
    assert not verdict.isValid and "line 2" in verdict.reason


def test_a_gzip_bomb_stops_at_the_size_limit_with_a_clear_error():
    bomb = gzip.compress(b"\0" * (20 << 20))  # 20 MB of zeros in ~20 KB
    big = FileFacts(key="incoming/orders.json.gz", size=len(bomb), head=bomb[:100], tail=bomb[-8:])
    with pytest.raises(ValidationFailed, match="decompresses to more than 4,194,304 bytes"):
        decompressed_facts(big, lambda: iter([bomb]), max_bytes=4 << 20)


def test_gzip_is_decompressed_a_bounded_piece_at_a_time():
    bomb = gzip.compress(b"x" * (32 << 20))
    pieces = list(feeds.gunzip([bomb], max_bytes=1 << 30, piece_bytes=1 << 20))
    assert max(map(len, pieces)) <= 1 << 20 and sum(map(len, pieces)) == 32 << 20


@pytest.mark.parametrize(
    "body, message",
    [
        (gzip.compress(b'{"id": 1}\n' * 1000)[:-12], "truncated"),
        (b'{"id": 1}\n', "not gzip data"),
    ],
)
def test_a_truncated_or_fake_gzip_object_is_refused(body, message):
    verdict = validate_file(facts("orders.json.gz", body))
    assert not verdict.isValid and message in verdict.reason


def test_concatenated_gzip_members_read_as_one_stream():
    body = gzip.compress(json_lines([order(1)])) + gzip.compress(json_lines([order(2)]))
    content = b"".join(feeds.gunzip([body[:7], body[7:]], max_bytes=1 << 20))
    assert content == json_lines([order(1), order(2)])


def lambda_event(key: str, data_format: str = "") -> dict:
    return {
        "inputData": {"bucket": BUCKET, "key": key},
        "validationResult": {"dataFormat": data_format},
    }


def test_the_lambdas_validate_and_score_a_gzipped_object_as_its_plain_twin(s3):
    rows = [order(i) for i in range(1, 200)] + [order(1), order(500, status=None)]
    plain = json_lines(rows)
    s3.put_object(Bucket=BUCKET, Key="incoming/orders.jsonl", Body=plain)
    s3.put_object(Bucket=BUCKET, Key="incoming/orders é.jsonl.gz", Body=gzip.compress(plain))
    checked = validation.handler(lambda_event("incoming/orders é.jsonl.gz"))
    assert checked["isValid"] and checked["dataFormat"] == "json", checked["reason"]
    scores = [
        quality_check.handler(lambda_event(key, "json"))
        for key in ("incoming/orders.jsonl", "incoming/orders é.jsonl.gz")
    ]
    assert scores[0]["totalRecords"] == 201 and scores[0]["duplicateRecords"] == 1
    assert {k: scores[1][k] for k in scores[0]} == scores[0] | {"parser": scores[1]["parser"]}


def test_the_quality_lambda_sniffs_a_gzipped_csv_without_a_validation_result(s3):
    key = "incoming/orders.csv.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(csv_text([order(1), order(2)])))
    assert quality_check.handler(lambda_event(key))["totalRecords"] == 2


@pytest.mark.parametrize(
    "name, data_format, body",
    [
        ("orders.jsonl.gz", "json", lambda rows: gzip.compress(json_lines(rows))),
        ("orders.ndjson", "json", json_lines),
        ("orders.csv.gz", "csv", lambda rows: gzip.compress(csv_text(rows))),
        ("orders.json.gz", "json_array", lambda rows: gzip.compress(json.dumps(rows).encode())),
    ],
)
def test_spark_reads_gzip_and_json_lines_names_by_extension(
    spark, tmp_path, name, data_format, body
):
    path = tmp_path / name
    path.write_bytes(body([order(1), order(2, name="bo")]))
    df = read_raw(spark, str(path), data_format, infer_csv_types=True, dataset=ORDERS)
    assert "_corrupt_record" not in df.columns
    assert sorted(r["name"] for r in df.select("name").collect()) == ["ann lee", "bo"]


def test_discovery_says_where_a_bad_record_of_a_gzipped_file_is(spark, tmp_path, lake):
    path = tmp_path / "orders.jsonl.gz"
    path.write_bytes(
        gzip.compress(json_lines([order(1)]) + b'{"id": 2,\n' + json_lines([order(3)]))
    )
    with pytest.raises(ValidationFailed, match="line 2, column"):
        discover(spark, LocalCatalog(lake), ORDERS, str(path), "json")


def test_local_validation_reads_a_landed_gzip_object_as_stored(tmp_path):
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress(csv_text([order(1)])))
    verdict = validate_landed(str(path))
    assert verdict.isValid and verdict.dataFormat == "csv", verdict.reason


def test_onboarding_profiles_a_gzipped_csv(tmp_path):
    from etl.local.onboarding import new_dataset

    source = tmp_path / "shop orders.csv.gz"
    source.write_bytes(gzip.compress(csv_text([order(i) for i in range(1, 40)])))
    created = new_dataset("shop_orders", source, into=str(tmp_path / "datasets"))
    spec = (tmp_path / "datasets" / "shop_orders" / "dataset.yaml").read_text()
    assert created.proposal.profile.rows == 39 and created.proposal.profile.data_format == "csv"
    assert "created_date" in spec


# --- 2. names ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key",
    [
        "incoming/my orders.json",
        "incoming/orders.2026-11-26.v2.csv",
        "incoming/orders (1) #2 & 100%+.csv",
        "incoming/注文 été.jsonl",
        "incoming/" + "é" * 505 + "x.csv",  # exactly 1,024 bytes of UTF-8
    ],
)
def test_keys_with_spaces_dots_and_unicode_are_accepted(key):
    assert len(key.encode()) <= 1024
    feeds.check_key(key)


@pytest.mark.parametrize(
    "key, why",
    [
        ("incoming/../curated/orders.json", "'..' segments"),
        ("/incoming/orders.json", "relative"),
        ("incoming/orders\n.json", "control character at position 16"),
        ("incoming/\x7forders.json", "control character"),
        ("incoming/" + "é" * 506 + "x.csv", "1026 bytes of UTF-8, more than S3's 1024"),
        ("incoming/", "names no file"),
    ],
)
def test_only_traversal_control_characters_and_overlong_keys_are_refused(key, why):
    with pytest.raises(ValidationFailed, match="invalid file name") as refused:
        check_file(FileFacts(key=key, size=10, head=b'{"id": 1}\n'))
    assert why in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "name", ["orders 10:00.csv", "orders [1].csv", "orders {a}.json", "o*.csv", "a\\b.csv"]
)
def test_characters_no_spark_read_can_take_are_refused_in_one_line(name):
    with pytest.raises(ValidationFailed, match="Spark cannot read a key with"):
        feeds.check_key(f"incoming/{name}")


@pytest.mark.parametrize(
    "encoded, key",
    [
        ("incoming/my+orders+%C3%A9t%C3%A9.csv", "incoming/my orders été.csv"),
        ("incoming/a%2Bb.json.gz", "incoming/a+b.json.gz"),
    ],
)
def test_event_keys_are_url_decoded_with_plus_as_space(encoded, key):
    bridge = {
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "raw"}, "object": {"key": encoded, "size": 1}},
    }
    notification = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "raw"}, "object": {"key": encoded, "size": 1}},
            }
        ]
    }
    assert trigger.landed_objects(bridge)[0]["key"] == key
    assert trigger.landed_objects(notification)[0]["key"] == key


def test_execution_names_and_source_ids_of_unicode_names_stay_safe():
    key = "incoming/注文 été 2026.csv.gz"
    name = trigger.execution_name(key, "etag")
    assert len(name) <= 80 and all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
    ident = source_id(key)
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in ident)
    assert ident != source_id("incoming/注文 ete 2026.csv.gz")


# --- 3. CSV with quoted newlines -----------------------------------------------------------
MULTILINE = [order(1, name="ann\nlee"), order(2, name='bo, "the"\r\nbuilder'), order(3)]


def test_spark_reads_quoted_newlines_as_one_record(spark, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_text(MULTILINE))
    df = read_raw(spark, str(path), "csv", infer_csv_types=True, dataset=ORDERS)
    rows = {r["id"]: r["name"] for r in df.select("id", "name").collect()}
    assert rows == {1: "ann\nlee", 2: 'bo, "the"\r\nbuilder', 3: "ann lee"}


def test_discovery_of_a_csv_with_quoted_newlines_finds_the_declared_columns(spark, tmp_path, lake):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_text(MULTILINE))
    schema = discover(spark, LocalCatalog(lake), ORDERS, str(path), "csv")
    assert schema.fieldNames() == HEADER.split(",")


def test_validation_of_a_head_cut_inside_a_quoted_newline_is_not_a_failure():
    rows = [order(i, name="line one\nend") for i in range(1, 3000)]  # the 100th line cuts one
    body = csv_text(rows)
    head = body[: 64 * 1024]
    verdict = validate_file(FileFacts("incoming/orders.csv", len(body), head, body[-8:]))
    assert verdict.isValid and verdict.dataFormat == "csv", verdict.reason


@pytest.mark.parametrize("cut", ["in the quoted field", "between \\r and \\n"])
def test_the_quality_lambda_reads_a_quoted_newline_across_a_block_boundary(cut):
    rows = [order(i) for i in range(1, 50)]
    rows[20]["name"] = "first\r\nsecond"
    body = csv_text(rows)
    at = body.index(b"first\r\n") + (3 if cut == "in the quoted field" else 6)
    profile = profile_csv([body[:at], body[at:]], Limits(), null_markers=ORDERS.null_markers)
    assert (profile.rows, profile.defect_count) == (49, 0)


def test_a_valid_csv_with_quoted_newlines_scores_as_its_json_twin():
    rows = [order(i, name=f"n{i}\nx") for i in range(1, 100)]
    body = csv_text(rows)
    blocks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    csv_report = quality_check.report(profile_csv(blocks), 70)
    json_report = quality_check.report(quality_check.profile_json_lines([json_lines(rows)]), 70)
    assert csv_report["defectRecords"] == 0 and csv_report["passed"]
    assert csv_report["qualityScore"] == json_report["qualityScore"]


# --- 4 and 5. etl query over added columns and over Parquet ------------------------------
def register_table(lake, name: str, location: str, partitioned: bool) -> LocalCatalog:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    catalog = LocalCatalog(lake)
    schema = StructType([StructField("id", LongType()), StructField("note", StringType())])
    catalog.upsert_table(
        "etl_pipeline",
        name,
        schema,
        location=location,
        classification="parquet",
        partition_keys=[("process_day", "string")] if partitioned else None,
    )
    if partitioned:
        catalog.add_partitions("etl_pipeline", name, [["26"], ["27"]])
    return catalog


def test_a_column_added_by_a_later_file_is_queryable_and_null_before(lake):
    from etl.local.query import run_query

    table = Path(lake.curated_table_path("notes"))
    (table / "process_day=26").mkdir(parents=True)
    (table / "process_day=27").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2]}), table / "process_day=26/a-part-0.parquet")
    pq.write_table(
        pa.table({"id": [3], "note": ["new"]}), table / "process_day=27/b-part-0.parquet"
    )
    register_table(lake, "notes", str(table), partitioned=True)
    _, rows = run_query(lake, "SELECT id, note FROM etl_pipeline.notes ORDER BY id")
    assert rows == [(1, None), (2, None), (3, "new")]


def test_a_raw_parquet_table_is_queryable_from_its_landed_file(lake):
    from etl.local.query import run_query

    landed = Path(lake.raw) / "incoming" / "it's orders.parquet"
    landed.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": [1, 2, 3]}), landed)
    register_table(lake, "raw_orders", str(landed), partitioned=False)
    assert run_query(lake, "SELECT count(*) FROM etl_pipeline.raw_orders")[1] == [(3,)]


# --- 6. a missing required column ----------------------------------------------------------
@pytest.mark.parametrize("kind", ["csv", "json", "parquet"])
def test_a_missing_required_column_fails_validation_in_one_line(spark, tmp_path, lake, kind):
    rows = [{k: v for k, v in order(i).items() if k != "status"} for i in range(1, 4)]
    path = tmp_path / f"orders.{kind}"
    if kind == "csv":
        path.write_bytes(csv_text(rows, HEADER.replace(",status", "")))
    elif kind == "json":
        path.write_bytes(json_lines(rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(ValidationFailed) as refused:
        discover(spark, LocalCatalog(lake), ORDERS, str(path), kind)
    message = str(refused.value)
    assert "no 'status' column" in message and len(message) <= 300 and "\n" not in message


# --- end to end: the CLI in-process on the shared Spark session ----------------------------
def run_cli(lake: Path, *argv: str) -> tuple[int, str, str]:
    from etl.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, "--lake", str(lake)])
    return code, out.getvalue(), err.getvalue()


def test_a_gzipped_csv_with_a_unicode_name_and_quoted_newlines_runs_end_to_end(spark, tmp_path):
    rows = [order(i, name=f"name {i}\nsecond line") for i in range(1, 41)]
    source = tmp_path / "commandes été 2026.csv.gz"
    source.write_bytes(gzip.compress(csv_text(rows)))
    lake = tmp_path / "lake"
    code, out, err = run_cli(lake, "run", str(source), "--run-date", RUN_DATE, "--json")
    assert code == 0, err[-600:]
    assert json.loads(out)["rows"]["read"] == 40
    code, out, err = run_cli(
        lake, "query", "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM etl_pipeline.orders"
    )
    assert code == 0 and "40" in out, err
    partition = lake / "curated/processed/orders/process_year=2026/process_month=11/process_day=26"
    code, out, err = run_cli(lake, "lineage", str(partition), "--json")
    found = json.dumps(json.loads(out), ensure_ascii=False)
    assert code == 0 and "incoming/commandes été 2026.csv.gz" in found, err
    code, out, err = run_cli(lake, "report")
    report = Path(out.strip().splitlines()[-1])
    assert code == 0 and "commandes été 2026.csv.gz" in report.read_text(encoding="utf-8"), err


def test_a_parquet_missing_a_required_column_exits_3_then_queries_still_work(spark, tmp_path):
    lake = tmp_path / "lake"
    good = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pylist([order(i) for i in range(1, 21)]), good)
    assert run_cli(lake, "run", str(good), "--run-date", RUN_DATE)[0] == 0
    code, out, err = run_cli(lake, "query", "SELECT count(*) AS n FROM etl_pipeline.orders")
    assert code == 0 and "20" in out, err
    missing = tmp_path / "orders_no_status.parquet"
    rows = [{k: v for k, v in order(i).items() if k != "status"} for i in range(30, 33)]
    pq.write_table(pa.Table.from_pylist(rows), missing)
    code, _, err = run_cli(lake, "run", str(missing), "--run-date", RUN_DATE)
    lines = [line for line in err.splitlines() if line.startswith("VALIDATION_FAILED")]
    assert code == 3 and len(lines) == 1 and len(lines[0]) <= 300, err[-600:]
    assert "status" in lines[0] and "Traceback" not in err


def test_a_column_added_by_a_second_file_is_catalogued_and_queryable_after_its_run(spark, tmp_path):
    lake = tmp_path / "lake"
    first, second = tmp_path / "orders day1.csv", tmp_path / "orders day2.csv"
    first.write_bytes(csv_text([order(i) for i in range(1, 11)]))
    second.write_bytes(
        csv_text([order(i, coupon="NEW10") for i in range(11, 16)], HEADER + ",coupon")
    )
    for source in (first, second):
        code, _, err = run_cli(lake, "run", str(source), "--run-date", RUN_DATE)
        assert code == 0, err[-600:]
    table = LocalCatalog(Lake.local(lake)).get_table("etl_pipeline", "orders")
    assert "coupon" in [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    code, out, err = run_cli(
        lake,
        "query",
        "SELECT count(*) AS n, count(coupon) AS with_coupon FROM etl_pipeline.orders",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) == [{"n": 15, "with_coupon": 5}]


def test_a_column_keeps_its_type_and_its_place_in_the_catalog_from_file_to_file(spark, tmp_path):
    """Athena reads every partition with the table's one type: a file that reads a column
    narrower is written with the table's type, one that reads it otherwise is refused
    before it writes a row, and a column a later file lacks stays in the table."""
    lake = tmp_path / "lake"
    catalog = LocalCatalog(Lake.local(lake))
    days = {
        "2026-11-20": [order(i, batch=3_000_000_000 + i, coupon="X") for i in range(1, 6)],
        "2026-11-21": [order(i, batch=i) for i in range(6, 11)],  # Spark reads int
        "2026-11-22": [order(i, batch=f"B{i}") for i in range(11, 16)],  # text
    }
    codes = {}
    for day, rows in days.items():
        source = tmp_path / f"orders {day}.csv"
        columns = HEADER + ",batch" + (",coupon" if "coupon" in rows[0] else "")
        source.write_bytes(csv_text(rows, columns))
        codes[day], _, err = run_cli(lake, "run", str(source), "--run-date", day)
    assert codes == {"2026-11-20": 0, "2026-11-21": 0, "2026-11-22": 1}
    assert "orders: batch bigint -> string would leave its older partitions unreadable" in err
    columns = catalog.get_table("etl_pipeline", "orders")["StorageDescriptor"]["Columns"]
    assert {"batch": "bigint", "coupon": "string"}.items() <= {
        c["Name"]: c["Type"] for c in columns
    }.items()
    written = {
        path.parent.name: pq.read_schema(path).field("batch").type
        for path in (lake / "curated" / "processed" / "orders").rglob("*.parquet")
    }
    assert written == {"process_day=20": pa.int64(), "process_day=21": pa.int64()}
