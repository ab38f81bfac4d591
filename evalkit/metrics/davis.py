"""DAVIS 2017 semi-supervised J&F (``davis2017-evaluation``) and Ref-DAVIS17.

Inputs (``davis_semi(gt, results)``):

* ``gt`` — a DAVIS root (``Annotations/<resolution>/<seq>/<frame>.png`` and
  ``ImageSets/2017/<subset>.txt``), or a folder of sequence folders of GT PNGs (every
  sub-folder is a sequence), or ``{seq: {frame_id: HxW uint8}}`` / ``{seq: TxHxW uint8}``.
* ``results`` — a folder ``<seq>/<frame_id>.png`` of indexed PNGs (value k = object k), or the
  same mappings.

Returned keys, as the official ``global_results-<set>.csv``: ``J&F-Mean``, ``J-Mean``,
``J-Recall``, ``J-Decay``, ``F-Mean``, ``F-Recall``, ``F-Decay`` (fractions). With
``per_object=True`` the per-object rows of ``per-sequence_results-<set>.csv`` are added as flat
keys ``seq/<sequence>_<k>/J-Mean`` and ``seq/<sequence>_<k>/F-Mean``; :func:`davis_semi_table`
returns the same rows (plus recall and decay) as a list of dicts.

Official semantics reproduced (master ac7c43f):

* The object count K of a sequence is the largest label in its **first** GT frame; GT value 255
  (void) becomes background, and void pixels are *not* excluded from J/F in the
  semi-supervised task. GT labels above K in later frames are not objects.
* The first and the last frame are not evaluated (``GT[:, 1:-1]``); only those result frames
  are read. A sequence with fewer than 3 frames has nothing to evaluate (the official code
  crashes); it is refused with a :class:`ResultsError`.
* A result label above K (255 included) aborts the official evaluation; here it is a
  ``ResultsError`` naming the frame. Objects absent from every result frame score as empty masks.
* Per-object M/R/D statistics, then J-Mean etc. = plain mean over *all objects of all
  sequences* (object-weighted); J&F-Mean = (J-Mean + F-Mean) / 2.
* Decay bins use the official ``uint8`` cast, which wraps for more than 256 evaluated frames
  (reproduced by default; ``fix_decay_wrap=True`` uses integer bins).

Sequences are evaluated in parallel processes (``workers``; 0 = one per CPU core).
"""
from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, collecting, combine_parts, emit, wanted, weighted
from ._files import folder_error, read_text_file
from ._masks_io import MaskSource
from .jf import ObjectScores, bound_pixels, db_statistics, disk, global_measures, jf_frame

__all__ = ["davis_semi", "davis_semi_table", "ref_davis", "evaluate_semi", "sequence_jf"]

def _resolve_gt(
    gt: Any, subset: str, resolution: str, sequences, annotations: str = "Annotations"
) -> tuple[MaskSource, list[str]]:
    if isinstance(gt, (str, os.PathLike)) and (Path(gt) / annotations).is_dir():
        root = Path(gt)
        src = MaskSource(root / annotations / resolution, "ground truth")
        if sequences is None:
            lst = root / "ImageSets" / "2017" / f"{subset}.txt"
            if not lst.is_file():
                raise ResultsError(f"ground truth: sequence list {lst} is missing")
            sequences = [x.strip() for x in read_text_file(lst, "ground truth sequence list").splitlines() if x.strip()]
    else:
        src = MaskSource(gt, "ground truth")
    if sequences is None:
        sequences = src.sequences()
    elif isinstance(sequences, str):
        sequences = [s for s in sequences.split(",") if s]
    return src, list(sequences)


