"""Validation rules of the landed file (the seed's validation Lambda, made correct)."""

from __future__ import annotations

import json

import pytest

from etl.core.errors import ValidationFailed
from etl.stages.validate import FileFacts, check_file, validate_file


def facts(name: str, body: bytes, size: int | None = None, tail: bytes | None = None) -> FileFacts:
    return FileFacts(
        key=f"incoming/{name}",
        size=len(body) if size is None else size,
        head=body,
        tail=body[-8:] if tail is None else tail,
    )


JSON_LINES = b'{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n'


@pytest.mark.parametrize("name", ["orders.json", "daily_2026-11-26.csv", "A-b_9.parquet"])
def test_names_matching_the_pattern_pass_the_name_rule(name):
    body = {"json": JSON_LINES, "csv": b"id,name\n1,a\n", "parquet": b"PAR1xxxxPAR1"}
    assert validate_file(facts(name, body[name.rsplit(".", 1)[1]])).isValid


@pytest.mark.parametrize("name", ["my orders.json", "orders.2026.json", "注文.json", "orders"])
def test_names_outside_the_pattern_are_rejected(name):
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


def test_a_csv_header_without_rows_is_rejected():
    with pytest.raises(ValidationFailed, match="no data rows"):
        check_file(facts("orders.csv", b"id,name\n"))


def test_parquet_without_magic_bytes_is_rejected():
    with pytest.raises(ValidationFailed, match="not a Parquet file"):
        check_file(facts("orders.parquet", b"id,name\n1,a\n"))


def test_binary_garbage_is_rejected_as_not_utf8():
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        check_file(facts("orders.csv", b"\xff\xfe\x00garbage\n\x81\x82\n"))


def test_the_verdict_has_the_lambda_response_shape():
    verdict = validate_file(facts("bad name.json", JSON_LINES)).to_dict()
    assert verdict["isValid"] is False
    assert "invalid file name" in verdict["reason"]
    assert {"filename", "fileFormat", "fileSize", "validatedAt"} <= verdict.keys()
