"""MOTChallenge box tracking and MOTS: CLEAR, Identity and HOTA, computed by TrackEval.

The official evaluator of MOTChallenge, MOTS-Challenge and KITTI(-MOTS) is TrackEval
(Luiten et al.), on PyPI as ``trackeval``; these functions are thin wrappers around it:
they validate the text files first (so a malformed row is reported as ``file:line``), lay the
files out the way TrackEval expects in a temporary folder of links, run
``trackeval.Evaluator`` quietly and return the combined-sequence numbers.

Metrics: CLEAR MOT (Bernardin & Stiefelhagen 2008), Identity / IDF1 (Ristani et al. 2016),
HOTA (Luiten et al., IJCV 2021). Values are fractions (TrackEval prints them ×100); HOTA-family
keys are the mean over the 19 α thresholds, as TrackEval summarises them; counts (``CLR_FP``,
``IDSW``, ``Frag`` ...) are integers.

Inputs:

- ``gt``: a folder of sequences in the MOTChallenge layout (``<seq>/gt/gt.txt``, with an
  optional ``<seq>/seqinfo.ini`` giving ``seqLength``), a folder holding ``<seq>/gt.txt`` or
  ``<seq>.txt``, or a dict ``{seq: path}``.
- ``results``: a folder holding ``<seq>.txt`` (the submission layout; a ``data/`` sub-folder is
  also accepted) or a dict ``{seq: path}``. Every ground-truth sequence needs a results file
  (TrackEval's rule); a results file for an unknown sequence is an error.

Sequence length: ``seqLength`` of ``seqinfo.ini`` when present, otherwise the last frame found
in the ground truth or the results.
"""
from __future__ import annotations

import configparser
import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from ._breakdown import Breakdown, emit, ratio, wanted
from .scalabel_io import rle_checked

__all__ = ["mot_challenge", "mots_challenge", "sequence_files", "read_rows", "COUNT_KEYS"]

#: TrackEval fields that are counts (returned as int; TrackEval keeps some as floats)
COUNT_KEYS = ("CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "IDTP", "IDFN", "IDFP",
              "HOTA_TP", "HOTA_FN", "HOTA_FP")


def sequence_files(src: Any, what: str, gt: bool) -> dict[str, Path]:
    """``{sequence: text file}`` for a folder in one of the accepted layouts, or a dict."""
    if isinstance(src, dict):
        out = {str(k): Path(v) for k, v in src.items()}
    else:
        root = Path(src)
        if root.is_file():
            raise ResultsError(f"{what}: expected a folder of sequences at {root}, found a file")
        if not root.is_dir():
            raise ResultsError(f"{what}: expected a folder of sequences or a {{seq: file}} dict, got {root}")
        if not gt and (root / "data").is_dir() and not any(root.glob("*.txt")):
            root = root / "data"
        out = {p.stem: p for p in sorted(root.glob("*.txt"))}
        if gt:
            for d in sorted(p for p in root.iterdir() if p.is_dir()):
                for cand in (d / "gt" / "gt.txt", d / "gt.txt"):
                    if cand.is_file():
                        out[d.name] = cand
                        break
    for seq, p in out.items():
        if not p.is_file():
            raise ResultsError(f"{what}: file for sequence {seq!r} not found: {p}")
    if gt and not out:
        raise ResultsError(f"{what}: no sequences found in {src} (expected <seq>/gt/gt.txt or <seq>.txt)")
    return out


