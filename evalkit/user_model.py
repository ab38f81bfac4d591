"""A user's own model: ``--model path/to/file.py:factory``, ``--model package.module:factory`` and
``evalkit.evaluate(adapter_object, ...)`` (``docs/your-model.md``).

A *model spec* is a name with a colon (registry ids never have one):

* ``path/to/file.py:make_adapter`` — the file is imported as a module (its folder put on
  ``sys.path``, as ``python file.py`` does, so it may import the modules beside it) and
  ``make_adapter`` is looked up in it (``Class.method`` works too);
* ``package.module:factory`` — an importable module (installed, or on ``PYTHONPATH``).

The factory is called as the registered ones are, ``factory(model_id=..., device=...,
weights=..., **options)``, but only with the arguments its signature names (a factory without
``**kwargs`` gets an error naming the ``-a`` option it does not take, before anything is built).
What it returns — an :class:`~evalkit.adapters.base.Adapter` or any object with ``tasks``,
``prepare(task, benchmark)`` and ``predict(frames, prompt)`` — is wrapped in
:class:`UserAdapter`, which the runner treats like a built-in adapter: the same ``prepare``
validation of task and prompt kind, the same rejection of undeclared ``-a`` options, and the
full contract check of :mod:`evalkit.contract` on every sample.

The spec is registered in :data:`evalkit.registry.MODELS` as a hidden entry whose id (the
run folder's name, the prediction store's model) is derived from it: ``<file stem>.<factory>``
or ``<module>.<factory>`` (``adapter.make_adapter``); an object's id is its ``model_id``, else
its class name. The run record (``run.json`` "model") gets a ``source`` block: the import path
and the sha256 of the user's source files (the spec's file or module, the factory's module, the
adapter class's module; evalkit's own files are covered by its version and git hash).

Nothing here imports torch.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .adapters.base import Adapter, InferenceContext
from .errors import EvalkitError
from .types import PROMPT_KINDS

__all__ = ["resolve_spec", "register_object", "load_factory", "UserAdapter", "Source"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _sha256(path: Path) -> str:
    from .download import sha256_file  # urllib and the rest only when a user's file is hashed

    return sha256_file(path)


@dataclass
class Source:
    """Where a user's model comes from (its provenance in ``run.json``).

    Attributes:
        kind: ``file`` (``path.py:factory``), ``module`` (``module:factory``) or ``object``
            (an adapter object given to :func:`evalkit.evaluate`).
        import_path: the spec as given, or ``module:qualname`` of the object's class.
        files: absolute path → sha256 of each user source file the model was built from.
        target: what the spec names, with a file's path made absolute (``a.py:f`` and
            ``./a.py:f`` are one model; two different targets may not share a name).
    """

    kind: str
    import_path: str
    files: dict[str, str] = field(default_factory=dict)
    target: str = ""

    def add_module_of(self, obj: Any) -> None:
        """Hash the source file of the module defining ``obj`` (not evalkit's own files)."""
        if not (inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isroutine(obj)):
            obj = type(obj)
        module = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", None) or ""
        if module == "evalkit" or module.startswith("evalkit."):
            return
        try:
            path = inspect.getsourcefile(obj)
        except TypeError:  # a builtin, or a class defined in an interactive session
            path = None
        if path and Path(path).is_file():
            path = str(Path(path).resolve())
            self.files.setdefault(path, _sha256(Path(path)))

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "import_path": self.import_path,
                "files": [{"path": p, "sha256": s} for p, s in self.files.items()]}


