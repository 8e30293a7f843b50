"""Every stage notebook executes with papermill on the project kernel, on a small sample.

Each run starts its own kernel; most attach to one warm Spark server (``warm_spark_server``),
as ``etl notebook run`` does when one is free, and the CLI's run starts a JVM of its own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from etl.cli.main import main
from etl.core.paths import REPO_ROOT
from etl.notebooks.runner import declared_parameters, list_notebooks, resolve, run_notebook

RUN_DATE = "2026-01-31"
ROWS = 120


def _small(tmp_path: Path) -> dict[str, object]:
    return {
        "run_date": RUN_DATE,
        "sample_rows": ROWS,
        "sample_dir": str(tmp_path / "sample"),
        "lake_root": str(tmp_path / "lake"),
    }


def _text_outputs(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(str(p) for p in parts)


def _has_image(path: Path) -> bool:
    notebook = nbformat.read(path, as_version=4)
    return any(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", [p.stem for p in list_notebooks() if not p.stem.startswith("04_")])
def test_notebook_executes_on_a_small_sample(name, tmp_path, warm_spark_server):
    declared = declared_parameters(nbformat.read(resolve(name), as_version=4))
    parameters = {k: v for k, v in _small(tmp_path).items() if k in declared}
    executed = run_notebook(name, parameters, output_dir=tmp_path / "out")
    text = _text_outputs(executed)
    assert f"dataset orders, run date {RUN_DATE}" in text
    assert "Glue settings recorded, not applied: glue_version=5.1" in text
    if name.startswith("06_"):
        assert _has_image(executed), "the analytics notebook draws its chart"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["01_explore_raw", "02_schema_discovery", "04_transform", "06_analytics"]
)
def test_notebook_executes_on_another_dataset(name, tmp_path, readings, warm_spark_server):
    """``-p dataset NAME`` on a dataset unlike orders (CSV, NA nulls, composite key, composed
    timestamp, hashed PII, no sample generator): found through ``ETL_DATASETS_DIR``, which
    the notebook's kernel inherits."""
    parameters = {
        "dataset": "readings",
        "source_path": str(readings.feed),
        "run_date": RUN_DATE,
        "lake_root": str(tmp_path / "lake"),
    }
    declared = declared_parameters(nbformat.read(resolve(name), as_version=4))
    parameters = {k: v for k, v in parameters.items() if k in declared}
    executed = run_notebook(name, parameters, output_dir=tmp_path / "out")
    text = _text_outputs(executed)
    assert f"dataset readings, run date {RUN_DATE}" in text
    if name.startswith("01_"):  # explores the feed before it lands
        key = "['station', 'sensor.id', 'year', 'month', 'day', 'hour']"
        assert f"records without a complete key {key}: 1" in text
        return
    landed = re.search(r"^landed (\S+) version \w+ \((\w+)\), table (\S+)$", text, re.M)
    assert landed and landed.groups() == (
        "incoming/readings/readings_20260131.csv",
        "csv",
        "etl_pipeline.raw_readings",
    )
    if name.startswith("02_"):
        assert "station                int       -> string  <- pinned" in text
    if name.startswith("04_"):
        assert f"transform_dataset: {readings.expected_curated} curated rows" in text
        assert "operator: hash -> operator_hash" in text
        assert "sensor.id -> sensor_id" in text
        assert f"{readings.expected_curated} records from" in text
        assert "processed/readings/process_year=2026/process_month=1/process_day=31" in text
    if name.startswith("06_"):
        assert "etl_pipeline.station_status by ['station_name', 'status']" in text
        assert _has_image(executed), "the analytics notebook charts the dataset's summary"


@pytest.mark.slow
def test_transform_notebook_run_from_the_cli_reflects_the_run_date(tmp_path, capfd, monkeypatch):
    """Paths typed relative to where the command runs mean that there, not in notebooks/
    where the kernel runs: the parameters' and $ETL_DATASETS_DIR's. Its kernel starts a JVM
    of its own, as without a Spark server."""
    monkeypatch.setenv("ETL_SPARK_SERVER", "off")
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "mine" / "orders"  # the first orders on the search path wins
    shutil.copytree(REPO_ROOT / "datasets" / "orders", mine)
    spec = mine / "dataset.yaml"
    spec.write_text(spec.read_text().replace("retention: {days: 365}", "retention: {days: 30}"))
    monkeypatch.setenv("ETL_DATASETS_DIR", "mine")
    argv = ["notebook", "run", "04_transform", "-p", "run_date", RUN_DATE]
    for key, value in _small(tmp_path).items():
        if key != "run_date":
            typed = str(value)  # the paths relative to tmp_path, the working directory
            argv += ["-p", key, typed.removeprefix(f"{tmp_path}/")]
    assert main([*argv, "--out", "out"]) == 0
    out, err = capfd.readouterr()  # the kernel's own output too, not only this process's
    # The kernel talks over local sockets: ipykernel has no unencrypted TCP to warn about.
    assert "without encryption" not in err
    executed = Path(out.strip().splitlines()[-1])
    assert executed.parent == tmp_path / "out"  # printed absolute
    assert f"run_date-{RUN_DATE}" in executed.name
    text = _text_outputs(executed)
    assert "process_year=2026/process_month=1/process_day=31" in text
    assert f"within 30 days up to {RUN_DATE}" in text
    assert (tmp_path / "lake" / "curated").is_dir() and (tmp_path / "sample").is_dir()
