"""Shared test fixtures.

* ``tests/plugins`` is put on ``sys.path`` (and on ``PYTHONPATH`` for subprocesses) so test-only
  plugins (hidden models/benchmarks) can be registered.
* ``shared_dir`` gives ``../shared`` (reference files and real fixtures beside the checkout) or
  skips the test when it is absent (a user's clone has no ``../shared``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGINS = Path(__file__).resolve().parent / "plugins"
SHARED = REPO.parent / "shared"

if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (reference files and fixtures) is not present")
    return SHARED


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for running ``evalkit`` in a subprocess with the test plugins loaded."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), env.get("PYTHONPATH", "")]))
    env["EVALKIT_PLUGINS"] = "evalkit_testkit"
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env
