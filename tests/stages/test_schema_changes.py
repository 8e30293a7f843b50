"""A catalogued table's column types from run to run (``etl.stages.schema_changes``)."""

from __future__ import annotations

import pytest

from etl.stages.schema_changes import TypeChanged, conformed, type_changes

CATALOGUED = [
    {"Name": "id", "Type": "bigint"},
    {"Name": "price", "Type": "float"},
    {"Name": "Note", "Type": "string"},
    {"Name": "gone", "Type": "date"},
]


@pytest.mark.parametrize(
    ("ddl", "changes"),
    [
        ("id bigint, price double, note string", []),  # a widening; names ignore case
        ("id int, price float", []),  # narrower: written with the table's type
        (
            "id string, price decimal(6,2), new int",
            ["id bigint -> string", "price float -> decimal(6,2)"],
        ),
    ],
)
def test_only_a_type_no_reader_converts_is_a_change(spark, ddl, changes):
    schema = spark.createDataFrame([], ddl).schema
    assert type_changes(CATALOGUED, schema) == changes


def test_a_narrower_column_is_written_with_the_tables_type_and_another_type_refused(spark):
    df = spark.createDataFrame([(1, 2.5)], "id int, price float")
    assert conformed(df, "t", CATALOGUED).schema.simpleString() == "struct<id:bigint,price:float>"
    assert conformed(df, "t", None) is df  # a table not catalogued yet takes any type
    with pytest.raises(TypeChanged, match=r"^t: id bigint -> string would leave its older"):
        conformed(df.selectExpr("'x' AS id"), "t", CATALOGUED)
