"""Columns by name (``etl.stages.names``): one ``Column`` per name, reused across plans."""

from __future__ import annotations

from etl.stages.names import all_named, named


def test_a_named_column_is_made_once_and_resolves_in_every_dataframe(spark):
    first = spark.createDataFrame([(1, "a")], "`user.id` int, b string")
    second = spark.createDataFrame([("x", 2, 3)], "b string, `user.id` int, c int")
    assert named("user.id") is named("user.id")
    assert first.select(named("user.id") + 1).first()[0] == 2
    assert second.select(all_named(["user.id", "b"])).first() == (2, "x")
    assert second.where(named("user.id") == 2).count() == 1
