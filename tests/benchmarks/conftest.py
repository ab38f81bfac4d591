"""Fixtures of the benchmark tests: one tiny generated data root per session."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load_gen():
    name = "evalkit_tests_benchmarks_gen"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("gen.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


@pytest.fixture(scope="session")
def gen():
    return _load_gen()


@pytest.fixture(scope="session")
def data(tmp_path_factory, gen):
    """(data root, oracle predictions per benchmark id) of the generated datasets."""
    root = tmp_path_factory.mktemp("datasets")
    return root, gen.generate(root)
