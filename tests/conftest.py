"""Shared test fixtures.

* ``tests/plugins`` is put on ``sys.path`` (and on ``PYTHONPATH`` for subprocesses) so test-only
  plugins (hidden models/benchmarks) can be registered.
* ``shared_dir`` gives ``../shared`` (reference files and real fixtures beside the checkout) or
  skips the test when it is absent (a user's clone has no ``../shared``).
* ``generated_datasets`` writes the tiny datasets of ``tests/benchmarks/gen.py`` (official
  layouts) once per session; the end-to-end tests of every model family run on them.
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

from benchmark_generator import load_benchmark_generator  # noqa: E402  (from PLUGINS)

pytest_plugins = ["skip_help"]  # the skip summary: why each skip, how to enable it


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


@pytest.fixture(scope="module")
def suite_cache(tmp_path_factory):
    """A private ``EVALKIT_CACHE`` for one test module: a suite generated there is generated once
    per module and never shared with other modules or the user's cache."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("suite_cache")
    mp.setenv("EVALKIT_CACHE", str(root))
    yield root
    mp.undo()


@pytest.fixture(scope="session")
def generated_datasets(tmp_path_factory) -> tuple[Path, dict]:
    """``(data root, benchmark id → sample id → oracle predictions)`` of the generated mini
    datasets. Tests must not modify them."""
    root = tmp_path_factory.mktemp("generated_datasets")
    return root, load_benchmark_generator().generate(root)


@pytest.fixture(scope="session")
def generated_data_root(generated_datasets) -> Path:
    """The data root of :func:`generated_datasets`."""
    return generated_datasets[0]
