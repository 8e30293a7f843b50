"""The quality-check Lambda on the input real feeds send: bad rows, huge rows, wide files.

Handler tests read the object from moto's S3, as the Lambda reads it from S3; the rest call
the profilers on blocks of bytes, the form the handler passes them in, with the bounds
lowered (``Limits``) so the cases stay small and fast.
"""

from __future__ import annotations

import csv
import io
import json
import random
import tracemalloc

import orjson
import pytest

from etl.core.datasets import get_dataset
from etl.lambdas import quality_check as qc
from etl.stages.validate import HEAD_BYTES

BUCKET = "raw"  # the shared ``s3`` fixture's bucket (tests/conftest.py)


def score(s3, key: str, body: bytes, data_format: str) -> dict:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    event = {"inputData": {"bucket": BUCKET, "key": key}}
    return qc.handler({**event, "validationResult": {"dataFormat": data_format}}, None)


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def good_json_lines(n: int, start: int = 0) -> bytes:
    rows = [
        {"id": i, "email": f"user{i}@example.com", "status": "ACTIVE"}
        for i in range(start, start + n)
    ]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def test_unreadable_json_lines_past_the_head_are_defects_that_lower_the_score(s3):
    head = good_json_lines(1200)
    assert len(head) > HEAD_BYTES  # validation only looked at the first 64 KB
    bad = b'{"id": 1, "email": "secret@example.com"\n[1, 2]\n"text"\n42\nnull\n'
    body = head + bad + good_json_lines(10, start=5000)
    result = score(s3, "incoming/orders.json", body, "json")
    first_bad = head.count(b"\n") + 1
    assert result["totalRecords"] == 1200 + 5 + 10
    assert result["defectRecords"] == 5
    assert result["defects"] == {"notAnObject": 4, "notJson": 1}
    assert result["defectLines"] == list(range(first_bad, first_bad + 5))
    # A defect is a row of null cells: 5 of 1215 rows are all-null in 3 columns.
    assert result["nullPercentage"] == round(100 * 5 / 1215, 2)
    assert result["qualityScore"] == round(100 - 100 * 5 / 1215, 2)


def test_csv_rows_of_the_wrong_width_and_open_quotes_are_defects(s3):
    header = b"id,email,status\n"
    rows = b"".join(b"%d,user%d@example.com,ACTIVE\n" % (i, i) for i in range(3000))
    assert len(header + rows) > HEAD_BYTES
    tail = b'7,secret@example.com\n8,a,b,c\n9,"multi\nline",PENDING\n10,,\n11,"never closed,x\n'
    result = score(s3, "incoming/orders.csv", header + rows + tail, "csv")
    last = (header + rows).count(b"\n")
    assert result["defects"] == {"unclosedQuote": 1, "wrongFieldCount": 2}
    assert result["defectLines"] == [last + 1, last + 2, last + 6]
    assert result["totalRecords"] == 3000 + 2 + 1 + 1 + 1  # the quoted newline is one row
    assert result["nullCounts"] == {"email": 3 + 1, "status": 3 + 1, "id": 3}


