"""The pipeline's CloudWatch metrics (namespace ``ETL/Pipeline``, dimension ``Dataset``).

Standard library only, so the quality-check Lambda (DataQualityScore) and the Glue job
(JobFailures, RecordsProcessed) build the same records; infra/monitoring.yaml alarms on them.
"""

from __future__ import annotations

METRIC_NAMESPACE = "ETL/Pipeline"
UNITS = {"RecordsProcessed": "Count", "DataQualityScore": "Percent", "JobFailures": "Count"}


def metric_data(dataset: str, **values: float) -> list[dict]:
    """``put_metric_data`` ``MetricData`` for RecordsProcessed, DataQualityScore, JobFailures."""
    return [
        {
            "MetricName": name,
            "Value": float(value),
            "Unit": UNITS.get(name, "None"),
            "Dimensions": [{"Name": "Dataset", "Value": dataset}],
        }
        for name, value in values.items()
    ]
