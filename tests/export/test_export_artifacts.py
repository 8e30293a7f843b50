"""``etl export``: deterministic artifacts, and the drift check between notebook and job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from etl.cli.main import main
from etl.deploy import export

REPO = export.REPO_ROOT


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The parts of the checkout ``etl export`` reads, copied so a test may edit them."""
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    shutil.copytree(REPO / "etl", tmp_path / "etl", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "datasets", tmp_path / "datasets")
    return tmp_path


def _edit_cell(root: Path, tag: str | None, old: str, new: str) -> None:
    path = root / "notebooks" / "04_transform.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cell = next(
        c
        for c in notebook.cells
        if c.cell_type == "code"
        and old in c.source
        and (tag is None or tag in c.metadata.get("tags", []))
    )
    cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, path)


def test_committed_job_script_matches_the_notebooks_export_cells():
    assert export.drift(REPO) == []


def test_job_script_is_the_shell_around_the_export_cells():
    script = export.job_script("transform_job.py", REPO / "notebooks" / "04_transform.ipynb")
    shell = script.index("job.init(")
    assert script.index("args = getResolvedOptions(") < shell
    assert shell < script.index("outcome = run_transform_job(") < script.index("job.commit()")
    assert "assertDataFrameEqual" not in script  # untagged cells stay in the notebook


