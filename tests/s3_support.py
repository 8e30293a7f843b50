"""A moto server standing in for S3 and the Glue Data Catalog, for the deployed publish's
tests: pyarrow (the publish's S3 client) and boto3 reach it through ``AWS_ENDPOINT_URL``,
and so does a child process started with this process's environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock


@contextmanager
def moto_server() -> Iterator[dict[str, str]]:
    """Start a moto server on a free port; yield the environment that points AWS at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    environment = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    try:
        with mock.patch.dict(os.environ, environment):
            yield environment
    finally:
        server.stop()


def object_keys(s3, bucket: str, prefix: str = "") -> list[str]:
    """Data objects under ``prefix``; pyarrow's empty ``folder/`` markers are not data."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    found = (o for page in pages for o in page.get("Contents", []))
    return sorted(o["Key"] for o in found if not (o["Key"].endswith("/") and o["Size"] == 0))


def empty_bucket(s3, bucket: str) -> None:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    for page in pages:
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
