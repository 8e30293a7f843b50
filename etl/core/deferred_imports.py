"""Modules imported when first used rather than when an importer that seldom uses them loads.

great-expectations imports ``scipy.stats`` (for its KL-divergence expectation and two
Kolmogorov-Smirnov metrics) and ``altair`` (for chart renderers) as it is imported: 0.75 of
the ~2.2 CPU-seconds its import takes in a run, which a 2 M-row Glue job pays beside its
Spark tasks on the machine's two cores (docs/performance-history.md, tenth round). Within
``deferred(...)`` an ``import scipy.stats`` gives a stand-in module whose first attribute
lookup imports the real one, so a suite that uses such an expectation still gets it, a
little later.

Home-made because the standard library's ``importlib.util.LazyLoader`` does not survive a
second ``import`` of the module on Python 3.11: the import system reads the cached module's
``__spec__``, and any attribute read makes a lazy module load.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()


class StandIn(types.ModuleType):
    """A module not imported yet: reading any attribute imports the real one."""

    def __getattr__(self, attribute: str):
        return getattr(_real_module(self), attribute)


def _real_module(stand_in: StandIn) -> types.ModuleType:
    with _LOCK:
        if sys.modules.get(stand_in.__name__) is stand_in:
            del sys.modules[stand_in.__name__]
    return importlib.import_module(stand_in.__name__)


@contextmanager
def deferred(*names: str) -> Iterator[None]:
    """Within the block, importing one of ``names`` gives a ``StandIn`` (unless the module
    is imported already, or not installed). Afterwards a new import gets the real module,
    and the stand-ins handed out import it when first used."""
    placed: list[StandIn] = []
    with _LOCK:
        for name in names:
            if name not in sys.modules and _installed(name):
                placed.append(StandIn(name, f"{name}, imported when first used"))
                sys.modules[name] = placed[-1]
    try:
        yield
    finally:
        with _LOCK:
            for stand_in in placed:
                if sys.modules.get(stand_in.__name__) is stand_in:
                    del sys.modules[stand_in.__name__]


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # its parent package is missing
        return False
