"""Read an S3 object in bounded pieces: head, tail, byte ranges, or a stream of lines.

Shared by the validation and quality-check Lambdas. Nothing here reads a whole object
into memory.
"""

from __future__ import annotations

import io


def s3_client():
    """A fresh S3 client (cheap next to an S3 read; picks up the current endpoint)."""
    import boto3

    return boto3.client("s3")


def object_size(s3, bucket: str, key: str) -> int:
    return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])


def read_range(s3, bucket: str, key: str, start: int, end: int) -> bytes:
    """Bytes ``start..end`` inclusive (an HTTP Range GET); empty when ``end < start``."""
    if end < start:
        return b""
    response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
    return response["Body"].read()


class _BodyReader(io.RawIOBase):
    """A botocore ``StreamingBody`` as a raw binary stream, for ``io`` wrappers."""

    def __init__(self, body) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def open_text(s3, bucket: str, key: str, chunk_bytes: int = 1 << 20) -> io.TextIOWrapper:
    """The object as a UTF-8 text stream, read ``chunk_bytes`` at a time."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    buffered = io.BufferedReader(_BodyReader(body), buffer_size=chunk_bytes)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
