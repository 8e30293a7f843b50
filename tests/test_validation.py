"""Validation rules of the landed file (the seed's validation Lambda, made correct)."""

from __future__ import annotations

import json
import random

import pytest

from etl.core.errors import ValidationFailed
from etl.stages.validate import (
    FileFacts,
    check_file,
    json_lines_problem,
    longest_line_bound,
    oversized_line,
    sniff_delimiter,
    validate_file,
)


def facts(name: str, body: bytes, size: int | None = None, tail: bytes | None = None) -> FileFacts:
    return FileFacts(
        key=f"incoming/{name}",
        size=len(body) if size is None else size,
        head=body,
        tail=body[-8:] if tail is None else tail,
    )


JSON_LINES = b'{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n'


@pytest.mark.parametrize(
    "name",
    ["orders.json", "daily_2026-11-26.csv", "A-b_9.parquet", "my orders.json", "注文.2026.json"],
)
def test_names_with_spaces_dots_and_unicode_pass_the_name_rule(name):
    body = {"json": JSON_LINES, "csv": b"id,name\n1,a\n", "parquet": b"PAR1xxxxPAR1"}
    assert validate_file(facts(name, body[name.rsplit(".", 1)[1]])).isValid


@pytest.mark.parametrize("name", ["../orders.json", "tab\there.json", "bell\x07.json"])
def test_traversal_and_control_characters_are_rejected(name):
    with pytest.raises(ValidationFailed, match="invalid file name"):
        check_file(facts(name, JSON_LINES))


def test_unsupported_extension_is_rejected_with_the_supported_list():
    with pytest.raises(ValidationFailed, match=r"unsupported file format '\.xlsx'.*\.json, \.csv"):
        check_file(facts("orders.xlsx", b"x"))


def test_files_over_5_gb_are_rejected():
    with pytest.raises(ValidationFailed, match="too large"):
        check_file(facts("orders.json", JSON_LINES, size=5 * 1024**3 + 1))


def test_a_file_of_exactly_5_gb_is_allowed():
    assert check_file(facts("orders.json", JSON_LINES, size=5 * 1024**3)) == "json"


@pytest.mark.parametrize("body", [b"", b"  \n\n"])
def test_empty_files_are_rejected(body):
    with pytest.raises(ValidationFailed, match="empty"):
        check_file(facts("orders.json", body))


def test_json_lines_and_json_arrays_are_told_apart():
    array = json.dumps([{"id": 1}, {"id": 2}], indent=2).encode()
    assert check_file(facts("orders.json", JSON_LINES)) == "json"
    assert check_file(facts("orders.json", array)) == "json_array"


def test_unparseable_json_is_rejected_with_the_line_number():
    body = b'{"id": 1}\n{"id": 2, "name": \n'
    with pytest.raises(ValidationFailed, match=r"not parseable JSON.*line 2"):
        check_file(facts("orders.json", body))


def test_a_cut_last_line_of_a_partial_read_is_not_an_error():
    body = JSON_LINES + b'{"id": 3, "na'
    assert check_file(facts("orders.json", body, size=10_000_000)) == "json"


def test_csv_rows_with_the_wrong_field_count_are_rejected():
    with pytest.raises(ValidationFailed, match="row 3 has 3 fields, header has 2"):
        check_file(facts("orders.csv", b"id,name\n1,a\n2,b,c\n"))


SEMICOLONS = b"id;temp\n1;21,5\n2;19,0\n"  # a spreadsheet's CSV where "," is the decimal mark


def test_a_csv_is_split_at_its_datasets_delimiter():
    assert check_file(facts("readings.csv", SEMICOLONS), csv_delimiter=";") == "csv"
    with pytest.raises(ValidationFailed, match="row 2 has 2 fields, header has 1"):
        check_file(facts("readings.csv", SEMICOLONS), csv_delimiter=",")  # a comma dataset


def test_a_row_off_at_another_delimiter_says_which_delimiter():
    body = SEMICOLONS + b"3;1;2\n"
    with pytest.raises(
        ValidationFailed, match=r"row 4 has 3 fields, header has 2 \(fields split at ';'\)"
    ):
        check_file(facts("readings.csv", body), csv_delimiter=";")


@pytest.mark.parametrize(
    ("body", "delimiter"),
    [
        (SEMICOLONS, ";"),
        (b"id\ttemp\n1\t21,5\n2\t19,0\n", "\t"),
        (b"id|name\n1|a;b\n2|c\n", "|"),
        (b"id,name\n1,a;b\n2,c;d;e\n", ","),
    ],
)
def test_without_a_dataset_the_delimiter_is_the_one_every_row_agrees_with(body, delimiter):
    assert sniff_delimiter(body.decode()) == delimiter
    assert check_file(facts("new.csv", body)) == "csv"


