"""The lake builds every path, and the raw zone keeps every version, immutably."""

from __future__ import annotations

import os
from pathlib import Path

from etl.storage import lake as lake_module
from etl.storage.lake import Lake, keep_current_version, land_file, raw_versions


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
    assert lake.raw_key(landed) == "incoming/orders.json"
    assert Path(landed).read_text() == '{"id": 1}\n'
    assert (tmp_path / "lake" / "raw" / "incoming" / "orders.json").read_text() == '{"id": 1}\n'


def test_landing_the_same_bytes_twice_is_the_same_version(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    source.write_text('{"id": 1}\n')
    assert land_file(str(source), lake) == land_file(str(source), lake)
    assert len(raw_versions(lake, "incoming/orders.json")) == 1


def test_landing_new_bytes_under_a_known_name_keeps_both_versions(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    source.write_text('{"id": 1}\n')
    first = land_file(str(source), lake)
    source.write_text('{"id": 2}\n')
    second = land_file(str(source), lake)
    assert lake.raw_version(first) != lake.raw_version(second)
    assert raw_versions(lake, "incoming/orders.json") == [first, second]
    assert Path(first).read_text() == '{"id": 1}\n'  # never rewritten
    assert Path(lake.landing_path("orders.json")).read_text() == '{"id": 2}\n'  # the current one


def test_landing_an_earlier_version_again_makes_it_current_without_a_new_version(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    source.write_text("day 1\n")
    first = land_file(str(source), lake)
    source.write_text("day 2\n")
    land_file(str(source), lake)
    source.write_text("day 1\n")
    assert land_file(str(source), lake) == first
    assert len(raw_versions(lake, "incoming/orders.json")) == 2
    assert Path(lake.landing_path("orders.json")).read_text() == "day 1\n"


def test_a_file_put_straight_into_incoming_is_kept_before_a_new_version_replaces_it(tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    dropped = Path(lake.landing_path("orders.json"))
    dropped.write_text("dropped by hand\n")
    kept = keep_current_version(lake, str(dropped))
    source = tmp_path / "orders.json"
    source.write_text("landed\n")
    land_file(str(source), lake)
    assert Path(kept).read_text() == "dropped by hand\n"
    assert len(raw_versions(lake, "incoming/orders.json")) == 2


def test_spark_reading_the_landing_folder_sees_only_current_objects(spark, tmp_path):
    lake = Lake.local(tmp_path / "lake").ensure()
    source = tmp_path / "orders.json"
    for day in (1, 2):
        source.write_text(f'{{"id": {day}}}\n')
        land_file(str(source), lake)
    rows = spark.read.json(lake.landing_path("")).collect()
    assert [r.id for r in rows] == [2]


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
    lake = Lake.local(tmp_path / "lake")
    assert lake.raw_key(f"{lake.raw}/incoming/flights/f.csv") == "incoming/flights/f.csv"
    assert Lake.s3("s3://raw-b", "s3://c", "s3://a").raw_key("s3://raw-b/incoming/o.json") == (
        "incoming/o.json"
    )


def test_a_source_is_its_key_and_object_version(tmp_path):
    lake = Lake.local(tmp_path / "lake")
    kept = lake.version_path("incoming/flights/f.csv", "0123abcd")
    assert kept == f"{lake.raw}/_versions/incoming/flights/f.csv/0123abcd/f.csv"
    assert lake.raw_key(kept) == "incoming/flights/f.csv"
    assert lake.source(kept) == "incoming/flights/f.csv?versionId=0123abcd"
    s3 = Lake.s3("s3://raw-b", "s3://c", "s3://a")
    assert s3.source("s3://raw-b/incoming/o.json", "3HL4kq") == "incoming/o.json?versionId=3HL4kq"


def test_two_versions_of_one_key_are_two_sources_and_one_version_is_one():
    from etl.storage.staging import source_id

    day1, day2 = "incoming/orders.json?versionId=aaa", "incoming/orders.json?versionId=bbb"
    assert source_id(day1) != source_id(day2)
    assert source_id(day1) == source_id("incoming/orders.json?versionId=aaa")
    assert source_id(day1).startswith("orders.json-")


def test_making_a_version_current_leaves_no_pointer_when_another_landing_won_the_race(
    tmp_path, monkeypatch
):
    """Two landings of one version at once: the second's rename finds the key already a link
    to the same file, which rename() leaves as it is; its pointer must not stay behind."""
    version, key = tmp_path / "v1" / "orders.json", tmp_path / "incoming" / "orders.json"
    version.parent.mkdir()
    version.write_bytes(b'{"id": 1}\n')
    key.parent.mkdir()
    os.link(version, key)  # the other landing made it current between the check and the rename
    monkeypatch.setattr(lake_module.os.path, "samefile", lambda a, b: False)
    lake_module._make_current(version, key)
    assert sorted(p.name for p in key.parent.iterdir()) == ["orders.json"]
    assert key.read_bytes() == version.read_bytes()


def test_digests_fed_aside_see_every_block_in_order(tmp_path):
    import hashlib

    source = tmp_path / "orders.json"
    source.write_bytes(os.urandom(40_000))
    md5, sha1 = hashlib.md5(usedforsecurity=False), hashlib.sha1(usedforsecurity=False)
    lake = Lake.local(tmp_path / "lake")
    land_file(str(source), lake, chunk_bytes=1_000, digests=[md5, sha1])  # 40 blocks
    data = source.read_bytes()
    assert md5.hexdigest() == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert sha1.hexdigest() == hashlib.sha1(data, usedforsecurity=False).hexdigest()


def test_a_digest_that_fails_fails_the_landing_and_keeps_nothing(tmp_path):
    import pytest

    class Failing:
        def __init__(self):
            self.blocks = 0

        def update(self, data: bytes, /) -> None:
            self.blocks += 1
            if self.blocks == 2:
                raise ValueError("digest broke")

    source = tmp_path / "orders.json"
    source.write_bytes(b"x" * 20_000)
    lake = Lake.local(tmp_path / "lake")
    failing = Failing()
    with pytest.raises(ValueError, match="digest broke"):  # not a hang on a full queue
        land_file(str(source), lake, chunk_bytes=1_000, digests=[failing])
    assert failing.blocks == 20  # it went on being fed, so the copy could finish
    assert raw_versions(lake, "incoming/orders.json") == []