def plugin_source(model_id: str, adapter: Any) -> dict[str, Any] | None:
    """The ``source`` block of a model that an installed plugin registered (an entry point or
    ``EVALKIT_PLUGINS``): its registry target, the sha256 of the files of the factory's and the
    adapter class's modules, and the distribution that ships them with its version. ``None``
    for evalkit's own models and for the specs and objects :class:`UserAdapter` records."""
    from .registry import MODELS

    module = type(adapter).__module__
    if isinstance(adapter, UserAdapter) or module == "evalkit" or module.startswith("evalkit."):
        return None
    entry = MODELS.get(model_id)
    target = entry.target if isinstance(entry.target, str) else \
        f"{getattr(entry.target, '__module__', '?')}:{getattr(entry.target, '__qualname__', '?')}"
    source = Source("plugin", target, target=target)
    if not isinstance(entry.target, str):
        source.add_module_of(entry.target)
    else:
        with contextlib.suppress(EvalkitError):
            source.add_module_of(entry.load())
    source.add_module_of(type(adapter))
    record = source.record()
    if (dist := _distribution_of(module.split(".")[0])) is not None:
        record["distribution"] = dist
    return record


def _distribution_of(top: str) -> dict[str, str] | None:
    """Name and version of the installed distribution shipping the top-level module ``top``:
    the one whose ``evalkit.*`` entry point lives in it, else the one whose files hold it."""
    from importlib.metadata import PackageNotFoundError, distributions, packages_distributions, version

    for dist in distributions():
        if any(ep.group.startswith("evalkit.") and ep.module.split(".")[0] == top for ep in dist.entry_points):
            return {"name": dist.metadata["Name"], "version": dist.version}
    for name in packages_distributions().get(top, []):
        try:
            return {"name": name, "version": version(name)}
        except PackageNotFoundError:
            continue
    return None


# -- loading a spec -----------------------------------------------------------------------------
def _import_file(path: Path, spec: str):
    """Import a ``.py`` file as a module; the same unchanged file is imported once."""
    path = path.resolve()
    digest = _sha256(path)
    name = f"evalkit_user_{_UNSAFE.sub('_', path.stem)}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    old = sys.modules.get(name)
    if old is not None and getattr(old, "__evalkit_sha256__", None) == digest:
        return old
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module.__evalkit_sha256__ = digest
    sys.modules[name] = module  # before exec: dataclasses and pickling look the module up
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise EvalkitError(f"--model {spec}: importing {path} failed: {type(e).__name__}: {e}") from e
    return module


def _import_module(module: str, spec: str):
    if not all(part.isidentifier() for part in module.split(".")):
        raise EvalkitError(f"--model {spec}: {module!r} is neither a .py file nor a module name "
                           f"(expected path/to/file.py:factory or package.module:factory)")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            raise EvalkitError(f"--model {spec}: no module named {e.name!r} (install the package, or put "
                               f"its folder on PYTHONPATH; a file is named path/to/file.py:factory)") from None
        raise EvalkitError(f"--model {spec}: importing {module} failed: {e}") from e
    except Exception as e:
        raise EvalkitError(f"--model {spec}: importing {module} failed: {type(e).__name__}: {e}") from e


def load_factory(spec: str) -> tuple[Callable, Source, str]:
    """``(factory, source, derived id)`` of ``spec``; every failure is one line naming the spec."""
    left, _, attr = spec.rpartition(":")
    if not left or not attr:
        raise EvalkitError(f"--model {spec}: expected path/to/file.py:factory or package.module:factory")
    if left.endswith(".py") or "/" in left or "\\" in left:
        path = Path(left).expanduser()
        if not path.is_file():
            raise EvalkitError(f"--model {spec}: no such file {path}")
        module = _import_file(path, spec)
        source = Source("file", spec, {str(path.resolve()): module.__evalkit_sha256__}, f"{path.resolve()}:{attr}")
        stem = path.stem
    else:
        module = _import_module(left, spec)
        source = Source("module", spec, target=spec)
        source.add_module_of(module)
        stem = left
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                           and getattr(v, "__module__", None) == module.__name__)
            raise EvalkitError(f"--model {spec}: {left} has no {attr!r} (it defines: {', '.join(names) or 'nothing callable'})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise EvalkitError(f"--model {spec}: {attr} is a {type(obj).__name__}, not a factory "
                           f"(a function or class returning the adapter)")
    source.add_module_of(obj)
    return obj, source, _UNSAFE.sub("-", f"{stem}.{attr}")


