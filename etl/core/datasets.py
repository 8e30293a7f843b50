"""Finding datasets: one folder per dataset, its ``dataset.yaml`` checked against a schema.

A dataset folder holds ``dataset.yaml`` (validated against ``dataset.schema.json``), its
expectation suite, its reference CSVs and optionally ``steps.py``. Folders are looked up,
first match wins, in:

1. every folder in ``$ETL_DATASETS_DIR`` (``os.pathsep``-separated): your own datasets;
2. ``datasets/`` of the checkout the package runs from;
3. ``etl/_datasets/`` inside the package: what ``etl export`` ships to Glue and the Lambdas,
   each spec already validated and written as ``dataset.json``.

Reading YAML and validating need PyYAML and jsonschema; the deployed Lambdas only ever read
the exported JSON, so they need neither (the imports are deferred to the YAML path).
"""

from __future__ import annotations

import json
import os
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from etl.core.conventions import DEFAULT_DATASET
from etl.core.errors import EtlError
from etl.core.paths import REPO_ROOT
from etl.core.spec import DatasetSpec, spec_from_document

SPEC_FILE = "dataset.yaml"
EXPORTED_SPEC_FILE = "dataset.json"
PACKAGED_FOLDER = "_datasets"
REPO_DATASETS = REPO_ROOT / "datasets"
SCHEMA_FILE = "dataset.schema.json"

__all__ = ["DEFAULT_DATASET", "DatasetSpec", "SpecError", "dataset_folders", "get_dataset"]


class SpecError(EtlError):
    """A dataset spec is missing or breaks the schema; the message names file and key."""

    status = "INVALID_SPEC"


def search_path() -> list[Traversable]:
    """Where dataset folders are looked for, in order."""
    folders: list[Traversable] = [
        Path(p) for p in os.environ.get("ETL_DATASETS_DIR", "").split(os.pathsep) if p
    ]
    if REPO_DATASETS.is_dir():
        folders.append(REPO_DATASETS)
    packaged = resources.files("etl").joinpath(PACKAGED_FOLDER)
    if packaged.is_dir():
        folders.append(packaged)
    return folders


def dataset_folders() -> dict[str, Traversable]:
    """``{name: folder}`` of every dataset on the search path (the first of a name wins)."""
    found: dict[str, Traversable] = {}
    for base in search_path():
        if not base.is_dir():
            continue
        for folder in sorted(base.iterdir(), key=lambda f: f.name):
            has_spec = folder.joinpath(SPEC_FILE).is_file()
            if folder.is_dir() and (has_spec or folder.joinpath(EXPORTED_SPEC_FILE).is_file()):
                found.setdefault(folder.name, folder)
    return found


def get_dataset(name: str) -> DatasetSpec:
    """The spec of dataset ``name``; ``SpecError`` naming the known ones when there is none."""
    folders = dataset_folders()
    if name not in folders:
        known = ", ".join(sorted(folders)) or "none"
        raise SpecError(
            f"unknown dataset {name!r}; known datasets: {known} "
            f"(create one with `etl datasets new {name} --from FILE`)"
        )
    return load_folder(folders[name])


def load_folder(folder: Traversable) -> DatasetSpec:
    """The spec in ``folder``: ``dataset.yaml`` (validated) or an exported ``dataset.json``."""
    source = folder.joinpath(SPEC_FILE)
    if source.is_file():
        document = read_spec_file(source)
    else:
        document = json.loads(folder.joinpath(EXPORTED_SPEC_FILE).read_text(encoding="utf-8"))
    if document["name"] != folder.name:
        raise SpecError(
            f"{_where(source)}: name: {document['name']!r} must match its folder {folder.name!r}"
        )
    return spec_from_document(document, folder)


def read_spec_file(path: Traversable) -> dict:
    """Parse and validate a ``dataset.yaml``; ``SpecError`` says file, key and what is allowed."""
    import yaml

    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_unique_key_loader())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(f"{_where(path)}:{where}: not valid YAML: {problem}") from None
    if not isinstance(document, dict):
        raise SpecError(f"{_where(path)}: expected a mapping of keys (name, columns, ...)")
    validate_document(document, _where(path))
    check_references(document, path)
    return document