def test_a_record_longer_than_the_bound_is_skipped_without_being_held():
    """A 24 MB line, read 64 KB at a time with a 1 MB bound: counted, never in memory."""
    limits = qc.Limits(max_record_bytes=1 << 20)
    block = b"x" * (64 << 10)

    def blocks():
        yield good_json_lines(100)
        yield b'{"id": 1, "note": "'
        for _ in range(384):  # 24 MB
            yield block
        yield b'"}\n' + good_json_lines(100, start=100)

    tracemalloc.start()
    try:
        profile = qc.profile_json_lines(blocks(), limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    assert profile.defects == {qc.TOO_LONG: 1}
    assert profile.defect_lines == [101]
    assert profile.rows == 201


def test_a_record_of_millions_of_tiny_values_is_refused_before_it_is_parsed():
    """8 MB of ``[],`` would be ~240 MB of lists once parsed: weighed unparsed, a defect."""
    limits = qc.Limits(max_record_memory=4 << 20)  # so that 1 MB shows it
    heavy = b'{"a": [' + b"[]," * 350_000 + b"[]]}"
    long_text = b'{"a": "' + b"x" * (1 << 20) + b'"}'  # as long, but one value: parsed
    data = good_json_lines(3) + heavy + b"\n" + long_text + b"\n" + good_json_lines(3, 10)
    parsed = []

    def loads(line: bytes) -> object:
        parsed.append(len(line))
        return orjson.loads(line)

    profile = qc.profile_json_lines(chunks(data, 1 << 16), limits, loads=loads)
    assert profile.defects == {qc.TOO_MANY_VALUES: 1} and profile.defect_lines == [4]
    assert profile.rows == 3 + 1 + 1 + 3
    assert len(heavy) not in parsed and len(long_text) in parsed
    csv_rows = b"a,b\n1,2\n" + b"," * 300_000 + b"\n3,4\n"
    assert qc.profile_csv([csv_rows], limits).defects == {qc.TOO_MANY_VALUES: 1}


@pytest.mark.parametrize("block_size", [1, 7, 64, 1 << 20])
def test_lines_are_the_same_whatever_the_block_boundaries(block_size):
    data = (
        b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}\n\n{"a": 3}\r\n'
        + b'{"b": "'
        + b"y" * 40
        + b'"}\n{"a": 4}'
    )
    limits = qc.Limits(max_record_bytes=30)
    got = [
        (first + i, line)
        for first, lines, _ in qc.split_lines(chunks(data, block_size), limits)
        for i, line in enumerate(lines)
    ]
    dropped = [d for _, _, ds in qc.split_lines(chunks(data, block_size), limits) for d in ds]
    assert [(n, line) for n, line in got if line] == [
        (1, b'{"a": 1}'),
        (2, b'{"a": 2}'),
        (4, b'{"a": 3}'),
        (6, b'{"a": 4}'),
    ]
    assert dropped == [(5, qc.TOO_LONG)]


def test_the_response_stays_small_whatever_the_number_of_keys():
    """3,000 distinct keys with per-column counts capped at 100: a few KB, and it says so."""
    lines = [{"id": i, f"attribute_{i}": "x" * 200} for i in range(3000)]
    data = b"".join(orjson.dumps(r) + b"\n" for r in lines)
    limits = qc.Limits(max_columns=100, reported_columns=5, max_shapes=50)
    result = qc.report(qc.profile_json_lines(chunks(data, 4096), limits), 70.0)
    assert len(json.dumps(result)) < 2000
    assert len(result["nullCounts"]) == 5 and result["columns"] == 3001
    assert result["nullCountsOmitted"] == 2996
    assert any("2996 other columns" in note for note in result["notes"])
    assert any("chosen among the first 100" in note for note in result["notes"])
    exact = 100 * (3000 * 3001 - 3000 * 2) / (3000 * 3001)  # each row: id and its own key
    assert result["nullPercentage"] == round(exact, 2)


def test_past_the_column_sample_budget_the_null_share_is_estimated():
    lines = [{"id": i, f"attribute_{i}": 1} for i in range(4000)]
    data = b"".join(orjson.dumps(r) + b"\n" for r in lines)
    limits = qc.Limits(max_columns=50, max_fingerprints=500, max_shapes=50)
    profile = qc.profile_json_lines([data], limits)
    result = qc.report(profile, 70.0)
    assert result["columnsEstimated"] and len(profile.columns.others.seen) <= 500
    assert result["columns"] == pytest.approx(4001, rel=0.25)
    assert result["nullPercentage"] == pytest.approx(100 * (1 - 2 / 4001), abs=0.1)


def test_long_column_names_are_cut_in_the_response():
    data = orjson.dumps({"k" * 5000: 1}) + b"\n"
    result = qc.report(qc.profile_json_lines([data]), 70.0)
    (name,) = result["nullCounts"]
    assert len(name) < 100 and name.endswith("(5000 chars)")


