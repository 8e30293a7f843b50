"""The validation Lambda: name, extension, size and first bytes of the landed object.

Reuses ``etl.stages.validate`` (standard library only), fed by two S3 range GETs (head and
tail), so a 5 GB object costs the same as a 5 KB one. A gzip object is the exception: it is
streamed and decompressed to the end (bounded memory), since neither its decompressed size
nor its integrity can be known from its ends.
"""

from __future__ import annotations

from etl.core.conventions import dataset_for_key
from etl.core.datasets import SpecError, get_dataset
from etl.lambdas.s3_objects import iter_blocks, object_size, read_range, s3_client
from etl.stages.validate import HEAD_BYTES, TAIL_BYTES, FileFacts, validate_file


def handler(event: dict, context: object = None) -> dict:
    """Return ``ValidationResult.to_dict()`` for ``event["inputData"]`` (bucket and key)."""
    bucket, key = event["inputData"]["bucket"], event["inputData"]["key"]
    s3 = s3_client(event["inputData"].get("versionId", ""))
    size = object_size(s3, bucket, key)
    facts = FileFacts(
        key=key,
        size=size,
        head=read_range(s3, bucket, key, 0, min(size, HEAD_BYTES) - 1),
        tail=read_range(s3, bucket, key, max(0, size - TAIL_BYTES), size - 1),
    )
    try:
        spec, problem = get_dataset(event_dataset(event)), ""
    except SpecError as error:
        spec, problem = None, str(error)
    # A gzip object is streamed whole (bounded memory) to check its decompressed size.
    blocks = lambda: iter_blocks(s3, bucket, key)  # noqa: E731
    result = validate_file(facts, blocks, spec.csv_delimiter if spec else None)
    if problem:
        result.isValid, result.reason = False, problem
    return result.to_dict()


def event_dataset(event: dict) -> str:
    """The execution's dataset: the trigger's ``dataset.name``, else the key's folder."""
    named = (event.get("dataset") or {}).get("name")
    return named or dataset_for_key(event["inputData"]["key"]) or ""
