"""Test helper: ``tests/benchmarks/gen.py`` (tiny datasets in the official layouts) loaded as a
module, once per process; the tests folder is not a package."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

GEN = Path(__file__).resolve().parents[1] / "benchmarks" / "gen.py"


def load_benchmark_generator():
    name = "evalkit_tests_benchmarks_gen"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, GEN)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]