def test_a_title_line_above_the_header_is_named_as_the_likely_cause():
    body = b"Sales report November 2026\nid,amount\n1,2.5\n2,3.5\n"
    with pytest.raises(
        ValidationFailed, match=r"row 2 has 2 fields, header has 1 \(a title line above"
    ):
        check_file(facts("sales.csv", body))


def test_a_csv_header_without_rows_is_rejected():
    with pytest.raises(ValidationFailed, match="no data rows"):
        check_file(facts("orders.csv", b"id,name\n"))


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (b",id,name", r"column 1 has no name \(pandas writes its index so; to_csv\(index=False\)"),
        (b"id,,name", r"column 2 has no name; give every column a name"),
        (b"id,name,", r"column 3 has no name \(does every line end with the delimiter\?\)"),
        (b"id,name,name", r"columns 2 and 3: 'name' is repeated; Spark, the Glue catalog"),
        (b"id,Name,name", r"columns 2 and 3: 'Name' and 'name' differ in case; Spark"),
    ],
)
def test_a_header_spark_would_rename_is_refused_with_the_columns(header, says):
    """Spark renames such columns (``_c0``, ``Name1``/``name2``): a spec naming the header's
    column would then see nulls, and a PII treatment miss the column it names."""
    with pytest.raises(ValidationFailed, match=rf"^orders.csv's header: {says}"):
        check_file(facts("orders.csv", header + b"\n1,a,b\n"))


def test_json_keys_differing_only_in_case_are_refused_with_the_line():
    body = JSON_LINES + b'{"id": 3, "Name": "c", "name": "C"}\n'
    with pytest.raises(
        ValidationFailed, match=r"^orders.json line 3: keys 2 and 3: 'Name' and 'name' differ"
    ):
        check_file(facts("orders.json", body))


def test_an_empty_json_key_is_refused_with_the_line():
    body = JSON_LINES + b'{"id": 3, "": "c"}\n'
    with pytest.raises(ValidationFailed, match=r"^orders.json line 3: key 2 is empty"):
        check_file(facts("orders.json", body))


def test_an_api_response_saved_as_one_object_says_where_its_records_are():
    records = [{"id": i, "name": f"n{i}"} for i in range(3)]
    body = json.dumps({"data": records, "meta": {"page": 1}}, indent=2).encode()
    with pytest.raises(ValidationFailed) as refused:
        check_file(facts("api.json", body))
    assert str(refused.value) == (
        "api.json is one JSON object written over several lines, not JSON lines (an object "
        "per line) or an array of objects; its 3 records look to be in 'data': write them "
        "one per line, e.g. jq -c '.data[]' api.json > api.jsonl"
    )
    head_only = facts("api.json", body, size=100 * len(body))  # a big file: its head only
    with pytest.raises(ValidationFailed, match=r"one per line \(e.g. with jq -c\)$"):
        check_file(head_only)


def test_parquet_without_magic_bytes_is_rejected():
    with pytest.raises(ValidationFailed, match="not a Parquet file"):
        check_file(facts("orders.parquet", b"id,name\n1,a\n"))


def test_binary_garbage_is_rejected_as_not_utf8():
    with pytest.raises(ValidationFailed, match="not UTF-8") as refused:
        check_file(facts("orders.csv", b"\xff\xfe\x00garbage\n\x81\x82\n"))
    assert "Windows-1252" not in str(refused.value)


def test_latin1_text_is_named_as_such_without_quoting_it():
    body = "id;name\n1;José\n".encode("latin-1")
    with pytest.raises(ValidationFailed) as refused:
        check_file(facts("export.csv", body))
    assert str(refused.value) == (
        "export.csv is not UTF-8 text (byte 13; it looks like Windows-1252 or Latin-1, what "
        "Excel's plain 'CSV' saves): re-export it as UTF-8 (Excel: 'CSV UTF-8')"
    )


def test_utf16_text_is_named_as_such():
    body = "id\tname\n1\tÅsa\n".encode("utf-16")
    with pytest.raises(
        ValidationFailed, match=r"^sheet.txt is UTF-16 text .*re-export it as UTF-8"
    ):
        check_file(facts("sheet.txt", body))


def test_the_verdict_has_the_lambda_response_shape():
    verdict = validate_file(facts("bad\x00name.json", JSON_LINES)).to_dict()
    assert verdict["isValid"] is False
    assert "invalid file name" in verdict["reason"]
    assert {"filename", "fileFormat", "fileSize", "validatedAt"} <= verdict.keys()