def read_rows(path: Path, min_cols: int, numeric_cols: int, what: str,
              box_cols: tuple[int, int] | None = None) -> list[list[str]]:
    """Rows of a MOTChallenge-style text file, split on commas or whitespace.

    Checks that the file is UTF-8 text, that each row has at least ``min_cols`` fields, that
    the first ``numeric_cols`` are numbers, that the frame (column 0) is an integer >= 1 and
    the track id (column 1) an integer >= 0, and (``box_cols``: the width and height columns)
    that box sizes are not negative; errors name ``file:line``. TrackEval itself indexes an id
    map with the ids (``MotChallenge2DBox.get_preprocessed_seq_data``), so a negative id either
    crashes there (IndexError) or silently aliases another track.
    """
    rows = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ResultsError(f"{what} {path}:{n}: not UTF-8 text (byte {raw[e.start]:#04x} "
                                   f"at column {e.start + 1}); expected MOTChallenge text rows") from None
            s = line.strip()
            if not s:
                continue
            parts = [p for p in (s.split(",") if "," in s else s.split())]
            parts = [p.strip() for p in parts]
            if parts and parts[-1] == "":
                parts = parts[:-1]
            if len(parts) < min_cols:
                raise ResultsError(f"{what} {path}:{n}: expected at least {min_cols} fields, got {len(parts)}: {s[:80]!r}")
            try:
                vals = [float(p) for p in parts[:numeric_cols]]
            except ValueError:
                raise ResultsError(f"{what} {path}:{n}: non-numeric field in {s[:80]!r}") from None
            if not np.all(np.isfinite(vals)):
                raise ResultsError(f"{what} {path}:{n}: non-finite value in {s[:80]!r}")
            if vals[0] != int(vals[0]) or vals[0] < 1:
                raise ResultsError(f"{what} {path}:{n}: frame must be an integer >= 1, got {parts[0]!r}")
            if vals[1] != int(vals[1]) or vals[1] < 0:
                raise ResultsError(f"{what} {path}:{n}: track id must be an integer >= 0, got {parts[1]!r}")
            if box_cols is not None and (vals[box_cols[0]] < 0 or vals[box_cols[1]] < 0):
                raise ResultsError(f"{what} {path}:{n}: box width/height must be >= 0, got "
                                   f"{parts[box_cols[0]]!r} x {parts[box_cols[1]]!r}")
            rows.append(parts)
    return rows


def _seq_length(gt_file: Path, frames: list[int]) -> int:
    for ini in (gt_file.parent.parent / "seqinfo.ini", gt_file.parent / "seqinfo.ini"):
        if ini.is_file():
            cp = configparser.ConfigParser()
            cp.read(ini)
            try:
                return int(cp["Sequence"]["seqLength"])
            except (KeyError, ValueError):
                raise ResultsError(f"{ini}: [Sequence] seqLength missing or not an integer") from None
    return max(frames, default=1)


def _prepare(gt: Any, results: Any, check_gt, check_res, tmp: Path) -> tuple[dict[str, int], Path, Path]:
    """Validate files, link them into TrackEval's layout under ``tmp``; returns ``SEQ_INFO``."""
    gts = sequence_files(gt, "ground truth", gt=True)
    res = sequence_files(results, "results", gt=False)
    unknown = sorted(set(res) - set(gts))
    if unknown:
        raise ResultsError(
            f"results: files for sequences not in the ground truth: {unknown[:5]} "
            f"(known: {sorted(gts)[:10]}); first: {res[unknown[0]]}"
        )
    missing = sorted(set(gts) - set(res))
    if missing:
        raise ResultsError(f"results: no results file for sequences {missing[:5]} (TrackEval needs one per sequence)")
    seq_info = {}
    gt_root, tr_root = tmp / "gt", tmp / "trackers" / "tracker" / "data"
    tr_root.mkdir(parents=True)
    for seq in sorted(gts):
        g_frames = check_gt(gts[seq])
        r_frames = check_res(res[seq])
        length = _seq_length(gts[seq], g_frames + r_frames)
        late = [f for f in r_frames if f > length]
        if late:
            raise ResultsError(f"results {res[seq]}: frame {late[0]} is beyond the sequence length {length} of {seq!r}")
        seq_info[seq] = length
        (gt_root / seq / "gt").mkdir(parents=True)
        os.symlink(gts[seq].resolve(), gt_root / seq / "gt" / "gt.txt")
        os.symlink(res[seq].resolve(), tr_root / f"{seq}.txt")
    return seq_info, gt_root, tmp / "trackers"


