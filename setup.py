"""Package discovery for the folder-to-package mapping declared in pyproject.toml.

The top-level folders ``zoo/``, ``adapters/``, ``benchmarks/`` and ``reports/`` are installed as
``evalkit.zoo``, ``evalkit.adapters``, ... (generic top-level names would collide with other
distributions). setuptools cannot discover sub-packages through such a mapping on its own, so
this file walks each mapped folder and lists every package below it.
"""
from pathlib import Path

from setuptools import setup

ROOTS = {
    "evalkit": "evalkit",
    "evalkit.zoo": "zoo",
    "evalkit.adapters": "adapters",
    "evalkit.benchmarks": "benchmarks",
    "evalkit.reports": "reports",
}


def _packages():
    here = Path(__file__).parent
    found, dirs = [], {}
    for pkg, folder in ROOTS.items():
        base = here / folder
        for init in sorted(base.rglob("__init__.py")):
            rel = init.parent.relative_to(base)
            name = ".".join((pkg, *rel.parts)) if rel.parts else pkg
            found.append(name)
        dirs[pkg] = folder
    return found, dirs


packages, package_dir = _packages()
setup(packages=packages, package_dir=package_dir)
