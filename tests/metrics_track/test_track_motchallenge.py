"""MOTChallenge / MOTS wrappers: equal to TrackEval run on the official folder layout."""
import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import trackeval

from evalkit.errors import ResultsError
from evalkit.metrics import compute

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
TUD = SHARED / "fixtures" / "mot15-tud"
KEYS = ["HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "sMOTA", "IDF1", "IDP", "IDR", "CLR_FP", "CLR_FN",
        "IDSW", "MT", "PT", "ML", "Frag"]


def _official(root: Path, seqs: dict, benchmark: str, dataset="MotChallenge2DBox", split="train"):
    """TrackEval on ``root/gt/<BENCH>-<split>/<seq>/{gt/gt.txt,seqinfo.ini}`` + seqmap, as documented."""
    bench = benchmark if dataset == "MotChallenge2DBox" else "MOTS"
    (root / "gt" / "seqmaps").mkdir(parents=True)
    (root / "gt" / "seqmaps" / f"{bench}-{split}.txt").write_text("name\n" + "".join(f"{s}\n" for s in seqs))
    for s, (g, r, n) in seqs.items():
        d = root / "gt" / f"{bench}-{split}" / s
        (d / "gt").mkdir(parents=True)
        (d / "gt" / "gt.txt").write_text(Path(g).read_text())
        (d / "seqinfo.ini").write_text(f"[Sequence]\nname={s}\nseqLength={n}\n")
        t = root / "tr" / f"{bench}-{split}" / "trk" / "data"
        t.mkdir(parents=True, exist_ok=True)
        (t / f"{s}.txt").write_text(Path(r).read_text())
    cfg = {"GT_FOLDER": str(root / "gt"), "TRACKERS_FOLDER": str(root / "tr"), "PRINT_CONFIG": False,
           "SPLIT_TO_EVAL": split}
    if dataset == "MotChallenge2DBox":
        cfg["BENCHMARK"] = benchmark
    ds = getattr(trackeval.datasets, dataset)(cfg)
    ev = trackeval.Evaluator({"PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
                              "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
                              "LOG_ON_ERROR": None})
    ms = [m({"PRINT_CONFIG": False}) for m in (trackeval.metrics.HOTA, trackeval.metrics.CLEAR, trackeval.metrics.Identity)]
    with contextlib.redirect_stdout(io.StringIO()):
        res, _ = ev.evaluate([ds], ms)
    out = {}
    for fam in res[ds.get_name()]["trk"]["COMBINED_SEQ"]["pedestrian"].values():
        out.update({k: float(np.mean(v)) for k, v in fam.items()})
    return out


def _same(ours, ref):
    for k in KEYS:
        assert ours[k] == pytest.approx(ref[k], abs=1e-12), k


@pytest.mark.skipif(not TUD.is_dir(), reason="../shared/fixtures is absent")
def test_mot15_tud(tmp_path):
    seqs = {s: TUD / s / "gt.txt" for s in ("TUD-Campus", "TUD-Stadtmitte")}
    res = {s: TUD / s / "test.txt" for s in seqs}
    ours = compute("mot-challenge", seqs, res, benchmark="MOT15")
    lengths = {s: max(int(float(l.split(",")[0])) for l in open(p) if l.strip()) for s, p in seqs.items()}
    ref = _official(tmp_path, {s: (seqs[s], res[s], lengths[s]) for s in seqs}, "MOT15")
    _same(ours, ref)
    # the numbers TrackEval and py-motmetrics agree on (motmetrics' own test expectations)
    assert ours["MOTA"] == pytest.approx(0.555116, abs=1e-6) and ours["IDF1"] == pytest.approx(0.624296, abs=1e-6)
    assert (ours["IDSW"], ours["CLR_FP"], ours["CLR_FN"], ours["MT"], ours["PT"], ours["ML"], ours["Frag"]) == (
        14, 58, 602, 6, 10, 2, 13)
    assert ours["HOTA"] == pytest.approx(0.399957, abs=1e-6)


