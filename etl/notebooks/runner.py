"""Run the stage notebooks with papermill, and check the committed ones.

Notebooks run on the project kernel (``etl-workbench``), registered into ``.venv`` - never
the user's home - with the Glue session magics loaded (see ``etl.notebooks.session``). Jupyter
and IPython keep their state under ``build/jupyter/`` unless the caller chose elsewhere.
Executed copies go to ``build/notebooks/``; the committed notebooks carry no outputs.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
from functools import cache
from pathlib import Path
from unittest import mock

import nbformat

from etl.core.errors import EtlError
from etl.core.paths import REPO_ROOT
from etl.notebooks.session import BATCH_VARIABLE, GLUE_MAGICS_TAG, glue_session_settings

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "build" / "notebooks"
KERNEL_NAME = "etl-workbench"
KERNEL_DISPLAY_NAME = "etl-workbench (.venv)"
KERNEL_EXTENSION = "etl.notebooks.session"
PARAMETERS_TAG = "parameters"
JUPYTER_STATE = {
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "IPYTHONDIR": "ipython",
}


class NotebookFailed(EtlError):
    """A notebook raised while papermill executed it."""


def prepare_environment(build_dir: Path = REPO_ROOT / "build") -> None:
    """Keep Jupyter, IPython and matplotlib state inside the repo's build/ (unless set)."""
    for variable, folder in JUPYTER_STATE.items():
        os.environ.setdefault(variable, str(build_dir / "jupyter" / folder))
        Path(os.environ[variable]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLCONFIGDIR", str(build_dir / "matplotlib"))
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def kernel_spec() -> dict:
    """The project kernel: this interpreter, with the Glue session magics loaded."""
    return {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            f"--ext={KERNEL_EXTENSION}",
        ],
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
        "env": {
            "SPARK_LOCAL_IP": "127.0.0.1",
            "GX_ANALYTICS_ENABLED": "False",
            "PYARROW_IGNORE_TIMEZONE": "1",
        },
    }


def install_kernel(prefix: str = sys.prefix) -> Path:
    """Register the project kernel under ``<prefix>/share/jupyter/kernels`` unless current."""
    from ipykernel.kernelspec import RESOURCES

    target = Path(prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec_file = target / "kernel.json"
    wanted = kernel_spec()
    if spec_file.exists() and json.loads(spec_file.read_text(encoding="utf-8")) == wanted:
        return target
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(RESOURCES, target)
    spec_file.write_text(json.dumps(wanted, indent=1), encoding="utf-8")
    return target


def list_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def resolve(name: str, folder: Path = NOTEBOOK_DIR) -> Path:
    """A notebook by path, file name, stem (``04_transform``) or number (``04``)."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path
    stem = path.name.removesuffix(".ipynb")
    matches = [p for p in list_notebooks(folder) if p.stem == stem or p.stem.split("_")[0] == stem]
    if len(matches) != 1:
        known = ", ".join(p.stem for p in list_notebooks(folder))
        raise NotebookFailed(f"no notebook called {name!r}; known notebooks: {known}")
    return matches[0]


def parameter_value(text: str) -> object:
    """A ``-p key value`` value: JSON numbers, booleans and null are typed, the rest is text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | bool) or value is None else text