def test_no_raw_value_reaches_the_response_or_its_reason(s3):
    secret = "jane.doe@example.com"
    rows = [json.dumps({"id": None, "email": secret, "x": None, "y": None})] * 3
    rows += [f'{{"email": "{secret}"', f'["{secret}"]']  # unreadable, not an object
    result = score(s3, "incoming/pii.json", "\n".join(rows).encode(), "json")
    assert not result["passed"]
    assert "unreadable records" in result["reason"] and "line 4" in result["reason"]
    assert len(result["reason"]) <= 300
    text = json.dumps(result)
    assert secret not in text and "jane" not in text


def dirty_json_lines() -> bytes:
    rng = random.Random(7)
    rows = []
    for i in range(3000):
        record = {"id": i if rng.random() > 0.1 else None, "v": rng.random(), "s": "ab"}
        if rng.random() < 0.2:
            del record["s"]
        if rng.random() < 0.05:
            record["nested"] = {"a": [1, None, {"b": None}]}
        rows.append(json.dumps(record))
        if rng.random() < 0.05:
            rows.append(rows[rng.randrange(len(rows))])  # an exact duplicate
    rows[100] = '{"id": 1,'
    rows[200] = "[1, 2]"
    rows[300] = '{"a": NaN}'
    rows[400] = '{"a": 1e999}'
    rows[500] = '{"a": "\xff"}'
    rows[600] = ""
    rows[700] = "   "
    body = "\n".join(rows).encode()
    return body.replace(b"\xc3\xbf", b"\xff")  # row 500: a byte that is not UTF-8


def test_orjson_and_the_stdlib_parser_give_the_same_report():
    data = dirty_json_lines()
    fast = qc.report(qc.profile_json_lines(chunks(data, 5000), loads=orjson.loads), 70.0)
    slow = qc.report(qc.profile_json_lines(chunks(data, 5000), loads=qc.stdlib_loads), 70.0)
    assert (fast.pop("parser"), slow.pop("parser")) == ("orjson", "json")
    assert fast == slow
    assert fast["defects"] == {"notAnObject": 1, "notJson": 4}


def test_without_orjson_the_lambda_parses_with_the_stdlib(monkeypatch):
    monkeypatch.setattr(qc, "orjson", None)
    profile = qc.profile_json_lines([b'{"a": 1}\n{"a": null}\n'])
    assert profile.parser == "json" and profile.rows == 2
    assert profile.null_counts() == {"a": 1}


def test_duplicates_are_identical_records_byte_for_byte():
    data = b'{"a": 1, "b": 2}\n{"a": 1, "b": 2}\n{"b": 2, "a": 1}\n{"a":1,"b":2}\n'
    result = qc.report(qc.profile_json_lines([data]), 70.0)
    assert result["duplicateRecords"] == 1  # key order and spacing make another record


def test_past_the_fingerprint_budget_duplicates_are_estimated_not_dropped():
    """60,000 records, half of them repeats, counted with room for 4,000 fingerprints."""
    data = b"".join(b'{"id": %d}\n' % (i % 30_000) for i in range(60_000))
    data += b'{"id": "hot"}\n' * 3000  # one record repeated often must not swing the estimate
    exact = qc.profile_json_lines([data])
    limits = qc.Limits(max_fingerprints=4000, lines_per_batch=500)
    sampled = qc.profile_json_lines([data], limits)
    assert exact.duplicate_percent == pytest.approx(100 * (1 - 30_001 / 63_000))
    assert not exact.fingerprints.estimated
    assert sampled.fingerprints.estimated and len(sampled.fingerprints.seen) <= 4000
    assert sampled.duplicate_percent == pytest.approx(exact.duplicate_percent, abs=4)


