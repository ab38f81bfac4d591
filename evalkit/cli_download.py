"""``evalkit download``: prefetch a model's weights (for machines without network access).

    evalkit download -m uninext-r50                     # every file of the card
    evalkit download -m univs-r50 -b davis17-val         # only what that task needs
    evalkit download -m 'glee-*'                         # ids, tags, comma lists, patterns
    evalkit download -m glee-lite --weights ./GLEE_Lite_joint.pth   # verify/record a local file

The flags are those of ``evalkit run`` (``-m``/``--model``, ``-b``/``--benchmark``, ``--weights``);
``-M`` and ``-t`` are kept as aliases.

Also :func:`model_status`, the weights column of ``evalkit ls models``.
"""
from __future__ import annotations

import argparse
import logging
import sys

from .errors import EvalkitError

__all__ = ["add_arguments", "main", "model_status"]

log = logging.getLogger("evalkit.download")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", "-M", required=True,
                        help="model id, tag or pattern, as for `evalkit run` (see `evalkit ls models`)")
    parser.add_argument("--benchmark", "-b", "-t", default=None,
                        help="only the files needed for this benchmark's task")
    parser.add_argument("--weights", default=None,
                        help="local official checkpoint to use instead of downloading it")


def _task_of(benchmark_id: str) -> str | None:
    from .registry import BENCHMARKS

    return BENCHMARKS.get(benchmark_id).task


def main(args: argparse.Namespace) -> int:
    """Fetch and verify every file of the selected models; one line per file; 0 on success."""
    from .errors import UnknownNameError
    from .registry import MODELS
    from .zoo.cards import list_cards

    try:
        models = [e.id for e in MODELS.select(args.model)]
    except UnknownNameError:
        if args.model not in {c.id for c in list_cards()}:  # a card not (yet) registered as a model
            raise
        models = [args.model]
    if getattr(args, "weights", None) and len(models) > 1:
        raise EvalkitError(f"--weights names one file; {args.model!r} selects {len(models)} models")
    for model in models:
        _download_one(model, args)
    return 0


def _download_one(model: str, args: argparse.Namespace) -> None:
    from .hub import cache_root, fetch_weights, hf_cache_dir, weights_sha256
    from .zoo.cards import get_card

    card = get_card(model)
    task = _task_of(args.benchmark) if getattr(args, "benchmark", None) else None
    files = card.weights_for(task)
    for wf in files:
        user = args.weights if (wf.role == "model" and getattr(args, "weights", None)) else None
        path = fetch_weights(card, user, wf.name)
        sha = weights_sha256(card, user, wf.name)
        state = "pinned" if wf.pinned else "unpinned (hash recorded)"
        print(f"{card.id}  {wf.name}  {sha[:12]}  {state}  {path}")
    print(f"{len(files)} file(s) ready for {card.id}"
          + (f" on task {task}" if task else "")
          + f"; caches: {cache_root()}, {hf_cache_dir()}")


def model_status(model_id: str) -> str:
    """``bundled`` (shipped in the package), ``cached`` (every file present and pinned),
    ``unpinned`` (every file present, some only recorded at first download) or ``not cached``.
    No network, no hashing, no torch."""
    from .hub import file_status
    from .zoo.cards import get_card

    card = get_card(model_id)
    states = [file_status(card, wf) for wf in card.weights]
    if "not cached" in states:
        return "not cached"
    if all(s == "bundled" for s in states):
        return "bundled"
    return "unpinned" if "unpinned" in states else "cached"


if __name__ == "__main__":  # python -m evalkit.cli_download --model X
    p = argparse.ArgumentParser(prog="evalkit download", description=__doc__.splitlines()[0])
    add_arguments(p)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        sys.exit(main(p.parse_args()))
    except EvalkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
