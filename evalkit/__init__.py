"""evalkit: evaluation harness and model zoo for universal instance perception models.

    import evalkit
    [res] = evalkit.evaluate("uninext-tiny", "shapes-davis", limit=3)
    res.metrics, res.run_dir
    evalkit.score("coco-bbox", gt="instances_val2017.json", results="bbox.json")

The names below are imported on first use (PEP 562), so ``import evalkit`` stays light: no
torch, no numpy.
"""

__version__ = "0.1.0"

__all__ = ["evaluate", "score", "RunConfig", "RunResult", "EvalkitError", "__version__"]

_LAZY = {
    "evaluate": ("evalkit.api", "evaluate"),
    "score": ("evalkit.api", "score"),
    "RunConfig": ("evalkit.runner", "RunConfig"),
    "RunResult": ("evalkit.runner", "RunResult"),
    "EvalkitError": ("evalkit.errors", "EvalkitError"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
