"""``deferred``: a module imported within the block runs when first used, not before; and
great-expectations loads without scipy.stats and altair until an expectation needs them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etl.core.deferred_imports import StandIn, deferred

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package ``heavy_pkg`` whose module ``charts`` notes in ``heavy_pkg.loaded`` each time
    it runs; removed from ``sys.modules`` afterwards."""
    folder = tmp_path / "heavy_pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("loaded = []\n", encoding="utf-8")
    (folder / "charts.py").write_text(
        "import heavy_pkg\nheavy_pkg.loaded.append('charts')\nWIDTH = 640\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "heavy_pkg"
    for name in [n for n in sys.modules if n.split(".")[0] == "heavy_pkg"]:
        del sys.modules[name]


def test_a_module_imported_in_the_block_runs_when_an_attribute_is_first_read(package):
    import heavy_pkg

    with deferred("heavy_pkg.charts"):
        import heavy_pkg.charts as again
        from heavy_pkg import charts
    assert isinstance(charts, StandIn) and again is charts
    assert heavy_pkg.loaded == []
    assert charts.WIDTH == 640  # the real module's value
    assert heavy_pkg.loaded == ["charts"]
    assert charts.WIDTH == 640 and heavy_pkg.loaded == ["charts"]  # run once
    assert not isinstance(sys.modules["heavy_pkg.charts"], StandIn)


def test_after_the_block_an_import_gets_the_real_module(package):
    import heavy_pkg

    with deferred("heavy_pkg.charts"):
        import heavy_pkg.charts
    import heavy_pkg.charts as charts

    assert not isinstance(charts, StandIn)
    assert heavy_pkg.loaded == ["charts"]


def test_a_module_imported_already_or_not_installed_is_left_alone(package):
    import heavy_pkg.charts

    with deferred("heavy_pkg.charts", "heavy_pkg.missing", "no_such_package.module"):
        assert sys.modules["heavy_pkg.charts"] is heavy_pkg.charts
        with pytest.raises(ModuleNotFoundError):
            import heavy_pkg.missing
    assert heavy_pkg.loaded == ["charts"]


GX_FACTS = """
import json, sys
from etl.stages.suite import import_gx
gx = import_gx()
facts = {"after import": [m for m in ("scipy.stats", "altair") if m in sys.modules]}
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
facts["entropy"] = float(kl.stats.entropy([0.5, 0.5], [0.9, 0.1]))
facts["after use"] = [m for m in ("scipy.stats", "altair") if m in sys.modules]
print(json.dumps(facts))
"""


def test_great_expectations_imports_scipy_stats_when_an_expectation_uses_it():
    # A fresh interpreter: this test session may have imported great-expectations already.
    done = subprocess.run(
        [sys.executable, "-c", GX_FACTS],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT), "GX_ANALYTICS_ENABLED": "False"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["after import"] == []
    assert facts["entropy"] == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1))
    assert facts["after use"] == ["scipy.stats"]