def _evaluate(dataset, metric_names: list[str]) -> dict[str, float]:
    import trackeval

    metrics = {"HOTA": trackeval.metrics.HOTA, "CLEAR": trackeval.metrics.CLEAR, "Identity": trackeval.metrics.Identity}
    unknown = [m for m in metric_names if m not in metrics]
    if unknown:
        raise ResultsError(f"unknown metric families {unknown}; choose from {sorted(metrics)}")
    evaluator = trackeval.Evaluator(
        {
            "USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
            "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "LOG_ON_ERROR": None,
            "BREAK_ON_ERROR": True,
        }
    )
    fams = [metrics[m]({"PRINT_CONFIG": False}) for m in metric_names]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            res, _ = evaluator.evaluate([dataset], fams)
    except trackeval.utils.TrackEvalException as e:
        raise ResultsError(f"TrackEval rejected the input: {e}") from None
    per_tracker = res[dataset.get_name()]["tracker"]
    if wanted():
        emit(per_sequence({s: v["pedestrian"] for s, v in per_tracker.items() if s != "COMBINED_SEQ"}))
    combined = per_tracker["COMBINED_SEQ"]["pedestrian"]
    out: dict[str, float] = {}
    for fam in combined.values():
        for k, v in fam.items():
            v = np.asarray(v)
            if k in COUNT_KEYS and v.ndim == 0:
                out[k] = int(v)
            else:  # HOTA-family arrays over the 19 alphas are summarised by their mean
                out[k] = float(v.mean())
    return out


def per_sequence(seqs: dict[str, dict]) -> Breakdown:
    """TrackEval's per-sequence results (``res[...]["tracker"][seq]``, the rows of its
    ``pedestrian_detailed.csv``) as a breakdown: ``HOTA``, ``DetA``, ``AssA`` (means over the
    19 alphas), ``MOTA``, ``IDF1`` and the counts they come from.

    TrackEval combines sequences by summing counts (``CLEAR.combine_sequences``,
    ``Identity.combine_sequences``), so MOTA = sum(TP - FP - IDSW) / sum(TP + FN) and IDF1 =
    sum(IDTP) / sum(IDTP + (IDFP + IDFN) / 2) are exact ratios of per-sequence sums; HOTA
    combines per alpha with AssA weighted by HOTA_TP and a square root, which no single ratio
    rebuilds, so it has no aggregate (per-sequence values only)."""
    samples = {}
    for seq, fams in seqs.items():
        row: dict[str, Any] = {}
        if "HOTA" in fams:
            row.update({k: float(np.mean(fams["HOTA"][k])) for k in ("HOTA", "DetA", "AssA")})
        if "CLEAR" in fams:
            c = fams["CLEAR"]
            row.update(MOTA=float(c["MOTA"]), mota_num=float(c["CLR_TP"] - c["CLR_FP"] - c["IDSW"]),
                       n_gt=float(c["CLR_TP"] + c["CLR_FN"]))
        if "Identity" in fams:
            i = fams["Identity"]
            row.update(IDF1=float(i["IDF1"]), IDTP=float(i["IDTP"]),
                       idf1_den=float(i["IDTP"] + 0.5 * i["IDFP"] + 0.5 * i["IDFN"]))
        samples[seq] = row
    first = next(iter(samples.values()), {})
    score = next((k for k in ("HOTA", "MOTA", "IDF1") if k in first), None)
    aggregates = {}
    if "MOTA" in first:
        aggregates["MOTA"] = ratio("mota_num", "n_gt")
    if "IDF1" in first:
        aggregates["IDF1"] = ratio("IDTP", "idf1_den")
    fields = {"HOTA": "HOTA of the sequence (mean over the 19 alphas)", "DetA": "DetA, mean over alphas",
              "AssA": "AssA, mean over alphas", "MOTA": "MOTA of the sequence", "IDF1": "IDF1 of the sequence",
              "mota_num": "CLR_TP - CLR_FP - IDSW", "n_gt": "CLR_TP + CLR_FN (ground-truth boxes)",
              "IDTP": "identity true positives", "idf1_den": "IDTP + (IDFP + IDFN) / 2"}
    return Breakdown("sequence", score, True, samples, {}, {k: v for k, v in fields.items() if k in first}, aggregates)


def _frames_of_rows(rows: list[list[str]]) -> list[int]:
    return [int(float(r[0])) for r in rows]


