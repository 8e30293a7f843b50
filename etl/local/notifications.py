"""The SNS topic's local stand-in: notifications appended to the lake (and the console).

Notifications are published by the state machine's ``sns:publish`` states; locally the
workflow services hand them to ``LocalNotifications``, which appends them to
``<lake>/_system/notifications/notifications.jsonl``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from etl.storage.lake import Lake
from etl.storage.metrics import append_json_line, now_iso

SUBJECTS = {
    "SUCCESS": "ETL Pipeline Completed Successfully",
    "VALIDATION_FAILED": "ETL Pipeline - Data Validation Failed",
    "QUALITY_CHECK_FAILED": "ETL Pipeline - Data Quality Check Failed",
    "FAILED": "ETL Pipeline Failed",
}


class LocalNotifications:
    """Notifications appended to a file in the lake, echoed to stderr when ``echo``."""

    def __init__(self, lake: Lake, echo: bool = True) -> None:
        self.path = Path(lake.system_path("notifications", "notifications.jsonl"))
        self.echo = echo

    def publish(self, message: dict, subject: str | None = None) -> dict:
        record = {
            "Timestamp": now_iso(),
            "Subject": subject or SUBJECTS[message["status"]],
            "Message": message,
        }
        append_json_line(self.path, record)
        if self.echo:
            print(
                f"[notify] {record['Subject']}: {json.dumps(message, default=str)}", file=sys.stderr
            )
        return record