def declared_parameters(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Names assigned in the cell tagged ``parameters``, with their source text."""
    cell = next((c for c in notebook.cells if PARAMETERS_TAG in _tags(c)), None)
    if cell is None:
        return {}
    tree = ast.parse(cell.source)
    return {
        node.targets[0].id: ast.get_source_segment(cell.source, node.value) or ""
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


def output_name(notebook: Path, parameters: dict[str, object]) -> str:
    """``04_transform.ipynb``, or ``04_transform__run_date-2026-01-31.ipynb`` with parameters."""
    suffix = "".join(
        f"__{key}-{re.sub(r'[^A-Za-z0-9.-]+', '_', str(value))[:40]}"
        for key, value in sorted(parameters.items())
    )
    return f"{notebook.stem}{suffix}.ipynb"


def run_notebook(
    name: str,
    parameters: dict[str, object] | None = None,
    output_dir: Path = OUTPUT_DIR,
    cwd: Path | None = None,
) -> Path:
    """Execute a notebook with papermill on the project kernel; return the executed copy."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    parameters = parameters or {}
    source = resolve(name)
    known = declared_parameters(nbformat.read(source, as_version=4))
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise NotebookFailed(
            f"{source.stem} has no parameter {unknown[0]!r}; its parameters: {sorted(known)}"
        )
    prepare_environment()
    install_kernel()
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / output_name(source, parameters)
    try:
        # The kernel inherits the environment, and runs in notebooks/: folders given
        # relative to where this process runs are handed over absolute.
        inherited = {BATCH_VARIABLE: "1", **_absolute_folders()}
        with mock.patch.dict(os.environ, inherited):
            papermill.execute_notebook(
                str(source),
                str(target),
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                cwd=str(cwd or source.parent),
                progress_bar=False,
                request_save_on_cell_execute=False,
                kernel_manager_class=_local_socket_kernels(),
            )
    except PapermillExecutionError as error:
        raise NotebookFailed(
            f"{source.stem} failed in cell {error.exec_count}: {error.ename}: "
            f"{str(error.evalue).splitlines()[0] if error.evalue else ''} "
            f"(executed copy: {target})"
        ) from None
    return target


FOLDER_VARIABLES = ("ETL_DATASETS_DIR", "ETL_LAKE_ROOT")


def _absolute_folders() -> dict[str, str]:
    """``FOLDER_VARIABLES`` that are set, each folder made absolute (``os.pathsep`` lists)."""
    return {
        name: os.pathsep.join(
            os.path.abspath(p) if p else p for p in os.environ[name].split(os.pathsep)
        )
        for name in FOLDER_VARIABLES
        if os.environ.get(name)
    }


@cache
def _local_socket_kernels() -> type:
    """A kernel manager whose kernel talks over Unix sockets beside its connection file:
    out of the network's reach, where ipykernel warns, for every run, that a TCP kernel's
    traffic is unencrypted."""
    from jupyter_client.manager import AsyncKernelManager

    class LocalSocketKernelManager(AsyncKernelManager):
        transport = "ipc"

    return LocalSocketKernelManager


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def output_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Cells that carry outputs or execution counts (committed notebooks must not)."""
    return [
        f"cell {index} has outputs or an execution count"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]


def structure_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """The two-kernel layout: markdown first, the Glue session cell, then the parameters."""
    cells = notebook.cells
    code = [c for c in cells if c.cell_type == "code"]
    problems = []
    if not cells or cells[0].cell_type != "markdown":
        problems.append("the first cell must be markdown explaining the notebook")
    if not code or GLUE_MAGICS_TAG not in _tags(code[0]):
        problems.append(
            f"the first code cell must be the Glue session cell tagged {GLUE_MAGICS_TAG!r}"
        )
    else:
        try:
            settings = glue_session_settings(code[0].source)
        except ValueError as error:
            problems.append(f"Glue session cell: {error}")
        else:
            if "glue_version" not in settings:
                problems.append("Glue session cell: %glue_version is missing")
    if len(code) < 2 or PARAMETERS_TAG not in _tags(code[1]):
        problems.append(f"the second code cell must be tagged {PARAMETERS_TAG!r}")
    if sum(GLUE_MAGICS_TAG in _tags(c) for c in code) > 1:
        problems.append(f"only one cell may be tagged {GLUE_MAGICS_TAG!r}")
    magic_elsewhere = [
        i
        for i, c in enumerate(code[1:], start=1)
        if any(line.lstrip().startswith("%") for line in c.source.splitlines())
    ]
    if magic_elsewhere:
        problems.append(
            f"code cell {magic_elsewhere[0]} uses a % magic; only the Glue session cell may"
        )
    return problems


def check_notebooks(paths: list[Path] | None = None) -> list[str]:
    """Every problem in the committed notebooks, as ``<file>: <problem>`` lines."""
    problems = []
    for path in paths if paths is not None else list_notebooks():
        notebook = nbformat.read(path, as_version=4)
        problems += [f"{path.name}: {p}" for p in output_problems(notebook)]
        problems += [f"{path.name}: {p}" for p in structure_problems(notebook)]
    return problems