def mot_challenge(
    gt: Any,
    results: Any,
    benchmark: str = "MOT17",
    do_preproc: bool = True,
    metrics: tuple[str, ...] = ("HOTA", "CLEAR", "Identity"),
) -> dict[str, float]:
    """MOTChallenge 2D box tracking (TrackEval ``MotChallenge2DBox``, class pedestrian).

    Rows: ``frame, id, x, y, w, h, conf[, class, visibility, ...]`` (x, y top-left, pixels).

    Args:
        benchmark: ``MOT15``/``MOT16``/``MOT17``/``MOT20``; selects TrackEval's preprocessing
            (none for MOT15).
        do_preproc: TrackEval's preprocessing for MOT16/17/20: drops ground truth of distractor
            classes and with ``zero_marked`` (column 7 = 0), and predictions matched to
            distractors. It needs the ground-truth class column (column 8).
        metrics: metric families to compute.
    """
    import trackeval

    def check_gt(p: Path) -> list[int]:
        return _frames_of_rows(read_rows(p, 6, 6, "ground truth", box_cols=(4, 5)))

    def check_res(p: Path) -> list[int]:
        return _frames_of_rows(read_rows(p, 6, 6, "results", box_cols=(4, 5)))

    with tempfile.TemporaryDirectory() as tmp:
        seq_info, gt_root, tr_root = _prepare(gt, results, check_gt, check_res, Path(tmp))
        dataset = trackeval.datasets.MotChallenge2DBox(
            {
                "GT_FOLDER": str(gt_root), "TRACKERS_FOLDER": str(tr_root), "SKIP_SPLIT_FOL": True,
                "SEQ_INFO": seq_info, "TRACKERS_TO_EVAL": ["tracker"], "BENCHMARK": benchmark,
                "DO_PREPROC": bool(do_preproc), "PRINT_CONFIG": False, "OUTPUT_FOLDER": str(Path(tmp) / "out"),
            }
        )
        return _evaluate(dataset, list(metrics))


def mots_challenge(
    gt: Any, results: Any, metrics: tuple[str, ...] = ("HOTA", "CLEAR", "Identity")
) -> dict[str, float]:
    """MOTS-Challenge (TrackEval ``MOTSChallenge``, class pedestrian; mask IoU similarity).

    Rows: ``frame id class_id img_height img_width rle`` (space-separated; class 2 = pedestrian,
    10 = ignore region; COCO compressed RLE). Also reported under the MOTS names:
    ``sMOTSA`` (= ``sMOTA``), ``MOTSA`` (= ``MOTA``), ``MOTSP`` (= ``MOTP``).

    TrackEval semantics kept: predictions left unmatched whose mask lies inside the ignore
    region by IoA > 0.5 are removed; matching needs mask IoU >= 0.5 (up to eps), which for
    non-overlapping masks only differs from the original ``mots_tools`` (IoU > 0.5) at exactly 0.5.
    """
    import trackeval

    def check(p: Path, what: str) -> list[int]:
        rows = read_rows(p, 6, 5, what)
        sizes = set()
        for n, r in enumerate(rows, 1):
            rle_checked({"size": [int(float(r[3])), int(float(r[4]))], "counts": r[5]}, f"{what} {p} row {n}")
            sizes.add((r[3], r[4]))
        if len(sizes) > 1:
            raise ResultsError(f"{what} {p}: masks of different sizes {sorted(sizes)[:3]} in one sequence")
        return _frames_of_rows(rows)

    with tempfile.TemporaryDirectory() as tmp:
        seq_info, gt_root, tr_root = _prepare(
            gt, results, lambda p: check(p, "ground truth"), lambda p: check(p, "results"), Path(tmp)
        )
        dataset = trackeval.datasets.MOTSChallenge(
            {
                "GT_FOLDER": str(gt_root), "TRACKERS_FOLDER": str(tr_root), "SKIP_SPLIT_FOL": True,
                "SEQ_INFO": seq_info, "TRACKERS_TO_EVAL": ["tracker"], "PRINT_CONFIG": False,
                "OUTPUT_FOLDER": str(Path(tmp) / "out"),
            }
        )
        out = _evaluate(dataset, list(metrics))
    if "sMOTA" in out:
        out.update(sMOTSA=out["sMOTA"], MOTSA=out["MOTA"], MOTSP=out["MOTP"])
    return out
