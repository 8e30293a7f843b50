"""Dataset folders: found on the search path, validated against the schema, errors for people."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from etl.cli.main import main
from etl.core.datasets import REPO_DATASETS, SpecError, dataset_folders, get_dataset
from etl.core.spec import spec_from_document


@pytest.fixture
def datasets_dir(tmp_path: Path, monkeypatch) -> Path:
    """A folder of user datasets, first on the search path."""
    folder = tmp_path / "datasets"
    folder.mkdir()
    monkeypatch.setenv("ETL_DATASETS_DIR", str(folder))
    return folder


def copy_orders(datasets_dir: Path, name: str = "orders") -> Path:
    target = datasets_dir / name
    shutil.copytree(REPO_DATASETS / "orders", target)
    spec = target / "dataset.yaml"
    spec.write_text(spec.read_text().replace("name: orders", f"name: {name}", 1))
    return spec


def break_spec(spec: Path, old: str, new: str) -> None:
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))


def shop_error(datasets_dir: Path, old: str, new: str) -> str:
    """The ``SpecError`` of the orders spec copied as ``shop``, ``old`` replaced by ``new``."""
    break_spec(copy_orders(datasets_dir, "shop"), old, new)
    with pytest.raises(SpecError) as error:
        get_dataset("shop")
    return str(error.value)


def test_the_orders_spec_round_trips_through_its_document():
    orders = get_dataset("orders")
    assert spec_from_document(orders.to_dict(), orders.folder) == orders
    assert orders.quality_threshold == 70.0
    assert orders.key == ("id",)
    assert [s.name for s in orders.summaries] == ["daily_sales"]


def test_a_users_folder_comes_before_the_checkouts(datasets_dir):
    spec = copy_orders(datasets_dir)
    break_spec(spec, "threshold: 70", "threshold: 85")
    assert dataset_folders()["orders"] == datasets_dir / "orders"
    assert get_dataset("orders").quality_threshold == 85.0


def test_an_unknown_key_names_the_file_the_key_and_what_is_allowed(datasets_dir):
    spec = copy_orders(datasets_dir, "shop")
    break_spec(spec, "deduplicate: exact", "dedupe: exact")
    with pytest.raises(SpecError) as error:
        get_dataset("shop")
    message = str(error.value)
    assert "shop/dataset.yaml: (top level): unknown key 'dedupe'" in message
    assert "allowed keys: " in message and "deduplicate" in message


def test_a_bad_column_type_says_which_types_exist(datasets_dir):
    error = shop_error(datasets_dir, "amount: {type: double}", "amount: {type: number}")
    assert "columns.amount.type: 'number' is not allowed; " in error
    assert "expected a Spark SQL type: string, boolean, int" in error


def test_a_key_must_be_a_declared_column(datasets_dir):
    error = shop_error(datasets_dir, "key: [id]", "key: [order_id]")
    assert "key: 'order_id' is not a declared column" in error


def test_files_the_spec_names_must_exist(datasets_dir):
    copy_orders(datasets_dir, "shop")
    (datasets_dir / "shop" / "reference" / "regions.csv").unlink()
    with pytest.raises(SpecError, match=r"references\.0\.file: no file 'reference/regions.csv'"):
        get_dataset("shop")


def test_the_name_must_match_the_folder(datasets_dir):
    error = shop_error(datasets_dir, "name: shop", "name: store")
    assert "name: 'store' must match its folder 'shop'" in error


def test_broken_yaml_names_the_line(datasets_dir):
    spec = copy_orders(datasets_dir, "shop")
    spec.write_text(spec.read_text() + "columns: [\n")
    with pytest.raises(SpecError, match=r"shop/dataset.yaml: line \d+: not valid YAML"):
        get_dataset("shop")


def test_a_key_given_twice_is_refused_not_silently_overwritten(datasets_dir):
    text = (REPO_DATASETS / "orders" / "dataset.yaml").read_text()
    line = text[: text.index("amount: {type: double}")].count("\n") + 1
    error = shop_error(
        datasets_dir, "amount: {type: double}", "amount: {type: double}\n  amount: {}"
    )
    assert f"line {line + 1}: not valid YAML: 'amount' is given twice " in error
    assert f"(lines {line} and {line + 1})" in error


@pytest.mark.parametrize(
    ("curated_name", "other"), [("Amount", "amount"), ("TOTAL_amount", "total_amount")]
)
def test_a_curated_name_another_column_has_in_any_case_is_refused(
    datasets_dir, curated_name, other
):
    error = shop_error(
        datasets_dir,
        "quantity: {type: double}",
        f"quantity: {{curated_name: {curated_name}}}",
    )
    assert (
        f"columns.quantity.curated_name: '{curated_name}' is also the curated name of column "
        f"'{other}' (Spark, the Glue catalog and Athena ignore case)"
    ) in error


def test_an_unknown_dataset_lists_the_known_ones():
    with pytest.raises(SpecError, match=r"unknown dataset 'nope'; known datasets: .*orders"):
        get_dataset("nope")


def test_datasets_check_exits_2_with_one_line_per_broken_spec(datasets_dir, capsys):
    spec = copy_orders(datasets_dir, "shop")
    break_spec(spec, "threshold: 70", "threshold: 170")
    assert main(["datasets", "check"]) == 2
    out, err = capsys.readouterr()
    assert "ok     orders" in out
    assert err.strip().splitlines() == [
        f"error: {spec.relative_to(Path.cwd()) if spec.is_relative_to(Path.cwd()) else spec}: "
        "quality.threshold: 170 is greater than the maximum of 100"
    ]


def test_datasets_list_and_show(capsys):
    assert main(["datasets", "list", "--json"]) == 0
    listed = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert listed["orders"]["tables"] == ["orders", "daily_sales"]
    assert main(["datasets", "show", "orders", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["derived"]["total_amount"] == "quantity * price"


def test_running_an_unknown_dataset_exits_2_in_one_line(tmp_path, capsys):
    source = tmp_path / "x.json"
    source.write_text('{"id": 1}\n')
    assert main(["run", str(source), "--dataset", "nope", "--lake", str(tmp_path / "lake")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("INVALID_SPEC: unknown dataset 'nope'")