def _unique_key_loader():
    """PyYAML's safe loader, refusing a key given twice in one mapping.

    YAML keeps the last of two equal keys without a word, so a second ``derived:`` or a
    column listed twice would silently drop the first; PyYAML has no option to refuse it
    (a subclass is its documented way to change construction)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            lines: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if isinstance(key, str | int | float | bool) and key in lines:
                    raise yaml.constructor.ConstructorError(
                        problem=f"{key!r} is given twice (lines {lines[key]} and {line});"
                        " YAML would keep only the last, so give it once",
                        problem_mark=key_node.start_mark,
                    )
                lines[key] = line
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def schema() -> dict:
    return json.loads(resources.files("etl.core").joinpath(SCHEMA_FILE).read_text("utf-8"))


def validate_document(document: dict, where: str) -> None:
    """Raise ``SpecError`` for the most relevant schema violation of ``document``."""
    jsonschema = _jsonschema()
    from jsonschema.exceptions import best_match

    validator = jsonschema.Draft202012Validator(schema())
    error = best_match(validator.iter_errors(document))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise SpecError(f"{where}: {key}: {_explain(error)}")


# jsonschema imports every optional format checker it finds installed. One of them,
# rfc3987-syntax (pulled into the environment by Jupyter's jsonschema[format-nongpl]),
# compiles 38 grammars as it is imported: 1.3 of the 1.4 s that importing jsonschema takes.
# The dataset schema checks no formats, so that checker is not loaded. The `etl` command
# already keeps the module out of its whole process (etl/cli/main.py); this is for the rest
# that reads a spec: a notebook's kernel, a papermill run, library use, the tests.
_UNUSED_FORMAT_CHECKER = "rfc3987_syntax"


def _jsonschema():
    """The ``jsonschema`` module, imported without its IRI format checker."""
    if "jsonschema" in sys.modules:
        return sys.modules["jsonschema"]
    blocked = _UNUSED_FORMAT_CHECKER not in sys.modules
    if blocked:
        sys.modules[_UNUSED_FORMAT_CHECKER] = None  # an import of it raises ImportError
    try:
        import jsonschema
    finally:
        if blocked:  # importable again for anyone else (e.g. Jupyter's own checks)
            del sys.modules[_UNUSED_FORMAT_CHECKER]
    return jsonschema


def _explain(error) -> str:
    """A schema error in words a person can act on."""
    schema_part, value = error.schema, error.instance
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(schema_part.get("properties", {})))
        extra = sorted(set(value) - set(schema_part.get("properties", {})))
        return f"unknown key {extra[0]!r}; allowed keys: {allowed}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required here")
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"{value!r} is not allowed; expected one of {allowed}"
    if error.validator == "pattern":
        expected = schema_part.get("description") or f"a match for {error.validator_value}"
        return f"{value!r} is not allowed; expected {expected}"
    return error.message


def check_references(document: dict, path: Traversable) -> None:
    """Files and names the schema cannot check: suite, reference CSVs, steps, key columns."""
    folder = _parent(path)
    where = _where(path)
    declared = set(document.get("columns", {}))
    for name in document.get("key", []):
        if name not in declared:
            raise SpecError(f"{where}: key: {name!r} is not a declared column")
    suite = document.get("quality", {}).get("suite")
    if suite and folder is not None and not folder.joinpath(suite).is_file():
        raise SpecError(f"{where}: quality.suite: no file {suite!r} in the dataset folder")
    for index, reference in enumerate(document.get("references", [])):
        on, key = (_as_list(reference.get(k, reference["key"])) for k in ("join_on", "key"))
        if len(on) != len(key):
            raise SpecError(
                f"{where}: references.{index}.join_on: {len(on)} column(s) {on} for the "
                f"{len(key)} column(s) of key {key}; name one feed column per key column"
            )
        if folder is not None and not folder.joinpath(reference["file"]).is_file():
            raise SpecError(
                f"{where}: references.{index}.file: no file {reference['file']!r} "
                "in the dataset folder"
            )
    if document.get("steps") and folder is not None and not folder.joinpath("steps.py").is_file():
        raise SpecError(f"{where}: steps: the dataset folder has no steps.py")
    _check_curated_names(document, where)


def _check_curated_names(document: dict, where: str) -> None:
    """A ``curated_name`` no other declared or derived column has in curated, in any case
    (Spark, the Glue catalog and Athena ignore it); the job checks undeclared ones too."""
    columns = document.get("columns", {})
    names = {c: (rules or {}).get("curated_name", c) for c, rules in columns.items()}
    names.update({d: d for d in document.get("derived", {}) if d not in columns})
    for column, rules in columns.items():
        new = (rules or {}).get("curated_name")
        other = next(
            (c for c, n in names.items() if c != column and new and n.lower() == new.lower()),
            None,
        )
        if other is not None:
            raise SpecError(
                f"{where}: columns.{column}.curated_name: {new!r} is also the curated name of "
                f"column {other!r} (Spark, the Glue catalog and Athena ignore case)"
            )


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _parent(path: Traversable) -> Traversable | None:
    return path.parent if isinstance(path, Path) else None


def _where(path: Traversable) -> str:
    """A spec file's name for messages: relative to the working directory when it can be."""
    if isinstance(path, Path):
        try:
            return str(path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)
