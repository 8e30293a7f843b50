"""A local stand-in for the ``awsglue`` library, put on ``sys.path`` only when it is absent.

The exported Glue job script imports this package first: inside AWS Glue the real ``awsglue``
is importable and this does nothing; on a laptop it makes ``import awsglue`` find the small
stand-in in ``./awsglue`` (``getResolvedOptions``, ``GlueContext``, ``Job``), so the very same
script runs locally. The stand-in sets ``LOCAL_STAND_IN`` so ``etl.jobs.session.in_glue()`` stays
False. Home-made because AWS publishes ``awsglue`` only inside its Glue runtime and container
images, not on PyPI.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def activate() -> bool:
    """Make ``import awsglue`` work; return True when the stand-in is what it imports."""
    if importlib.util.find_spec("awsglue") is None:
        sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    import awsglue

    return bool(getattr(awsglue, "LOCAL_STAND_IN", False))


activate()
