"""Every bad input gets one line (at most 300 characters) and its documented exit code: no
traceback, and never a raw value - in the message, the notification or the history."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.cli.main import main

RUN_DATE = date(2026, 11, 26)
SECRET = "secret.person@example.com"


def good_record(i: int) -> dict:
    return {"id": i, "status": "ACTIVE", "created_date": "2026-11-01 10:00:00", "email": SECRET}


def run(file: Path, lake_root: Path) -> int:
    return main(["run", str(file), "--lake", str(lake_root), "--run-date", RUN_DATE.isoformat()])


def the_error_line(capsys, status: str) -> str:
    """The one line the CLI printed for the failure, checked for length and traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith(f"{status}:")]
    assert len(lines) == 1, err
    assert len(lines[0]) <= 300, lines[0]
    return lines[0]


def lake_text(lake_root: Path) -> str:
    """Everything the run left in notifications and execution history."""
    system = lake_root / "_system"
    return "".join(p.read_text(encoding="utf-8") for p in system.rglob("*.json*"))


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_deeply_nested_json_is_a_validation_failure_not_a_recursion_error(tmp_path, capsys):
    deep = '{"id": 2, "x": ' + "[" * 5_000 + "]" * 5_000 + "}"  # in the validated head
    file = write_lines(tmp_path / "deep.json", [json.dumps(good_record(1)), deep])
    assert run(file, tmp_path / "lake") == 3
    line = the_error_line(capsys, "VALIDATION_FAILED")
    assert "line 2" in line and "nested too deeply" in line


def test_a_bad_record_past_the_validated_head_is_located_by_line_without_its_value(
    tmp_path, capsys
):
    lines = [json.dumps(good_record(i)) for i in range(300)]
    lines.insert(250, '{"id": 7, "email": "' + SECRET + '", "status": ')
    file = write_lines(tmp_path / "late_break.json", lines)
    assert run(file, tmp_path / "lake") == 3
    line = the_error_line(capsys, "VALIDATION_FAILED")
    assert "line 251, column" in line
    assert SECRET not in line and SECRET not in lake_text(tmp_path / "lake")


def test_a_line_that_is_not_an_object_is_named_by_position_not_quoted(tmp_path, capsys):
    file = write_lines(tmp_path / "listed.json", [json.dumps(good_record(1)), json.dumps([SECRET])])
    assert run(file, tmp_path / "lake") == 3
    line = the_error_line(capsys, "VALIDATION_FAILED")
    assert "line 2 is not a JSON object" in line
    assert SECRET not in line and SECRET not in lake_text(tmp_path / "lake")


def test_parquet_without_a_required_column_is_a_validation_failure_in_one_line(tmp_path, capsys):
    file = tmp_path / "no_status.parquet"
    pq.write_table(pa.table({"id": [1, 2], "created_date": ["2026-11-01 10:00:00"] * 2}), file)
    assert run(file, tmp_path / "lake") == 3
    line = the_error_line(capsys, "VALIDATION_FAILED")
    assert "no 'status' column" in line and "{" not in line


@pytest.mark.slow
def test_a_50_mb_record_is_refused_with_its_line_and_size(tmp_path, capsys):
    huge = json.dumps({**good_record(2), "note": "x" * 50_000_000})
    file = write_lines(tmp_path / "huge.json", [json.dumps(good_record(1)), huge])
    assert run(file, tmp_path / "lake") == 3
    line = the_error_line(capsys, "VALIDATION_FAILED")
    assert "line 2 is a 47.7 MB record" in line


def test_a_very_long_reason_is_cut_to_300_characters(tmp_path, capsys):
    # An unknown 200-character extension: the reason quotes it and lists the accepted ones.
    file = write_lines(tmp_path / ("x." + "y" * 200), [json.dumps(good_record(1))])
    assert run(file, tmp_path / "lake") == 3
    assert the_error_line(capsys, "VALIDATION_FAILED").endswith("…")


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment"])
def test_a_query_without_a_statement_is_a_one_line_error(tmp_path, capsys, sql):
    assert main(["query", "--lake", str(tmp_path), sql]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