def test_check_fails_in_one_line_when_an_export_cell_was_edited(repo_copy, capsys):
    _edit_cell(repo_copy, "export", "dataset = job_dataset(job_run)", "dataset = None")
    assert main(["export", "--check", "--root", str(repo_copy)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert (
        "notebooks/04_transform.ipynb export cells and etl/jobs/glue_scripts/transform_job.py"
        in error
    )


def test_check_fails_when_the_committed_script_was_edited_by_hand(repo_copy):
    committed = repo_copy / "etl" / "jobs" / "glue_scripts" / "transform_job.py"
    committed.write_text(committed.read_text() + "print('hotfix')\n")
    assert main(["export", "--check", "--root", str(repo_copy)]) == 1


def test_editing_a_cell_that_is_not_exported_is_not_drift(repo_copy):
    _edit_cell(repo_copy, None, "curated rows for run date", "rows curated for run date")
    assert main(["export", "--check", "--root", str(repo_copy)]) == 0


def test_update_brings_the_committed_script_back_in_line(repo_copy):
    _edit_cell(repo_copy, "export", "dataset = job_dataset(job_run)", "dataset = None")
    assert main(["export", "--update", "--root", str(repo_copy)]) == 0
    assert main(["export", "--check", "--root", str(repo_copy)]) == 0
    committed = (repo_copy / "etl" / "jobs" / "glue_scripts" / "transform_job.py").read_text()
    assert "dataset = None" in committed


def test_export_writes_every_artifact_and_the_same_bytes_twice(repo_copy):
    (repo_copy / "infra" / "statemachine").mkdir(parents=True)
    (repo_copy / export.STATE_MACHINE).write_text('{"StartAt": "Validate"}')
    first, _ = export.build(repo_copy, repo_copy / "one")
    second, _ = export.build(repo_copy, repo_copy / "two")
    names = sorted(p.relative_to(repo_copy / "one").as_posix() for p in first)
    assert {"glue/transform_job.py", "glue/etl_package.zip"} <= set(names)
    assert "statemachine/etl_workflow.asl.json" in names
    assert set(export.DEPLOY_ARTIFACTS) <= set(names)  # what scripts/deploy.py uploads
    for a, b in zip(sorted(first), sorted(second), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def package_zip(tmp_path: Path) -> Path:
    return export.write_zip(
        tmp_path / "etl_package.zip",
        export.package_zip_entries(
            REPO / "etl", REPO / "datasets", list(export.job_scripts(REPO).values())
        ),
    )


def test_package_zip_holds_what_the_job_imports_and_the_datasets_with_fixed_timestamps(tmp_path):
    with zipfile.ZipFile(package_zip(tmp_path)) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    orders = "etl/_datasets/orders"
    assert {
        "etl/__init__.py",
        "etl/stages/quality.py",
        f"{orders}/dataset.json",
        f"{orders}/expectations/orders_raw.json",
        f"{orders}/reference/regions.csv",
    } <= set(names)
    assert "etl/jobs/awsglue_local/awsglue/utils.py" in names
    # Only what the job imports: no CLI, notebook tooling, local stand-ins or export code.
    assert not [n for n in names if n.startswith(("etl/cli/", "etl/local/", "etl/notebooks/"))]
    assert not [n for n in names if n.startswith(("etl/deploy/", "etl/lambdas/"))]
    assert not [n for n in names if "__pycache__" in n or n.startswith("etl/jobs/glue_scripts/")]
    assert {i.date_time for i in infos} == {export.ZIP_TIMESTAMP}


def _fake_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "etl" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "etl"


def test_a_lambda_bundle_holds_only_the_modules_its_handler_imports(tmp_path):
    package = _fake_package(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "import json\n",
            "lake.py": "from etl.errors import EtlError\nimport boto3\n",
            "pipeline.py": "import pyspark\n",
            "lambdas/__init__.py": "",
            "lambdas/trigger.py": "from etl import lake\n\ndef handler(event, context): ...\n",
        },
    )
    entries = export.lambda_zip_entries(package, "trigger")
    assert sorted(entries) == [
        "etl/__init__.py",
        "etl/errors.py",
        "etl/lake.py",
        "etl/lambdas/__init__.py",
        "etl/lambdas/trigger.py",
    ]


def test_a_lambda_that_reaches_spark_is_refused_with_the_module_named(tmp_path):
    package = _fake_package(
        tmp_path,
        {
            "__init__.py": "",
            "pipeline.py": "import pyspark\n",
            "lambdas/__init__.py": "",
            "lambdas/quality_check.py": "from ..pipeline import run\n",
        },
    )
    with pytest.raises(export.ExportError, match=r"needs etl\.pipeline, which imports pyspark"):
        export.lambda_modules(package, "etl.lambdas.quality_check")


def test_the_real_lambda_handlers_bundle_etl_and_only_the_vendored_packages():
    assert {"trigger", "validation", "quality_check"} <= set(export.lambda_handlers(REPO / "etl"))
    for name in export.lambda_handlers(REPO / "etl"):
        entries = export.lambda_zip_entries(REPO / "etl", name, REPO / "datasets")
        assert f"etl/lambdas/{name}.py" in entries
        assert "etl/_datasets/orders/dataset.json" in entries  # the Lambdas route on the spec
        others = {n.split("/")[0].split("-")[0] for n in entries if not n.startswith("etl/")}
        assert others == ({"orjson"} if name == "quality_check" else set()), name


def test_the_quality_check_bundle_runs_from_its_zip_alone_with_orjson(tmp_path):
    """Unzipped as Lambda unzips it, on a bare interpreter (no site-packages): it imports,
    and parses with the orjson it carries, not one from this environment."""
    target = export.write_zip(
        tmp_path / "quality_check.zip", export.lambda_zip_entries(REPO / "etl", "quality_check")
    )
    task = tmp_path / "task"
    with zipfile.ZipFile(target) as archive:
        archive.extractall(task)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import etl.lambdas.quality_check as qc; "
        "assert qc.orjson.__file__.startswith(sys.argv[1]), qc.orjson.__file__; "
        'p = qc.profile_json_lines([b\'{"a": 1}\\n{"a": null}\\nbad\\n\']); '
        "print(p.parser, p.rows, p.defect_count, p.null_counts())"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(task)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.split() == ["orjson", "3", "1", "{'a':", "2}"]


def test_a_module_may_import_a_vendored_package_in_a_try_but_no_other(tmp_path):
    package = _fake_package(
        tmp_path,
        {
            "__init__.py": "",
            "lambdas/__init__.py": "",
            "lambdas/fast.py": "try:\n    import orjson\nexcept ImportError:\n    orjson = None\n",
            "lambdas/other.py": "try:\n    import ujson\nexcept ImportError:\n    ujson = None\n",
        },
    )
    modules = export.lambda_modules(package, "etl.lambdas.fast")
    assert export.lambda_vendored(modules) == ["orjson"]
    with pytest.raises(export.ExportError, match=r"needs etl\.lambdas\.other, which imports ujson"):
        export.lambda_modules(package, "etl.lambdas.other")


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("cp311-cp311-manylinux_2_17_x86_64", True),
        ("cp311-cp311-manylinux2014_x86_64", True),
        ("cp38-abi3-manylinux_2_17_x86_64", True),
        ("py3-none-any", True),
        ("cp312-cp312-manylinux_2_17_x86_64", False),  # another Python
        ("cp311-cp311-manylinux_2_17_aarch64", False),  # another architecture
        ("cp311-cp311-manylinux_2_28_x86_64", False),  # needs a newer glibc than AL2's 2.26
        ("cp311-cp311-linux_x86_64", False),  # built from source for this machine only
    ],
)
def test_a_vendored_wheel_must_fit_the_lambda_runtime(tag, fits):
    assert export._wheel_fits_lambda([tag]) is fits


