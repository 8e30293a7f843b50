"""Read an S3 object in bounded pieces: head, tail, byte ranges, or a stream of blocks.

Shared by the validation and quality-check Lambdas. Nothing here reads a whole object
into memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor


def s3_client(version_id: str = ""):
    """A fresh S3 client (cheap next to an S3 read; picks up the current endpoint); with
    ``version_id``, every HEAD and GET asks for that version of the object, so a Lambda
    checks the version its execution is for even when a newer one has landed since."""
    import boto3

    client = boto3.client("s3")
    return _OneVersion(client, version_id) if version_id else client


class _OneVersion:
    """An S3 client whose object reads name one ``VersionId``."""

    def __init__(self, client, version_id: str) -> None:
        self._client, self._version_id = client, version_id

    def head_object(self, **params):
        return self._client.head_object(**params, VersionId=self._version_id)

    def get_object(self, **params):
        return self._client.get_object(**params, VersionId=self._version_id)

    def __getattr__(self, name: str):
        return getattr(self._client, name)


def object_size(s3, bucket: str, key: str) -> int:
    return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])


def read_range(s3, bucket: str, key: str, start: int, end: int) -> bytes:
    """Bytes ``start..end`` inclusive (an HTTP Range GET); empty when ``end < start``."""
    if end < start:
        return b""
    response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
    return response["Body"].read()


def iter_blocks(
    s3, bucket: str, key: str, block_bytes: int = 8 << 20, in_flight: int = 2
) -> Iterator[bytes]:
    """The object's bytes in order, ``block_bytes`` at a time, by ranged GETs.

    Up to ``in_flight`` GETs run ahead of the consumer in threads (a GET waits on the
    network, not on the CPU, and botocore clients are thread-safe), so parsing one block
    overlaps fetching the next; at most ``in_flight + 1`` blocks are held. Every range is
    fetched with ``IfMatch`` on the ETag the HEAD saw: an object replaced mid-read fails the
    read (``PreconditionFailed``) instead of mixing two versions.
    """
    head = s3.head_object(Bucket=bucket, Key=key)
    size, etag = int(head["ContentLength"]), head.get("ETag")

    def fetch(start: int) -> bytes:
        params = {"Bucket": bucket, "Key": key}
        params["Range"] = f"bytes={start}-{min(start + block_bytes, size) - 1}"
        if etag:
            params["IfMatch"] = etag
        return s3.get_object(**params)["Body"].read()

    pool = ThreadPoolExecutor(max_workers=max(1, in_flight), thread_name_prefix="s3-block")
    pending: deque = deque()
    try:
        for start in range(0, size, block_bytes):
            pending.append(pool.submit(fetch, start))
            if len(pending) > in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
