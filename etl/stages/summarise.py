"""Analytics: summaries of the curated data for the analytics zone (what Athena would query)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

DAILY_SALES = "daily_sales"
PROCESS_PARTITIONS = ("process_year", "process_month", "process_day")


def daily_sales(curated: DataFrame) -> DataFrame:
    """Orders and sales per order day, region and amount category, per processing date.

    Unknown regions are summarised as ``UNKNOWN`` rather than dropped, so totals reconcile
    with the curated table.
    """
    return (
        curated.withColumn("sales_date", F.to_date("created_date"))
        .withColumn("region_name", F.coalesce(F.col("region_name"), F.lit("UNKNOWN")))
        .groupBy(*PROCESS_PARTITIONS, "sales_date", "region_name", "amount_category")
        .agg(
            F.count(F.lit(1)).alias("orders"),
            F.sum("quantity").alias("units"),
            F.sum("total_amount").alias("total_sales"),
            F.avg("total_amount").alias("average_order_value"),
        )
        .select(
            "sales_date",
            "region_name",
            "amount_category",
            "orders",
            "units",
            "total_sales",
            "average_order_value",
            *PROCESS_PARTITIONS,
        )
    )