def sequence_jf(gt: MaskSource, res: MaskSource, seq: str, bound_th: float = 0.008) -> tuple[np.ndarray, np.ndarray]:
    """Per-object, per-frame J and F of one sequence: two ``K x T'`` float64 arrays, ``T'`` =
    number of GT frames minus the first and the last."""
    ids = gt.dense_frame_ids(seq)
    if not ids:
        raise ResultsError(f"ground truth: sequence {seq!r} has no annotation PNGs")
    first = gt.read(seq, ids[0])
    size = first.shape
    first = np.where(first == 255, 0, first)
    n_obj = int(first.max()) if first.size else 0
    eval_ids = ids[1:-1]
    if not eval_ids:
        raise ResultsError(
            f"ground truth: sequence {seq!r} has {len(ids)} frame(s); the semi-supervised "
            f"protocol drops the first and last frame and needs at least 3"
        )
    radius = bound_pixels(size, bound_th)
    kernel = disk(radius)
    J = np.empty((n_obj, len(eval_ids)))
    F = np.empty((n_obj, len(eval_ids)))
    for t, fid in enumerate(eval_ids):
        # GT void (255) and GT labels above K never equal an object id 1..K: no need to clear
        g = gt.read(seq, fid, size)
        r = res.read(seq, fid, size)
        top = int(r.max()) if r.size else 0
        if top > n_obj:
            raise ResultsError(
                f"results {res.path(seq, fid)}: object id {top} but sequence {seq!r} has only "
                f"{n_obj} object(s) in its first ground-truth frame"
            )
        J[:, t], F[:, t] = jf_frame(g, r, n_obj, kernel, radius)
    return J, F


# -- parallel driver ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _SequenceJob:
    """What every worker needs to score one sequence (handed to the workers once, by fork)."""

    gt: MaskSource
    res: MaskSource
    bound_th: float

    def __call__(self, seq: str) -> tuple[np.ndarray, np.ndarray]:
        return sequence_jf(self.gt, self.res, seq, self.bound_th)


def _map_sequences(job: _SequenceJob, seqs: list[str], workers: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[job(s) for s in seqs]``, in ``workers`` forked processes where fork is available.

    The job travels to the workers as the argument of their fork-started process, so its
    in-memory inputs are inherited, never pickled; only sequence names go out and the
    ``K x T'`` results come back."""
    if workers <= 0:
        workers = os.cpu_count() or 1
    workers = min(workers, len(seqs))
    import multiprocessing as mp

    if workers <= 1 or "fork" not in mp.get_all_start_methods():
        return [job(s) for s in seqs]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                             initializer=_SequenceWorker.start, initargs=(job,)) as ex:
        return list(ex.map(_SequenceWorker.run, seqs, chunksize=1))


class _SequenceWorker:
    """The job of the current worker process, set once by the pool's initializer (in the
    child only: the parent's copy stays None)."""

    job: _SequenceJob | None = None

    @classmethod
    def start(cls, job: _SequenceJob) -> None:
        cls.job = job

    @classmethod
    def run(cls, seq: str) -> tuple[np.ndarray, np.ndarray]:
        return cls.job(seq)