def _factory_kwargs(factory: Callable, spec: str, model_id: str, device: str, weights: str | None,
                    options: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a registered factory that ``factory``'s signature takes; an ``-a`` option,
    ``--weights`` or a device it cannot take is an error (it would be silently dropped)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): pass what it was given
        return {"model_id": model_id, "device": device, "weights": weights, **options}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return {"model_id": model_id, "device": device, "weights": weights, **options}
    named = {n for n, p in params.items()
             if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    unknown = sorted(set(options) - named)
    if unknown:
        takes = sorted(named - {"model_id", "device", "weights"})
        raise EvalkitError(f"model {spec!r} has no option {', '.join(map(repr, unknown))} "
                           f"(-a/--model-arg accepts: {', '.join(takes) or 'none'})")
    if weights is not None and "weights" not in named:
        raise EvalkitError(f"model {spec!r}: --weights was given but the factory takes no `weights` argument")
    if device != "cpu" and "device" not in named:
        raise EvalkitError(f"model {spec!r}: --device {device} was given but the factory takes no `device` argument")
    given = {"model_id": model_id, "device": device, "weights": weights}
    return {**{k: v for k, v in given.items() if k in named}, **options}


def _check_protocol(obj: Any, where: str) -> None:
    from .tasks import TASKS

    expected = ("expected an evalkit.adapters.base.Adapter or an object with `tasks`, "
                "`prepare(task, benchmark)` and `predict(frames, prompt)` (docs/your-model.md)")
    if not callable(getattr(obj, "predict", None)):
        raise EvalkitError(f"model {where}: got a {type(obj).__name__} without predict(frames, prompt); {expected}")
    tasks = getattr(obj, "tasks", None)
    if isinstance(tasks, str) or not tasks:
        raise EvalkitError(f"model {where}: {type(obj).__name__}.tasks must be a non-empty set of task names "
                           f"(e.g. {{'det', 'inst-seg'}}), got {tasks!r}; {expected}")
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise EvalkitError(f"model {where}: unknown task {', '.join(map(repr, unknown))} in "
                           f"{type(obj).__name__}.tasks (known: {', '.join(sorted(TASKS))})")
    if getattr(obj, "prepare", None) is not None and not callable(obj.prepare):
        raise EvalkitError(f"model {where}: {type(obj).__name__}.prepare is not callable; {expected}")


class UserAdapter(Adapter):
    """What the runner sees of a user's model: the user's object and where it came from.

    An :class:`Adapter` subclass keeps its own ``prepare``/``accepted_options``; for any other
    object the base class's checks run on its declared ``tasks`` (and ``prompt_kinds``, when it
    declares them; otherwise every prompt kind is offered), then its own ``prepare`` if it has
    one. ``describe()`` is the object's own (or its id and options) plus ``source``.
    """

    def __init__(self, obj: Any, source: Source, model_id: str, options: dict[str, Any] | None = None):
        _check_protocol(obj, source.import_path)
        self.obj = obj
        source.add_module_of(type(obj))
        self.source = source
        if isinstance(obj, Adapter) and not obj.model_id:
            obj.model_id = model_id  # its own error messages name the model
        self.model_id = getattr(obj, "model_id", "") or model_id
        self.tasks = frozenset(obj.tasks)
        self.prompt_kinds = frozenset(getattr(obj, "prompt_kinds", None) or PROMPT_KINDS)
        self.device = str(getattr(obj, "device", "cpu"))
        self.weights = getattr(obj, "weights", None)
        self._options = dict(options or {})
        self.context = None

    @property
    def weights_sha256(self) -> str | None:  # type: ignore[override]
        return getattr(self.obj, "weights_sha256", None)

    @property
    def options(self) -> dict[str, Any]:  # type: ignore[override]
        """The object's options plus ``source_sha256`` (one hash of the source files' hashes):
        these make the prediction store's key, so a ``--resume`` after the model's code changed
        is refused instead of mixing predictions of two versions."""
        opts = self._own_options()
        if self.source.files:
            opts["source_sha256"] = hashlib.sha256("\n".join(sorted(self.source.files.values())).encode()).hexdigest()
        return opts

    def _own_options(self) -> dict[str, Any]:
        own = getattr(self.obj, "options", None)
        return dict(own) if isinstance(own, dict) else dict(self._options)

    def accepted_options(self) -> frozenset[str] | None:
        own = getattr(self.obj, "accepted_options", None)
        if callable(own):
            return own()
        keys = getattr(self.obj, "option_keys", None)
        return None if keys is None else frozenset(keys)

    def prepare(self, task: str, benchmark=None) -> InferenceContext | Any:
        if isinstance(self.obj, Adapter):
            self.context = self.obj.prepare(task, benchmark)
            return self.context
        super().prepare(task, benchmark)  # the built-in check of task and prompt kind
        own = getattr(self.obj, "prepare", None)
        if callable(own):
            own(task, benchmark)
        return self.context

    def predict(self, frames, prompt):
        return self.obj.predict(frames, prompt)

    def describe(self) -> dict[str, Any]:
        own = getattr(self.obj, "describe", None)
        record = own() if callable(own) else {"model_id": self.model_id, "options": self._own_options()}
        return {**record, "source": self.source.record()}


# -- registration -------------------------------------------------------------------------------
def _register(registry, model_id: str, factory: Callable, source: Source, tasks) -> Any:
    if model_id in registry:
        old = registry.get(model_id)
        prior = old.meta.get("user_model")
        if prior is None:
            how = "set the object's model_id to another name" if source.kind == "object" else \
                "rename the file or the factory"
            raise EvalkitError(f"model {source.import_path}: its name {model_id!r} is a registered model id; {how}")
        if prior["target"] != source.target:
            raise EvalkitError(f"models {prior['import_path']} and {source.import_path} would both be named "
                               f"{model_id!r} (the run folder's name); rename one of them")
    meta = {"user_model": {"kind": source.kind, "import_path": source.import_path, "target": source.target}}
    if tasks:
        meta["tasks"] = sorted(tasks)
    return registry.register(model_id, factory, hidden=True, overwrite=True,
                             description=f"user model {source.import_path}", **meta)


def resolve_spec(registry, spec: str):
    """The (hidden) registry entry of a ``file.py:factory`` / ``module:factory`` spec."""
    factory, source, model_id = load_factory(spec)

    def build(*, model_id: str, device: str = "cpu", weights: str | None = None, **options: Any) -> UserAdapter:
        kwargs = _factory_kwargs(factory, spec, model_id, device, weights, options)
        obj = factory(**kwargs)
        return UserAdapter(obj, Source(source.kind, source.import_path, dict(source.files), source.target),
                           model_id, options)

    return _register(registry, model_id, build, source, _declared_tasks(factory))


def _declared_tasks(factory: Callable) -> frozenset[str] | None:
    """The tasks a factory declares without being built (a group of benchmarks then runs only
    those): its own ``tasks`` (a class, or a function given the attribute), else the ``tasks`` of
    the class its return annotation names (``def make_adapter(...) -> MyAdapter``)."""
    tasks = getattr(factory, "tasks", None)
    if tasks is None and inspect.isroutine(factory):
        import typing

        try:
            returned = typing.get_type_hints(factory).get("return")
        except Exception:  # noqa: BLE001 - an annotation that does not resolve declares nothing
            returned = None
        tasks = getattr(returned, "tasks", None)
    return frozenset(tasks) if isinstance(tasks, (set, frozenset, list, tuple)) and tasks else None


def register_object(registry, obj: Any):
    """Register an adapter object (``evalkit.evaluate(obj, ...)``) under a hidden id; the entry's
    factory returns the object itself, so options cannot be passed to it."""
    cls = type(obj)
    source = Source("object", f"{cls.__module__}:{cls.__qualname__}", target=f"object {id(obj)}")
    model_id = getattr(obj, "model_id", "") or cls.__name__
    model_id = _UNSAFE.sub("-", model_id) if isinstance(model_id, str) else cls.__name__
    adapter = UserAdapter(obj, source, model_id)

    def build(**_: Any) -> UserAdapter:
        return adapter

    return _register(registry, model_id, build, source, adapter.tasks)
