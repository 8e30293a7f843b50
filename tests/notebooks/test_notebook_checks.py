"""The committed notebooks' static rules, and the runner's pure helpers (no kernel started)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from etl.notebooks import runner
from etl.notebooks.runner import (
    NotebookFailed,
    check_notebooks,
    declared_parameters,
    install_kernel,
    list_notebooks,
    output_name,
    output_problems,
    parameter_value,
    resolve,
    run_notebook,
    structure_problems,
)
from etl.notebooks.session import (
    BATCH_VARIABLE,
    GLUE_MAGICS_TAG,
    glue_session_settings,
    parse_magic_line,
)

STAGES = ("01", "02", "03", "04", "05", "06", "07")


def _copy(tmp_path: Path, name: str = "04_transform") -> tuple[Path, nbformat.NotebookNode]:
    target = tmp_path / f"{name}.ipynb"
    shutil.copyfile(resolve(name), target)
    return target, nbformat.read(target, as_version=4)


def test_there_is_one_notebook_per_stage_in_pipeline_order():
    assert [p.stem.split("_")[0] for p in list_notebooks()] == list(STAGES)


def test_committed_notebooks_have_no_outputs_and_the_two_kernel_layout():
    assert check_notebooks() == []


def test_a_notebook_with_outputs_is_reported(tmp_path):
    _, notebook = _copy(tmp_path)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output("stream", text="hello\n")]
    cell.execution_count = 3
    assert output_problems(notebook) == ["cell 1 has outputs or an execution count"]


def test_every_notebook_declares_dataset_run_date_and_source_parameters():
    for path in list_notebooks():
        declared = declared_parameters(nbformat.read(path, as_version=4))
        assert {"dataset", "run_date", "source_path", "sample_rows"} <= set(declared), path.name
        assert declared["dataset"] == '"orders"', path.name


def deployed_glue_version() -> str:
    """The ``GlueVersion`` of the transform job in infra/glue.yaml."""
    text = (Path(__file__).resolve().parents[2] / "infra" / "glue.yaml").read_text()
    (version,) = re.findall(r"GlueVersion:\s*'([\d.]+)'", text)
    return version


def test_every_glue_session_cell_sets_the_deployed_glue_version_and_the_package_zip():
    for path in list_notebooks():
        notebook = nbformat.read(path, as_version=4)
        cell = next(c for c in notebook.cells if GLUE_MAGICS_TAG in c.metadata.get("tags", []))
        settings = glue_session_settings(cell.source)
        assert settings["glue_version"] == deployed_glue_version() == "5.1", path.name
        assert settings["extra_py_files"][0].endswith("/etl_package.zip"), path.name


def test_the_local_kernel_accepts_only_the_deployed_glue_version():
    assert parse_magic_line(f"%glue_version {deployed_glue_version()}")[1] == "5.1"
    with pytest.raises(ValueError, match=re.escape("expected one of ['5.1']")):
        parse_magic_line("%glue_version 5.0")


@pytest.mark.parametrize(
    "line",
    [
        "%glue_version 3.0",
        "%worker_type G.3X",
        "%number_of_workers 1",
        "%idle_timeout ten",
        "%extra_py_files /local/etl_package.zip",
        "%glue_version",
        "%iam_role arn:aws:iam::1:role/x",
        "glue_version 5.1",
    ],
)
def test_malformed_glue_session_lines_are_rejected(line):
    with pytest.raises(ValueError):
        parse_magic_line(line)


def test_a_broken_magic_in_the_session_cell_is_a_structure_problem(tmp_path):
    _, notebook = _copy(tmp_path)
    cell = next(c for c in notebook.cells if GLUE_MAGICS_TAG in c.metadata.get("tags", []))
    cell.source = cell.source.replace("%worker_type G.1X", "%worker_type huge")
    assert structure_problems(notebook) == [
        "Glue session cell: %worker_type 'huge': expected one of "
        "['G.025X', 'G.1X', 'G.2X', 'G.4X', 'G.8X', 'Z.2X']"
    ]


def test_python_before_the_session_cell_is_a_structure_problem(tmp_path):
    _, notebook = _copy(tmp_path)
    notebook.cells.insert(1, nbformat.v4.new_code_cell("x = 1"))
    problems = structure_problems(notebook)
    assert any("first code cell must be the Glue session cell" in p for p in problems)


def test_a_magic_outside_the_session_cell_is_a_structure_problem(tmp_path):
    _, notebook = _copy(tmp_path)
    notebook.cells.append(nbformat.v4.new_code_cell("%matplot plt"))
    problems = structure_problems(notebook)
    assert any("uses a % magic" in p for p in problems)


def test_a_missing_parameters_tag_is_a_structure_problem(tmp_path):
    _, notebook = _copy(tmp_path)
    for cell in notebook.cells:
        cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "parameters"]
    assert "the second code cell must be tagged 'parameters'" in structure_problems(notebook)


def test_the_local_kernel_records_glue_magics_and_rejects_bad_values(tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # not the user's ~/.ipython

    from etl.notebooks import session as notebook_session

    shell = InteractiveShell.instance()
    notebook_session.load_ipython_extension(shell)
    shell.run_line_magic("number_of_workers", "4")
    assert notebook_session.requested_glue_settings["number_of_workers"] == 4
    with pytest.raises(ValueError, match="number_of_workers"):
        shell.run_line_magic("number_of_workers", "0")


def test_the_kernel_is_registered_under_the_prefix_with_the_magics_extension(tmp_path):
    first = install_kernel(prefix=str(tmp_path))
    spec = json.loads((first / "kernel.json").read_text())
    assert first == tmp_path / "share" / "jupyter" / "kernels" / "etl-workbench"
    assert "--ext=etl.notebooks.session" in spec["argv"]
    assert spec["env"]["SPARK_LOCAL_IP"] == "127.0.0.1"
    stamp = (first / "kernel.json").stat().st_mtime_ns
    install_kernel(prefix=str(tmp_path))
    assert (first / "kernel.json").stat().st_mtime_ns == stamp


def test_parameter_values_are_typed_like_papermills():
    assert parameter_value("200") == 200
    assert parameter_value("true") is True
    assert parameter_value("2026-01-31") == "2026-01-31"
    assert parameter_value("01") == "01"


def test_the_executed_copy_is_named_after_its_parameters():
    notebook = Path("notebooks/04_transform.ipynb")
    assert output_name(notebook, {}) == "04_transform.ipynb"
    assert output_name(notebook, {"run_date": "2026-01-31"}) == (
        "04_transform__run_date-2026-01-31.ipynb"
    )


def test_notebooks_resolve_by_number_or_stem_and_unknown_names_are_explained():
    assert resolve("04") == resolve("04_transform")
    with pytest.raises(NotebookFailed, match="known notebooks: 01_explore_raw"):
        resolve("99_nothing")


def test_a_papermill_run_tells_its_kernel_it_may_use_the_spark_server(tmp_path, monkeypatch):
    import papermill

    seen = []
    monkeypatch.setattr(runner, "prepare_environment", lambda: None)
    monkeypatch.setattr(runner, "install_kernel", lambda: None)
    monkeypatch.setattr(
        papermill, "execute_notebook", lambda *_, **__: seen.append(os.environ.get(BATCH_VARIABLE))
    )
    monkeypatch.delenv(BATCH_VARIABLE, raising=False)
    run_notebook("04_transform", output_dir=tmp_path)
    assert seen == ["1"]  # the kernel papermill starts inherits it
    assert BATCH_VARIABLE not in os.environ  # and only that kernel


def test_an_unknown_parameter_is_refused_before_any_kernel_starts(tmp_path):
    with pytest.raises(NotebookFailed, match="has no parameter 'rundate'"):
        run_notebook("04_transform", {"rundate": "2026-01-31"}, output_dir=tmp_path)
    assert not list(tmp_path.iterdir())