def reference_csv_counts(
    text: str, delimiter: str = ",", null_markers: tuple[str, ...] = ()
) -> tuple[int, dict[str, int], int]:
    """Rows, nulls per column and defects by the csv module, the slow obvious way."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader)
    rows, nulls, defects = 0, dict.fromkeys(header, 0), 0
    for row in reader:
        if not row:
            continue
        rows += 1
        if len(row) != len(header):
            defects += 1
            for name in header:
                nulls[name] += 1
            continue
        for name, value in zip(header, row, strict=True):
            nulls[name] += value in ("", *null_markers)
    return rows, nulls, defects


def random_csv(seed: int, delimiter: str = ",", marker: str = "") -> str:
    """Mostly plain rows with empty fields; now and then quotes, quoted newlines, bad widths."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if seed == 2 else "\n")
    writer.writerow(["a", "b", "c", "d"])
    special = [f"y{delimiter}z", 'q"uote', "multi\nline", "\n", "21,5"]
    for _ in range(3000):
        width = 4 if rng.random() > 0.01 else rng.choice([3, 5])
        writer.writerow(
            [
                rng.choice(special) if r < 0.01 else "" if r < 0.08 else marker if r < 0.15 else "v"
                for r in (rng.random() for _ in range(width))
            ]
        )
    return out.getvalue()