def _rand_seq(rng, n_frames, n_obj, mot17: bool):
    gt, tr = [], []
    pos = rng.uniform(0, 400, size=(n_obj, 2))
    ids = np.arange(1, n_obj + 1)
    for t in range(1, n_frames + 1):
        pos += rng.normal(0, 4, size=pos.shape)
        if rng.random() < 0.1 and t > 3:
            continue  # a frame with no annotation at all
        for o in range(n_obj):
            if rng.random() < 0.15:
                continue
            x, y = pos[o]
            cls = 1 if not mot17 or rng.random() > 0.1 else int(rng.choice([2, 7, 8, 12]))
            zero = 0 if mot17 and rng.random() < 0.05 else 1
            gt.append(f"{t},{o + 1},{x:.2f},{y:.2f},40,80,{zero},{cls},1.0" + ("" if mot17 else ",-1"))
            if rng.random() < 0.8:
                if rng.random() < 0.05:
                    ids[o] = ids.max() + 1
                j = rng.normal(0, 6, 4)
                tr.append(f"{t},{ids[o]},{x + j[0]:.2f},{y + j[1]:.2f},{40 + j[2]:.2f},{80 + j[3]:.2f},0.9,-1,-1,-1")
        for i in range(rng.poisson(0.5)):
            tr.append(f"{t},{900 + 10 * t + i},{rng.uniform(0, 400):.2f},{rng.uniform(0, 400):.2f},30,60,0.5,-1,-1,-1")
    return "\n".join(gt) + "\n", "\n".join(tr) + ("\n" if tr else "")


@pytest.mark.parametrize("seed", range(6))
def test_random_sequences_equal_trackeval_layout(tmp_path, seed):
    rng = np.random.default_rng(seed)
    mot17 = seed % 2 == 1
    seqs, gt_dir, res_dir = {}, tmp_path / "mine" / "gt", tmp_path / "mine" / "res"
    res_dir.mkdir(parents=True)
    for k in range(int(rng.integers(1, 4))):
        s = f"SEQ-{k:02d}"
        g, r = _rand_seq(rng, int(rng.integers(5, 30)), int(rng.integers(1, 8)), mot17)
        if seed == 2 and k == 0:
            r = ""  # empty predictions
        if seed == 4 and k == 0:
            g = ""  # empty ground truth: every prediction is a false positive
        n = int(rng.integers(30, 35))
        (gt_dir / s / "gt").mkdir(parents=True)
        (gt_dir / s / "gt" / "gt.txt").write_text(g)
        (gt_dir / s / "seqinfo.ini").write_text(f"[Sequence]\nseqLength={n}\n")
        (res_dir / f"{s}.txt").write_text(r)
        seqs[s] = (gt_dir / s / "gt" / "gt.txt", res_dir / f"{s}.txt", n)
    bench = "MOT17" if mot17 else "MOT15"
    ours = compute("mot-challenge", gt_dir, res_dir, benchmark=bench)
    _same(ours, _official(tmp_path / "official", seqs, bench))


def test_bad_rows_and_sequences(tmp_path):
    gt = tmp_path / "gt"
    (gt / "A" / "gt").mkdir(parents=True)
    (gt / "A" / "gt" / "gt.txt").write_text("1,1,0,0,10,10,1,1,1\n2,1,0,0,10,10,1,1,1\n")
    res = tmp_path / "res"
    res.mkdir()
    (res / "A.txt").write_text("1,1,0,0,10,10,1\n2,1,0,zero,10,10,1\n")
    with pytest.raises(ResultsError, match=r"A.txt:2: non-numeric"):
        compute("mot-challenge", gt, res)
    (res / "A.txt").write_text("1,1,0,0,10\n")
    with pytest.raises(ResultsError, match=r"A.txt:1: expected at least 6 fields"):
        compute("mot-challenge", gt, res)
    (res / "A.txt").write_text("0,1,0,0,10,10,1\n")
    with pytest.raises(ResultsError, match=r"A.txt:1: frame must be an integer >= 1"):
        compute("mot-challenge", gt, res)
    (res / "A.txt").write_text("1,1,0,0,10,10,1\n1,1,5,5,10,10,1\n")
    with pytest.raises(ResultsError, match="same ID more than once in a single timestep"):
        compute("mot-challenge", gt, res)
    (res / "A.txt").write_text("1,1,0,0,10,10,1\n")
    (res / "B.txt").write_text("1,1,0,0,10,10,1\n")
    with pytest.raises(ResultsError, match=r"sequences not in the ground truth: \['B'\]"):
        compute("mot-challenge", gt, res)
    (res / "B.txt").unlink()
    (res / "A.txt").unlink()
    with pytest.raises(ResultsError, match=r"no results file for sequences \['A'\]"):
        compute("mot-challenge", gt, res)
    (gt / "A" / "seqinfo.ini").write_text("[Sequence]\nseqLength=2\n")
    (res / "A.txt").write_text("3,1,0,0,10,10,1\n")
    with pytest.raises(ResultsError, match="frame 3 is beyond the sequence length 2"):
        compute("mot-challenge", gt, res)


