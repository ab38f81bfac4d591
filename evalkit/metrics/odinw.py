"""ODinW13 average AP (Li et al., GLIP, CVPR 2022; "Object Detection in the Wild" 13-dataset
subset, ``configs/odinw_13/*.yaml``; ``reference/metrics.md`` §13).

Each dataset is scored with COCO box AP@[.5:.95] (pycocotools ``COCOeval``, maxDets 100; the
backends of :mod:`evalkit.metrics.coco`: ``"fast"`` by default, identical numbers,
``backend="official"`` forces pycocotools); **ODinW13 = the arithmetic mean of the 13 APs**. Evaluation splits (GLIP): ``valid``
everywhere except ``mini_val`` for EgoHands/generic and VehiclesOpenImages/416x416, each with
``annotations_without_background.json``.

Inputs: ``gt`` and ``results`` are mappings from the dataset names of :data:`ODINW13` to a COCO
ground truth / a COCO bbox results file (paths or loaded objects), or paths to JSON manifests
holding such a mapping (relative paths resolve against the manifest's folder)::

    {"AerialMaritimeDrone": "AerialMaritimeDrone/large/valid/annotations_without_background.json",
     "Aquarium": "...", ...}

Every one of the 13 names must be present (``require_all=False`` averages over the datasets
given instead, for partial runs; the result is then not ODinW13 and the key ``n_datasets``
says how many were averaged).

Returns ``{"AP": mean, "AP/<dataset>": AP of each dataset, "n_datasets": count}`` (fractions).
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ..errors import ResultsError
from ._breakdown import Breakdown, collecting, combine_parts, emit, wanted
from ._files import read_json_file

__all__ = ["ODINW13", "odinw"]

#: The 13 ODinW datasets (GLIP's ODinW13), by the names used as keys here.
ODINW13 = (
    "AerialMaritimeDrone",
    "Aquarium",
    "CottontailRabbits",
    "EgoHands",
    "NorthAmericaMushrooms",
    "Packages",
    "PascalVOC",
    "pistols",
    "pothole",
    "Raccoon",
    "ShellfishOpenImages",
    "thermalDogsAndPeople",
    "VehiclesOpenImages",
)


def _mapping(obj: Any, what: str) -> dict[str, Any]:
    if isinstance(obj, (str, Path)):
        path = Path(obj)
        if not path.exists():
            raise ResultsError(f"odinw: {what} manifest not found: {path}")
        # a folder or malformed JSON: read_json_file names the file and what is wrong
        data = read_json_file(path, f"odinw: {what} manifest")
        if not isinstance(data, dict):
            raise ResultsError(f"odinw: {what} manifest {path} must map dataset names to files")
        return {k: (path.parent / v if isinstance(v, str) and not Path(v).is_absolute() else v) for k, v in data.items()}
    if not isinstance(obj, dict):
        raise ResultsError(f"odinw: {what} must be a mapping dataset name -> file, got {type(obj).__name__}")
    return dict(obj)


def _flag(value: Any, name: str) -> bool:
    """A boolean option given as a bool or as text (``--set require_all=false``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ResultsError(f"odinw: option {name} must be true or false, got {value!r}")


def odinw(gt: Any, results: Any, backend: str = "fast", require_all: bool | str = True) -> dict[str, float]:
    """Per-dataset COCO box AP and their mean (see module docstring)."""
    from .coco import evaluate_coco

    require_all = _flag(require_all, "require_all")
    gts, res = _mapping(gt, "ground-truth"), _mapping(results, "results")
    unknown = sorted(set(gts) - set(ODINW13)) + sorted(set(res) - set(ODINW13))
    if unknown:
        raise ResultsError(f"odinw: unknown dataset name {unknown[0]!r}; expected names among {list(ODINW13)}")
    names = [n for n in ODINW13 if n in gts or n in res]
    for n in names:
        if n not in gts:
            raise ResultsError(f"odinw: results given for {n!r} but no ground truth")
        if n not in res:
            raise ResultsError(f"odinw: no results for dataset {n!r}")
    if require_all and len(names) != len(ODINW13):
        missing = [n for n in ODINW13 if n not in names]
        raise ResultsError(f"odinw: ODinW13 needs all 13 datasets; missing {missing} (require_all=False averages the ones given)")
    if not names:
        raise ResultsError("odinw: no datasets given")
    out: dict[str, float] = {}
    parts, want = {}, wanted()
    for n in names:
        gpath = str(gts[n]) if isinstance(gts[n], Path) else gts[n]
        rpath = str(res[n]) if isinstance(res[n], Path) else res[n]
        try:
            # the dataset's COCO breakdown, combined below (nothing is built when no one collects)
            with collecting() if want else nullcontext([]) as found:
                out[f"AP/{n}"] = evaluate_coco(gpath, rpath, "bbox", backend=backend)["AP"]
        except ResultsError as e:
            raise ResultsError(f"odinw dataset {n!r}: {e}") from None
        if found:
            parts[n] = found[0]
    if want and len(parts) == len(names):
        emit(per_dataset(parts))
    aps = [out[f"AP/{n}"] for n in names]
    return {"AP": float(sum(aps) / len(aps)), **out, "n_datasets": float(len(names))}


def per_dataset(parts: dict[str, Breakdown]) -> Breakdown:
    """ODinW's breakdown: the datasets' COCO breakdowns side by side (:func:`combine_parts`,
    disjoint units): images ``<dataset>/<image id>`` (the benchmark's sample ids) and categories
    ``<dataset>/<category id>``, each row with its ``part``; ``AP/<dataset>`` is the mean of the
    dataset's per-category AP (as COCO's own).

    The headline ``AP`` (the mean of the 13 dataset APs) gets no aggregate on purpose: the
    datasets have disjoint categories (CottontailRabbits, pothole and Raccoon have one each),
    so a resample of the pooled categories misses whole datasets in most draws and the mean
    over datasets is then undefined; only a resample within each dataset would keep it, which
    the schema's aggregates do not express. The per-image matching state
    (``breakdown_ap.npz``) is not kept either: it is per dataset.
    """
    return combine_parts(parts, shared_units=False, rename={"AP/{part}": "AP"})
