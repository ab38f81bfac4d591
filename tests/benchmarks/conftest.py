"""Fixtures of the benchmark tests: one tiny generated data root per session."""
from __future__ import annotations

import pytest

from benchmark_generator import load_benchmark_generator


@pytest.fixture(scope="session")
def gen():
    return load_benchmark_generator()


@pytest.fixture(scope="session")
def data(tmp_path_factory, gen):
    """(data root, oracle predictions per benchmark id) of the generated datasets."""
    root = tmp_path_factory.mktemp("datasets")
    return root, gen.generate(root)