@pytest.mark.parametrize(
    ("delimiter", "markers"), [(",", ()), (";", ()), ("\t", ("NA",)), (",", ("N", "NA"))]
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_csv_counts_match_the_csv_module_whatever_the_quoting_and_blocks(
    seed, delimiter, markers, monkeypatch
):
    """Whatever the dataset's delimiter and null markers: both paths, fast and row by row,
    are taken and count as the csv module reads the rows."""
    text = random_csv(seed, delimiter, markers[-1] if markers else "")
    rows, nulls, defects = reference_csv_counts(text, delimiter, markers)
    fast_batches = []
    fast = qc._CsvReader.fast
    monkeypatch.setattr(
        qc._CsvReader, "fast", lambda r, b: fast_batches.append(fast(r, b)) or fast_batches[-1]
    )
    limits = qc.Limits(lines_per_batch=16)
    blocks = chunks(text.encode(), random.Random(seed).choice([97, 1000, 1 << 20]))
    profile = qc.profile_csv(blocks, limits, delimiter=delimiter, null_markers=markers)
    assert (profile.rows, profile.null_counts(), profile.defect_count) == (rows, nulls, defects)
    assert True in fast_batches and False in fast_batches  # both paths were taken


def test_a_json_array_decodes_the_same_whatever_the_block_boundaries():
    records = [{"id": i, "name": f"n{i}", "tags": [1, {"a": "]"}], "x": None} for i in range(50)]
    data = json.dumps(records, indent=2).encode()
    whole = qc.report(qc.profile_json_array([data]), 70.0)
    for size in (7, 100):
        assert qc.report(qc.profile_json_array(chunks(data, size)), 70.0) == whole
    assert whole["totalRecords"] == 50 and whole["nullCounts"]["x"] == 50


def test_a_malformed_json_array_is_one_defect_and_says_where_it_stops():
    data = b'[\n{"id": 1},\n{"id": 2, "email": "secret@example.com" oops},\n{"id": 3}\n]'
    result = qc.report(qc.profile_json_array(chunks(data, 5)), 70.0)
    assert result["totalRecords"] == 2 and result["defects"] == {"notJson": 1}
    assert result["notes"] == ["the JSON array cannot be read past line 3"]
    assert "secret" not in json.dumps(result)


def test_a_file_of_nothing_but_defects_scores_zero():
    result = qc.report(
        qc.profile_json_lines([b"not json\n[1]\n"]), get_dataset("orders").quality_threshold
    )
    assert result["qualityScore"] == 0.0 and result["defectRecords"] == 2


def test_blocks_come_in_order_and_from_one_version_of_the_object(s3):
    from botocore.exceptions import ClientError

    from etl.lambdas.s3_objects import iter_blocks

    body = bytes(range(256)) * 40
    s3.put_object(Bucket=BUCKET, Key="incoming/x.json", Body=body)
    assert (
        b"".join(iter_blocks(s3, BUCKET, "incoming/x.json", block_bytes=100, in_flight=3)) == body
    )
    blocks = iter_blocks(s3, BUCKET, "incoming/x.json", block_bytes=100, in_flight=1)
    first = next(blocks)
    s3.put_object(Bucket=BUCKET, Key="incoming/x.json", Body=body[::-1])  # replaced mid-read
    with pytest.raises(ClientError, match="PreconditionFailed"):
        list(blocks)
    assert first == body[:100]


@pytest.mark.parametrize("seed", range(4))
def test_the_line_length_shortcut_never_misses_a_long_line(seed):
    """``_lines_shorter_than`` may say False for short lines, never True for a long one."""
    rng = random.Random(seed)
    for _ in range(300):
        limit = rng.choice([2, 3, 10, 64, 301, 1000])
        lengths = [rng.randrange(2 * limit) for _ in range(rng.randrange(1, 40))]
        block = b"\n".join(b"x" * n for n in lengths)
        if qc._lines_shorter_than(block, limit):
            assert max(lengths) < limit, (lengths, limit)
    assert qc._lines_shorter_than(good_json_lines(2000), 4096)  # it does say True


def reference_json_counts(data: bytes) -> tuple[int, dict[str, int]]:
    """Rows and nulls per column the slow obvious way: json.loads per line, a missing key
    and a top-level null value both null."""
    records = [json.loads(line) for line in data.splitlines() if line.strip()]
    columns = dict.fromkeys(k for r in records for k in r)
    return len(records), {c: sum(r.get(c) is None for r in records) for c in columns}


def test_json_nulls_are_counted_whatever_the_word_null_is_doing_in_the_line():
    """Only lines holding the bytes ``null`` are looked at value by value: a null value
    anywhere in a batch counts; the word in a string, a key or a nested value does not."""
    rng = random.Random(11)
    variants = [
        {"id": 1, "note": "null", "x": 1},
        {"id": 2, "nullable": True, "x": 2},
        {"id": 3, "x": None},
        {"id": None, "x": [None], "deep": {"a": None}},
        {"x": 5, "id": 4},
        {"id": 6, "x": "a null here", "note": None},
    ]
    lines = [json.dumps(rng.choice(variants), separators=rng.choice([(",", ":"), (", ", ": ")]))]
    lines += [json.dumps(rng.choice(variants)) for _ in range(4000)]
    data = "\n".join(lines).encode() + b"\n"
    rows, nulls = reference_json_counts(data)
    for per_batch in (1, 7, 1000, 16_384):
        profile = qc.profile_json_lines(chunks(data, 997), qc.Limits(lines_per_batch=per_batch))
        assert (profile.rows, profile.null_counts()) == (rows, nulls)


def test_csv_empty_fields_are_counted_per_column_at_row_ends_and_in_runs(monkeypatch):
    """Runs of empty fields (``,,,``), empty first and last fields and whole empty rows of
    commas, all through the fast path, counted as the csv module reads them."""
    rng = random.Random(3)
    values = ["", "", "v", "ww"]
    text = "a,b,c,d,e\n" + "".join(
        ",".join(rng.choice(values) for _ in range(5)) + "\n" for _ in range(5000)
    )
    rows, nulls, defects = reference_csv_counts(text)
    fast_batches = []
    fast = qc._CsvReader.fast
    monkeypatch.setattr(
        qc._CsvReader, "fast", lambda r, b: fast_batches.append(fast(r, b)) or fast_batches[-1]
    )
    profile = qc.profile_csv(chunks(text.encode(), 4096), qc.Limits(lines_per_batch=64))
    assert (profile.rows, profile.null_counts(), profile.defect_count) == (rows, nulls, defects)
    assert fast_batches.count(True) >= len(fast_batches) - 2  # the header's batch aside


def test_the_fast_path_finds_the_null_cells_of_every_line_of_a_batch():
    # Nulls in the first and the last line of the batch, and "null" inside text that is no
    # null cell: the search finds the line, parsing it decides.
    records = [
        {"id": i, "note": None if i % 3 == 0 else "nullable", "email": None if i % 5 == 0 else "e"}
        for i in range(51)
    ]
    lines = [json.dumps(r).encode() for r in records]
    shapes, nulls = qc._json_fast(lines, orjson.loads)
    expected = [tuple(k for k, v in r.items() if v is None) for r in records]
    assert sorted(nulls) == sorted(keys for keys in expected if keys)
    assert shapes == {("id", "note", "email"): 51}