# -- MOTS --------------------------------------------------------------------------------------------
def _rle_line(t, tid, cls, m):
    from pycocotools import mask as mu

    r = mu.encode(np.asfortranarray(m.astype(np.uint8)))
    return f"{t} {tid} {cls} {m.shape[0]} {m.shape[1]} {r['counts'].decode()}"


def _mots_seq(rng, n_frames, n_obj, shape=(60, 80)):
    gt, tr = [], []
    for t in range(1, n_frames + 1):
        occupied = np.zeros(shape, bool)
        for o in range(n_obj):
            y, x = 12 * (o // 4) + 2, 18 * (o % 4) + 2
            m = np.zeros(shape, bool)
            m[y:y + 10, x:x + 15] = True
            occupied |= m
            gt.append(_rle_line(t, 2000 + o, 2, m))
            if rng.random() < 0.8:
                p = np.zeros(shape, bool)
                dy, dx = rng.integers(-3, 4, 2)
                p[max(y + dy, 0):y + dy + 10, max(x + dx, 0):x + dx + 15] = True
                tr.append((t, 2000 + o + (100 if rng.random() < 0.1 else 0), p))
        ign = np.zeros(shape, bool)
        ign[50:60, 60:80] = True
        gt.append(_rle_line(t, 10000, 10, ign))
        if rng.random() < 0.5:
            p = np.zeros(shape, bool)
            p[52:58, 62:70] = True  # inside the ignore region: removed by TrackEval
            tr.append((t, 777, p))
    # predictions must not overlap (MOTS rule): drop later overlapping masks
    lines, used = [], {}
    for t, tid, p in tr:
        u = used.setdefault(t, np.zeros(shape, bool))
        p = p & ~u
        used[t] = u | p
        if p.any():
            lines.append(_rle_line(t, tid, 2, p))
    return "\n".join(gt) + "\n", "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(3))
def test_mots_random_equal_trackeval_layout(tmp_path, seed):
    rng = np.random.default_rng(100 + seed)
    seqs, gts, res = {}, {}, {}
    for k in range(2):
        s = f"{k:04d}"
        g, r = _mots_seq(rng, int(rng.integers(3, 8)), int(rng.integers(1, 9)))
        gp, rp = tmp_path / f"gt{s}.txt", tmp_path / f"res{s}.txt"
        gp.write_text(g)
        rp.write_text(r)
        n = max(int(l.split()[0]) for l in g.splitlines())
        seqs[s], gts[s], res[s] = (gp, rp, n), gp, rp
    ours = compute("mots-challenge", gts, res)
    ref = _official(tmp_path / "official", seqs, "MOTS", dataset="MOTSChallenge")
    _same(ours, ref)
    assert (ours["sMOTSA"], ours["MOTSA"], ours["MOTSP"]) == (ours["sMOTA"], ours["MOTA"], ours["MOTP"])


def test_mots_malformed_rle(tmp_path):
    g = tmp_path / "g.txt"
    g.write_text(_rle_line(1, 2001, 2, np.ones((4, 4), bool)) + "\n")
    r = tmp_path / "r.txt"
    r.write_text("1 5 2 4 4 0a0\n")
    with pytest.raises(ResultsError, match=r"r.txt row 1: malformed RLE"):
        compute("mots-challenge", {"s": g}, {"s": r})