def test_a_vendored_package_that_is_not_installed_is_refused_in_one_line():
    with pytest.raises(export.ExportError, match="not installed here") as error:
        export.vendored_entries("no_such_package_here")
    assert "\n" not in str(error.value)


def _workflow_functions() -> dict[str, dict]:
    """Handler -> properties of each Lambda function in infra/workflow.yaml."""
    import yaml

    class CfnLoader(yaml.SafeLoader):
        pass

    CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((REPO / "infra" / "workflow.yaml").read_text(), Loader=CfnLoader)
    return {
        r["Properties"]["Handler"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }


def test_a_function_that_carries_a_compiled_package_runs_the_runtime_it_was_built_for():
    functions = _workflow_functions()
    carrying = []
    for name in export.lambda_handlers(REPO / "etl"):
        modules = export.lambda_modules(REPO / "etl", f"etl.lambdas.{name}")
        if export.lambda_vendored(modules):
            carrying.append(name)
            props = functions[f"etl.lambdas.{name}.handler"]
            major, minor = export.LAMBDA_PYTHON
            assert props["Runtime"] == f"python{major}.{minor}", name
            assert props["Architectures"] == [export.LAMBDA_ARCHITECTURE], name
    assert carrying == ["quality_check"]
    assert sys.version_info[:2] == export.LAMBDA_PYTHON  # the .venv the wheel comes from


def test_only_modules_with_a_handler_become_lambda_bundles(tmp_path):
    package = _fake_package(
        tmp_path,
        {
            "lambdas/__init__.py": "",
            "lambdas/s3_objects.py": "def head(key): ...\n",
            "lambdas/trigger.py": "def handler(event, context): ...\n",
        },
    )
    assert export.lambda_handlers(package) == ["trigger"]


def test_the_job_reads_datasets_and_suites_from_inside_the_package_zip(tmp_path):
    target = package_zip(tmp_path)
    code = (
        f"import sys; sys.path.insert(0, {str(target)!r}); import etl.stages.quality as q; "
        "from etl.core import datasets; "
        "assert q.__file__.startswith(sys.path[0]), q.__file__; "
        "spec = datasets.get_dataset('orders'); "
        "assert str(spec.folder).startswith(sys.path[0]), spec.folder; "
        "assert q.load_suite(spec)['name'] == 'orders_raw'; "
        "assert spec.references[0].table == 'regions'"
    )
    # No checkout beside the zip and no PYTHONPATH: only the zip can answer.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ETL_DATASETS_DIR")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-500:]


def test_the_drift_check_fails_on_a_dataset_spec_the_job_could_not_load(repo_copy):
    spec = repo_copy / "datasets" / "orders" / "dataset.yaml"
    spec.write_text(spec.read_text().replace("type: bigint", "type: long"))
    problems = export.drift(repo_copy)
    assert len(problems) == 1
    assert "dataset.yaml: columns.id.type: 'long' is not allowed" in problems[0]
