"""Registers every built-in metric.

Each metric family declares its ids in its own ``catalog_<family>.py`` module beside this one
(only import paths and metadata: no numpy/torch imports at module level), so ``evalkit ls
metrics`` stays fast. This module imports all of them.
"""
import importlib
import pkgutil

from . import __path__ as _path

for _m in sorted(m.name for m in pkgutil.iter_modules(_path) if m.name.startswith("catalog_")):
    importlib.import_module(f"{__package__}.{_m}")
