"""The lake builds every path, and the raw zone is immutable."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.core.errors import RawZoneViolation
from etl.storage.lake import Lake, land_file


def test_local_zones_mirror_the_deployed_buckets(tmp_path):
    lake = Lake.local(tmp_path)
    assert lake.landing_path("a.json") == str(tmp_path / "raw" / "incoming" / "a.json")
    assert lake.curated_table_path("orders") == str(tmp_path / "curated" / "processed" / "orders")
    assert lake.analytics_table_path("daily_sales") == str(tmp_path / "analytics" / "daily_sales")


def test_s3_lakes_build_s3_uris():
    lake = Lake.s3(raw="s3://raw-bucket", curated="s3://cur/", analytics="s3://ana")
    assert lake.landing_path("a.json") == "s3://raw-bucket/incoming/a.json"
    assert lake.curated_table_path("orders") == "s3://cur/processed/orders"


def test_lake_root_defaults_to_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ETL_LAKE_ROOT", str(tmp_path / "elsewhere"))
    assert Lake.local().raw == str(tmp_path / "elsewhere" / "raw")


def test_landing_copies_the_file_into_raw_incoming(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    source.write_text('{"id": 1}\n')
    landed = land_file(str(source), lake)
    assert landed == lake.landing_path("orders.json")
    assert (tmp_path / "lake" / "raw" / "incoming" / "orders.json").read_text() == '{"id": 1}\n'


def test_landing_the_same_bytes_twice_is_a_no_op(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    source.write_text('{"id": 1}\n')
    assert land_file(str(source), lake) == land_file(str(source), lake)


def test_landing_different_bytes_under_an_existing_name_is_refused(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    source.write_text('{"id": 1}\n')
    land_file(str(source), lake)
    source.write_text('{"id": 2}\n')
    with pytest.raises(RawZoneViolation, match="immutable"):
        land_file(str(source), lake)
    assert (tmp_path / "lake" / "raw" / "incoming" / "orders.json").read_text() == '{"id": 1}\n'


def test_landing_reports_the_bytes_copied_as_it_goes(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    source.write_bytes(b"x" * 2500)
    heard: list[tuple[int, int]] = []
    land_file(str(source), lake, on_bytes=lambda *counts: heard.append(counts), chunk_bytes=1000)
    assert heard == [(1000, 2500), (2000, 2500), (2500, 2500)]


def test_a_compressed_name_lands_byte_for_byte(tmp_path):
    import gzip

    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json.gz"
    source.write_bytes(gzip.compress(b'{"id": 1}\n'))
    landed = land_file(str(source), lake)
    assert Path(landed).read_bytes() == source.read_bytes()


def test_a_source_is_identified_by_its_raw_key_wherever_the_lake_lives(tmp_path):
    from etl.storage.lake import Lake

    lake = Lake.local(tmp_path / "lake")
    assert lake.raw_key(f"{lake.raw}/incoming/flights/f.csv") == "incoming/flights/f.csv"
    assert Lake.s3("s3://raw-b", "s3://c", "s3://a").raw_key("s3://raw-b/incoming/o.json") == (
        "incoming/o.json"
    )
