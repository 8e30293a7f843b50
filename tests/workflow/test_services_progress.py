"""The local S3 stand-in reports a Lambda's whole-object scan as bytes read (not its peeks)."""

from __future__ import annotations

import json
from pathlib import Path

from etl.core import progress
from etl.core.progress import Transfer
from etl.local.services import LocalServices

KEY = "incoming/orders.json"


class Transfers:
    def __init__(self) -> None:
        self.seen: list[Transfer] = []

    def state(self, text: str) -> None: ...

    def line(self, text: str) -> None: ...

    def transfer(self, update: Transfer) -> None:
        self.seen.append(update)

    def stage(self, update) -> None: ...


def services_with_a_landed_file(lake, size: int) -> LocalServices:
    Path(lake.landing_path("orders.json")).write_bytes(b"x" * size)
    return LocalServices(lake, spark_factory=lambda: None, show_progress=True)


def read_in_chunks(services: LocalServices, **range_) -> bytes:
    body = services.get_object({"Bucket": services.names.bucket("raw"), "Key": KEY, **range_})
    data = b""
    while chunk := body["Body"].read(1000):
        data += chunk
    return data


def test_a_lambdas_whole_object_read_is_reported_in_its_name_as_it_reads(lake):
    services = services_with_a_landed_file(lake, 2500)

    def scan(event: dict, context: object) -> int:
        return len(read_in_chunks(services))

    services.functions = {"data-quality-check": scan}
    transfers = Transfers()
    with progress.reporting(transfers):
        answer = services.invoke({"FunctionName": "etl-local-data-quality-check", "Payload": b""})
    assert json.loads(answer["Payload"].read()) == 2500
    assert [(t.label, t.done, t.total, t.finished) for t in transfers.seen] == [
        (f"data-quality-check reads {KEY}", 1000, 2500, False),
        (f"data-quality-check reads {KEY}", 2000, 2500, False),
        (f"data-quality-check reads {KEY}", 2500, 2500, True),
    ]


def test_a_ranged_peek_is_not_a_scan(lake):
    services = services_with_a_landed_file(lake, 2500)
    transfers = Transfers()
    with progress.reporting(transfers):
        assert read_in_chunks(services, Range="bytes=0-99") == b"x" * 100
    assert transfers.seen == []


def test_without_show_progress_nothing_is_reported(lake):
    services = services_with_a_landed_file(lake, 2500)
    services.show_progress = False
    transfers = Transfers()
    with progress.reporting(transfers):
        read_in_chunks(services)
    assert transfers.seen == []
