"""The quality-check Lambda: the quality score of a landed object, in bounded memory.

The score is ``etl.core.scoring``'s, the same function the Glue job's gate uses (that module is
stdlib only, so it ships in the bundle); ``tests/workflow/test_lambdas.py`` checks the two
profiles agree on the sample files.

Text formats (JSON lines, JSON array, CSV) are streamed record by record: row and null
counts are exact. Duplicates are counted with 64-bit row fingerprints; past
``MAX_FINGERPRINTS`` distinct rows the fingerprint set keeps only a hash-selected share of
rows (a duplicate always hashes like its original, so the sample's duplicate rate estimates
the file's) and the result says ``duplicatesEstimated``. Parquet needs no scan: row and
null counts come from the footer statistics (``etl.lambdas.parquet_footer``); duplicates
are not measured there. Memory stays flat whatever the object size
(``benchmarks/bench_quality_lambda.py``).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from etl.core import scoring
from etl.core.datasets import get_dataset
from etl.core.metrics import METRIC_NAMESPACE, metric_data
from etl.lambdas.parquet_footer import read_footer_counts
from etl.lambdas.s3_objects import object_size, open_text, read_range, s3_client
from etl.lambdas.validation import event_dataset
from etl.stages.validate import HEAD_BYTES, FileFacts, sniff_format

MAX_FINGERPRINTS = 250_000
JSON_CHUNK_CHARS = 1 << 20


@dataclass
class Profile:
    """Streaming row, null and duplicate counts."""

    rows: int = 0
    non_null: dict[str, int] = field(default_factory=dict)
    fingerprints: dict[int, int] = field(default_factory=dict)
    sample_mask: int = 0
    duplicates_measured: bool = True

    def add(self, record: dict) -> None:
        self.rows += 1
        present = {k: v for k, v in record.items() if v is not None}
        for column in record:
            self.non_null.setdefault(column, 0)
        for column in present:
            self.non_null[column] += 1
        digest = hashlib.blake2b(
            json.dumps(present, sort_keys=True, default=str).encode(), digest_size=8
        ).digest()
        fingerprint = int.from_bytes(digest, "big")
        if fingerprint & self.sample_mask:
            return
        self.fingerprints[fingerprint] = self.fingerprints.get(fingerprint, 0) + 1
        if len(self.fingerprints) > MAX_FINGERPRINTS:
            self.sample_mask = (self.sample_mask << 1) | 1
            self.fingerprints = {
                f: n for f, n in self.fingerprints.items() if not f & self.sample_mask
            }

    @property
    def null_counts(self) -> dict[str, int]:
        return {column: self.rows - n for column, n in self.non_null.items()}

    @property
    def duplicate_percent(self) -> float:
        sampled = sum(self.fingerprints.values())
        if not self.duplicates_measured or not sampled:
            return 0.0
        return 100.0 * (sampled - len(self.fingerprints)) / sampled

    @property
    def null_cell_percent(self) -> float:
        return scoring.null_cell_percent(self.null_counts, self.rows)


def json_lines_records(text: Iterable[str]) -> Iterator[dict]:
    for line in text:
        if line.strip():
            yield json.loads(line)


def json_array_records(text, chunk_chars: int = JSON_CHUNK_CHARS) -> Iterator[dict]:
    """Records of a top-level JSON array, decoded incrementally from a text stream."""
    decoder = json.JSONDecoder()
    buffer, position, started = "", 0, False
    while True:
        chunk = text.read(chunk_chars)
        buffer = buffer[position:] + chunk
        position = 0
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                position += 1
            if not started and position < len(buffer):
                if buffer[position] != "[":
                    raise ValueError("a JSON array file must start with '['")
                started, position = True, position + 1
                continue
            if position < len(buffer) and buffer[position] == "]":
                return
            try:
                record, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                if not chunk:
                    raise
                break  # the record continues in the next chunk
            yield record
            position = end
        if not chunk:
            return


def csv_records(text, delimiter: str = ",", null_markers: Iterable[str] = ()) -> Iterator[dict]:
    """CSV rows; an empty field or one of the dataset's null markers (``NA``) is null, as
    Spark reads it."""
    nulls = {"", *null_markers}
    for row in csv.DictReader(text, delimiter=delimiter):
        yield {k: (None if v in nulls else v) for k, v in row.items()}


READERS = {"json": json_lines_records, "json_array": json_array_records, "csv": csv_records}


def profile_records(records: Iterable[dict]) -> Profile:
    profile = Profile()
    for record in records:
        profile.add(record)
    return profile


def report(profile: Profile, threshold: float) -> dict:
    """The Lambda's response: ``qualityScore`` plus what explains it."""
    null_pct, dup_pct = profile.null_cell_percent, profile.duplicate_percent
    score = scoring.quality_score(null_pct, dup_pct, profile.rows)
    reason = scoring.below_threshold_reason(score, threshold, null_pct, dup_pct)
    return {
        "qualityScore": score,
        "threshold": threshold,
        "passed": score >= threshold,
        "totalRecords": profile.rows,
        "duplicateRecords": round(dup_pct * profile.rows / 100),
        "nullPercentage": round(null_pct, 2),
        "duplicatePercentage": round(dup_pct, 2),
        "nullCounts": profile.null_counts,
        "duplicatesMeasured": profile.duplicates_measured,
        "duplicatesEstimated": profile.sample_mask != 0,
        "reason": reason,
    }


def handler(event: dict, context: object = None) -> dict:
    """Score ``event["inputData"]`` (bucket, key) in the format validation detected."""
    bucket, key = event["inputData"]["bucket"], event["inputData"]["key"]
    dataset = get_dataset(event_dataset(event))
    s3 = s3_client()
    data_format = (event.get("validationResult") or {}).get("dataFormat") or _sniff(s3, bucket, key)
    if data_format == "parquet":
        rows, null_counts = read_footer_counts(s3, bucket, key)
        profile = Profile(rows=rows, duplicates_measured=False)
        profile.non_null = {column: rows - nulls for column, nulls in null_counts.items()}
    else:
        with open_text(s3, bucket, key) as text:
            records = (
                csv_records(text, dataset.csv_delimiter, dataset.null_markers)
                if data_format == "csv"
                else READERS[data_format](text)
            )
            profile = profile_records(records)
    result = report(profile, dataset.quality_threshold)
    put_score_metric(dataset.name, result["qualityScore"])
    return result


def put_score_metric(dataset: str, score: float) -> None:
    """DataQualityScore for the monitoring stack; a metrics outage does not fail the check."""
    import boto3

    try:
        boto3.client("cloudwatch").put_metric_data(
            Namespace=METRIC_NAMESPACE, MetricData=metric_data(dataset, DataQualityScore=score)
        )
    except Exception as error:  # botocore's errors; the score is still the answer
        print(f"warning: could not put DataQualityScore: {error}")


def _sniff(s3, bucket: str, key: str) -> str:
    size = object_size(s3, bucket, key)
    head = read_range(s3, bucket, key, 0, min(size, HEAD_BYTES) - 1)
    return sniff_format(FileFacts(key=key, size=size, head=head))
