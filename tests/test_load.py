"""Loading is atomic (no half-written partition is ever visible) and idempotent."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from etl.stages.load import write_partitioned
from etl.storage import publish_local
from etl.storage.publish import clear_partition, publish_staged
from etl.storage.publish_local import recover
from etl.storage.staging import source_id

PARTITIONS = ("process_year", "process_month", "process_day")
SCHEMA = "id bigint, process_year int, process_month int, process_day int"


def frame(spark, ids, day=26):
    return spark.createDataFrame([(i, 2026, 11, day) for i in ids], SCHEMA)


def partition_files(table: Path) -> list[str]:
    return sorted(str(p.relative_to(table)) for p in table.rglob("*.parquet"))


def write(spark, tmp_path, df, source):
    return write_partitioned(
        df,
        str(tmp_path / "t"),
        PARTITIONS,
        source=source,
        staging_path=str(tmp_path / "_staging" / source),
    )


def test_a_small_input_writes_one_snappy_file_per_partition(spark, tmp_path):
    published = write(spark, tmp_path, frame(spark, range(10)), "a.json")
    assert [p.values for p in published] == [["2026", "11", "26"]]
    assert partition_files(tmp_path / "t") == [
        f"process_year=2026/process_month=11/process_day=26/{source_id('a.json')}-part-00000.snappy.parquet"
    ]


def test_loading_the_same_source_twice_does_not_duplicate_rows(spark, tmp_path):
    write(spark, tmp_path, frame(spark, [1, 2]), "a.json")
    write(spark, tmp_path, frame(spark, [1, 2]), "a.json")
    assertDataFrameEqual(spark.read.parquet(str(tmp_path / "t")), frame(spark, [1, 2]))


def test_another_source_adds_to_the_partition(spark, tmp_path):
    write(spark, tmp_path, frame(spark, [1]), "a.json")
    write(spark, tmp_path, frame(spark, [2]), "b.json")
    assertDataFrameEqual(spark.read.parquet(str(tmp_path / "t")), frame(spark, [1, 2]))


def test_reprocessing_a_source_on_another_day_moves_its_rows(spark, tmp_path):
    write(spark, tmp_path, frame(spark, [1], day=25), "a.json")
    write(spark, tmp_path, frame(spark, [1], day=26), "a.json")
    assertDataFrameEqual(spark.read.parquet(str(tmp_path / "t")), frame(spark, [1], day=26))


def test_a_failing_write_leaves_the_published_partition_untouched(spark, tmp_path):
    write(spark, tmp_path, frame(spark, [1, 2]), "a.json")
    before = partition_files(tmp_path / "t")
    failing = frame(spark, [3]).selectExpr(
        "id",
        "CAST(assert_true(id < 0, 'boom') AS INT) + process_year AS process_year",
        "process_month",
        "process_day",
    )
    with pytest.raises(Exception, match="boom"):
        write(spark, tmp_path, failing, "a.json")
    assert partition_files(tmp_path / "t") == before
    assertDataFrameEqual(spark.read.parquet(str(tmp_path / "t")), frame(spark, [1, 2]))


def test_a_crash_between_the_two_renames_is_recovered(spark, tmp_path, monkeypatch):
    """Where folders cannot be exchanged in one step, the swap takes two renames."""
    monkeypatch.setattr(publish_local, "_exchange_supported", [False])
    write(spark, tmp_path, frame(spark, [1, 2]), "a.json")
    calls = []
    real_rename = os.rename

    def crash_on_second_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between renames")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", crash_on_second_rename)
    with pytest.raises(KeyboardInterrupt):
        write(spark, tmp_path, frame(spark, [9]), "b.json")
    monkeypatch.setattr(os, "rename", real_rename)
    target = tmp_path / "t/process_year=2026/process_month=11/process_day=26"
    assert not target.exists()  # the old version sits in a hidden folder that readers skip
    recover(str(target))
    assertDataFrameEqual(spark.read.parquet(str(tmp_path / "t")), frame(spark, [1, 2]))
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_staging_is_removed_after_publishing(spark, tmp_path):
    write(spark, tmp_path, frame(spark, [1]), "a.json")
    assert not (tmp_path / "_staging" / "a.json").exists()


def test_partition_values_read_back_as_written(spark, tmp_path):
    write(spark, tmp_path, frame(spark, [1]), "a.json")
    row = spark.read.parquet(str(tmp_path / "t")).first()
    assert date(row.process_year, row.process_month, row.process_day) == date(2026, 11, 26)


def stage_files(root, run: str, partition: str, parts: int = 1) -> str:
    """Spark-like staging output without Spark: ``parts`` part files in one partition."""
    folder = root / "_staging" / run / partition
    folder.mkdir(parents=True)
    for index in range(parts):
        (folder / f"part-{index:05d}-{run}.c000.snappy.parquet").write_bytes(run.encode())
    return str(root / "_staging" / run)


DAY_26 = "process_year=2026/process_month=11/process_day=26"
DAY_27 = "process_year=2026/process_month=11/process_day=27"


def test_files_with_the_same_name_in_different_folders_are_different_sources(tmp_path):
    table = str(tmp_path / "t")
    publish_staged(stage_files(tmp_path, "r1", DAY_26), table, 3, "/raw/incoming/feedA/o.json")
    publish_staged(stage_files(tmp_path, "r2", DAY_26), table, 3, "/raw/incoming/feedB/o.json")
    assert len(partition_files(tmp_path / "t")) == 2


def test_a_source_moved_to_another_day_reports_the_partition_it_left(tmp_path):
    table = str(tmp_path / "t")
    publish_staged(stage_files(tmp_path, "r1", DAY_26), table, 3, "a.json")
    publish_staged(stage_files(tmp_path, "r2", DAY_26), table, 3, "b.json")
    publish_staged(stage_files(tmp_path, "r3", DAY_26), table, 3, "c.json")
    moved = publish_staged(stage_files(tmp_path, "r4", DAY_27), table, 3, "a.json")
    assert [(p.values, p.files, p.moved_out) for p in moved] == [
        (["2026", "11", "27"], 1, False),
        (["2026", "11", "26"], 2, True),  # b.json and c.json remain there
    ]


def test_a_cleared_partition_disappears_in_one_step(tmp_path):
    table = tmp_path / "t"
    publish_staged(stage_files(tmp_path, "r1", DAY_26), str(table), 3, "daily_sales")
    clear_partition(str(table / DAY_26))
    assert partition_files(table) == []
    assert not list((table / "process_year=2026/process_month=11").iterdir())