def evaluate_semi(
    gt: Any,
    results: Any,
    *,
    subset: str = "val",
    resolution: str = "480p",
    sequences=None,
    bound_th: float = 0.008,
    fix_decay_wrap: bool = False,
    workers: int = 0,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Global measures and per-object rows (``Sequence`` = ``<seq>_<k>``, k from 1)."""
    gt_src, seqs = _resolve_gt(gt, subset, resolution, sequences)
    res_src = MaskSource(results, "results")
    for s in seqs:
        if not res_src.has_sequence(s):
            raise ResultsError(f"results: sequence {s!r} is missing (expected {res_src.path(s, '<frame>')})")
    per_seq = _map_sequences(_SequenceJob(gt_src, res_src, bound_th), seqs, workers)
    wrap = not fix_decay_wrap
    objects = [
        ObjectScores(f"{seq}_{k + 1}", db_statistics(J[k], uint8_wrap=wrap), db_statistics(F[k], uint8_wrap=wrap))
        for seq, (J, F) in zip(seqs, per_seq)
        for k in range(J.shape[0])
    ]
    if not objects:
        raise ResultsError("ground truth: no object to evaluate (every first frame is empty)")
    if wanted():
        emit(per_sequence(seqs, [J.shape[0] for J, _ in per_seq], objects))
    return global_measures(objects), [o.row() for o in objects]


#: per-sequence field -> (statistic of ObjectScores, official global key it rebuilds)
_SEQ_FIELDS = {"J": ("J", "mean", "J-Mean"), "F": ("F", "mean", "F-Mean"), "J-Recall": ("J", "recall", "J-Recall"),
               "F-Recall": ("F", "recall", "F-Recall"), "J-Decay": ("J", "decay", "J-Decay"),
               "F-Decay": ("F", "decay", "F-Decay")}


def per_sequence(seqs: list[str], n_objects: list[int], objects: list[ObjectScores]) -> Breakdown:
    """Per-sequence breakdown from the per-object statistics (the rows of the toolkit's
    ``per-sequence_results-<set>.csv``, grouped by sequence): each statistic is the mean over
    the sequence's objects, ``J&F`` = (J + F) / 2, ``n_objects`` the object count, and
    ``objects`` keeps the per-object ``J`` / ``F`` means. The official global numbers are means
    over *objects*, so they are rebuilt as object-weighted means of the sequence values."""
    samples: dict[str, dict[str, Any]] = {}
    start = 0
    for seq, n in zip(seqs, n_objects):
        objs = objects[start:start + n]
        start += n
        if not objs:  # no object in the first frame: nothing evaluated, not in the means
            continue
        row: dict[str, Any] = {f: float(np.mean([getattr(getattr(o, m), stat) for o in objs]))
                               for f, (m, stat, _) in _SEQ_FIELDS.items()}
        row["J&F"] = (row["J"] + row["F"]) / 2
        row["n_objects"] = n
        row["objects"] = {o.name.rpartition("_")[2]: {"J": o.J.mean, "F": o.F.mean} for o in objs}
        samples[seq] = row
    aggregates = {key: weighted(f, "n_objects") for f, (_, _, key) in _SEQ_FIELDS.items()}
    aggregates["J&F-Mean"] = weighted("J&F", "n_objects")
    fields = {"J&F": "(J + F) / 2 of the sequence", "n_objects": "objects of the first GT frame",
              "objects": "per object (label k): J and F means over the evaluated frames",
              **{f: f"mean over the sequence's objects of the per-object {m} {stat}"
                 for f, (m, stat, _) in _SEQ_FIELDS.items()}}
    return Breakdown("sequence", "J&F", True, samples, {}, fields, aggregates)


def _per_annotator(parts: dict[str, Breakdown]) -> Breakdown:
    """Ref-DAVIS's breakdown: the annotator splits score the same sequences, so a unit is a
    sequence and its row holds each split's per-sequence fields as ``<split>/<field>``
    (:func:`combine_parts`, shared units); ``<split>/J&F`` etc. are that split's object-weighted
    means and ``J&F``, ``J``, ``F`` the ``average`` of them over the splits, as the headline.
    The sequence's own ``J&F`` (mean over the splits that have it; not official) sorts them."""
    bd = combine_parts(parts, shared_units=True,
                       rename={"{part}/J&F": "J&F-Mean", "{part}/J": "J-Mean", "{part}/F": "F-Mean"},
                       combined={"J&F": "J&F-Mean", "J": "J-Mean", "F": "F-Mean"}, score_key="J&F")
    for row in bd.samples.values():
        vals = [row[f"{n}/J&F"] for n in parts if row.get(f"{n}/J&F") is not None]
        row["J&F"] = float(np.mean(vals)) if vals else None
    bd.fields["J&F"] = "mean over the annotator splits of the sequence's J&F (not official: it sorts the sequences)"
    return bd


def davis_semi(gt: Any, results: Any, *, per_object: bool = False, **options: Any) -> dict[str, float]:
    """DAVIS-2017 semi-supervised J&F (see the module docstring for inputs and quirks).

    Options: ``subset`` (``val``), ``resolution`` (``480p``), ``sequences`` (list or
    comma-separated), ``bound_th`` (0.008), ``fix_decay_wrap`` (False), ``workers`` (0 = all
    cores), ``per_object`` (add ``seq/<seq>_<k>/J-Mean`` and ``.../F-Mean`` keys).
    """
    out, rows = evaluate_semi(gt, results, **options)
    if per_object:
        for r in rows:
            out[f"seq/{r['Sequence']}/J-Mean"] = r["J-Mean"]
            out[f"seq/{r['Sequence']}/F-Mean"] = r["F-Mean"]
    return out


def davis_semi_table(gt: Any, results: Any, **options: Any) -> list[dict[str, Any]]:
    """Per-object rows ``{"Sequence": "<seq>_<k>", "J-Mean", "J-Recall", "J-Decay", "F-Mean", ...}``."""
    return evaluate_semi(gt, results, **options)[1]


def ref_davis(gt: Any, results: Any, *, splits=None, task: str = "unsupervised", split_gt=None,
              **options: Any) -> dict[str, float]:
    """Ref-DAVIS17: the DAVIS J&F run once per referring-annotator split, then averaged.

    As UniRef documents it (and UNINEXT/ReferFormer-style codebases do it): the results of
    each of the 4 annotators' expressions are written as a DAVIS results folder
    (``<seq>/<frame>.png``, one label per referred object) and scored by
    ``davis2017-evaluation``'s ``evaluation_method.py`` *without* ``--task``, i.e. with its
    default ``unsupervised`` task on the Ref-DAVIS copy of DAVIS-17 val
    (``Annotations_unsupervised``; see :mod:`evalkit.metrics.davis_unsup`); the 4 global
    results are averaged. ``task="semi-supervised"`` scores each split with the
    semi-supervised protocol instead.

    Args:
        results: a folder containing one folder per split, or ``{split: results}``.
        splits: the split names (default: every sub-folder, sorted, e.g. ``refdavis-val-0`` ..
            ``refdavis-val-3`` or ``anno_0`` .. ``anno_3``).
        split_gt: ``{split: ground truth}`` scoring a split against its own ground truth
            instead of ``gt`` (a partial run: each annotator's GT restricted to the objects
            whose expressions were run).

    Returns:
        ``J&F``, ``J``, ``F`` (means over the splits) and ``<split>/J&F``, ``<split>/J``,
        ``<split>/F`` for each split.
    """
    if task == "unsupervised":
        from .davis_unsup import davis_unsup as run
    elif task == "semi-supervised":
        run = davis_semi
    else:
        raise ResultsError(f"ref-davis: task must be 'unsupervised' or 'semi-supervised', got {task!r}")
    if isinstance(results, (str, os.PathLike)):
        root = Path(results)
        if not root.is_dir():
            raise ResultsError(folder_error(root, "results"))
        names = splits or sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        runs = {n: root / n for n in names}
    else:
        runs = dict(results) if splits is None else {n: results[n] for n in splits}
    if not runs:
        raise ResultsError("results: no annotator split folder found")
    if task == "unsupervised":
        options.pop("workers", None)
        options.pop("per_object", None)
    out: dict[str, float] = {}
    jf, j, f = [], [], []
    parts, want = {}, wanted()
    for name, res in runs.items():
        # this split's breakdown, combined below (nothing is built when no one collects)
        with collecting() if want else nullcontext([]) as found:
            r = run((split_gt or {}).get(name, gt), res, **options)
        if found:
            parts[name] = found[0]
        out[f"{name}/J&F"], out[f"{name}/J"], out[f"{name}/F"] = r["J&F-Mean"], r["J-Mean"], r["F-Mean"]
        jf.append(r["J&F-Mean"])
        j.append(r["J-Mean"])
        f.append(r["F-Mean"])
    if want and len(parts) == len(runs):
        emit(_per_annotator(parts))
    return {"J&F": float(np.mean(jf)), "J": float(np.mean(j)), "F": float(np.mean(f)), **out}