SECRET = "secret.person@example.com"


@pytest.mark.parametrize(
    "body",
    [
        JSON_LINES + b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}\n",  # JSON lines
        b'[{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}]",  # one JSON array
    ],
)
def test_json_nested_thousands_deep_is_a_validation_failure_not_a_crash(body):
    with pytest.raises(ValidationFailed, match="nested too deeply"):
        check_file(facts("orders.json", body))


def test_a_line_that_is_not_an_object_is_named_by_line_and_never_quoted():
    body = JSON_LINES + json.dumps([SECRET]).encode() + b"\n"
    verdict = validate_file(facts("orders.json", body))
    assert "line 3 is not a JSON object (it is an array)" in verdict.reason
    assert SECRET not in verdict.reason


def test_an_unparseable_line_is_named_by_line_and_column_and_never_quoted():
    body = JSON_LINES + b'{"email": "' + SECRET.encode() + b'" "id": 3}\n'
    verdict = validate_file(facts("orders.json", body))
    assert "line 3, column" in verdict.reason and SECRET not in verdict.reason


def test_a_reason_is_one_line_of_at_most_300_characters():
    verdict = validate_file(facts("x" * 400 + " y.json", JSON_LINES))
    assert len(verdict.reason) <= 300 and "\n" not in verdict.reason


def test_the_record_scan_finds_the_first_bad_line_across_chunks():
    chunks = [b'{"id": 1}\n{"id":', b' 2}\n{"id": 3, "e": "', SECRET.encode(), b'"\n']
    problem = json_lines_problem(chunks)
    assert problem.startswith("line 3, column") and SECRET not in problem


def test_the_record_scan_refuses_a_record_over_the_limit_by_size_not_content():
    chunks = [b'{"id": 1}\n', b'{"note": "' + b"x" * 3 * 1024**2, b'"}\n']
    problem = json_lines_problem(chunks, max_record_bytes=1024**2)
    assert problem == "line 2 is a 3.0 MB record; records over 1 MB are not supported (split it)"


def test_the_record_scan_passes_a_clean_stream():
    assert json_lines_problem([b'{"id": 1}\r\n\n{"id": 2}']) is None


@pytest.mark.parametrize(
    ("chunks", "limit", "found"),
    [
        ([b"a" * 10 + b"\n" + b"b" * 5, b"b" * 20, b"\nc\n"], 24, "line 2 is"),  # spans chunks
        ([b"a" * 10 + b"\n" + b"b" * 5, b"b" * 20, b"\nc\n"], 25, None),  # exactly the limit
        ([b"a\n", b"x" * 30], 24, "line 2 is"),  # the last line, without a line end
        ([b"a\nb\n", b"c\n" + b"x" * 30 + b"\n"], 24, "line 4 is"),
    ],
)
def test_the_crawler_finds_the_first_line_over_the_record_limit(chunks, limit, found):
    problem = oversized_line(iter(chunks), limit)
    assert (problem or "").startswith(found or "") and (problem is None) == (found is None)


def random_lines(rng: random.Random, window: int) -> bytes:
    """Lines of mostly short, sometimes several-window lengths; maybe no final line end."""
    lengths = [
        rng.choice([0, 1, rng.randrange(window), rng.randrange(4 * window)])
        for _ in range(rng.randrange(1, 30))
    ]
    body = b"\n".join(b"x" * n for n in lengths)
    return body + (b"\n" if rng.random() < 0.5 else b"")


def test_the_line_length_bound_is_never_below_the_longest_line():
    for seed in range(500):
        rng = random.Random(seed)
        window = rng.randrange(1, 12)
        data = random_lines(rng, window)
        longest = max(len(line) for line in data.split(b"\n"))
        read_at = lambda at, n, data=data: data[at : at + n]  # noqa: E731
        bound = longest_line_bound(read_at, len(data), window)
        assert bound >= longest, (seed, data)
        if longest < window:  # every line short: the bound rules out lines of 2 windows
            assert bound < 2 * window, (seed, data)


def test_the_line_length_bound_reads_only_from_each_window_to_its_line_end():
    data = b"".join(b"%06d\n" % i for i in range(100_000))  # 700,000 bytes
    read: list[int] = []

    def read_at(at: int, n: int) -> bytes:
        piece = data[at : at + min(n, 100)]
        read.append(len(piece))
        return piece

    assert longest_line_bound(read_at, len(data), window=10_000) <= 2 * 10_000
    assert sum(read) <= 70 * 100
