"""VIPSeg VPQ / STQ: parity with literal transcriptions of eval_vpq_vspw.py and of
eval_stq_vspw.py + deeplab2's numpy STQuality, on seeded random panoptic videos."""
from __future__ import annotations

import copy
import math
from collections import defaultdict

import numpy as np
import pytest

from evalkit.errors import ResultsError
from evalkit.metrics.vipseg import vipseg

CATS = [{"id": 0, "isthing": 0}, {"id": 1, "isthing": 1}, {"id": 2, "isthing": 1}, {"id": 3, "isthing": 0}]


def _video(rng, T, H, W, pred=False):
    """Per frame: id map and segments_info (ids 1..; some crowd in GT)."""
    frames = []
    n_seg = int(rng.integers(1, 6))
    segs = {i + 1: {"id": i + 1, "category_id": int(rng.integers(0, 4)),
                    "iscrowd": int(not pred and rng.random() < 0.15)} for i in range(n_seg)}
    for _ in range(T):
        ids = rng.integers(0, n_seg + 1, (H // 4, W // 4)).repeat(4, 0).repeat(4, 1).astype(np.uint32)
        ids[rng.random((H, W)) < 0.1] = int(rng.integers(0, n_seg + 1))
        present = [int(i) for i in np.unique(ids) if i]
        info = []
        for i in present:
            el = dict(segs[i])
            if not pred:
                el["area"] = int((ids == i).sum())
            info.append(el)
        frames.append((ids, {"segments_info": info}))
    return frames


def _dataset(seed):
    rng = np.random.default_rng(seed)
    gt_js = {"videos": [], "annotations": [], "categories": CATS}
    pr_js = {"annotations": []}
    gm, pm = {}, {}
    for v in range(int(rng.integers(1, 4))):
        vid = f"v{v}"
        T = int(rng.integers(1, 10))
        g = _video(rng, T, 16, 16)
        p = _video(rng, T, 16, 16, pred=True) if rng.random() < 0.5 else [
            (np.where(rng.random(ids.shape) < 0.1, 0, ids).astype(np.uint32),
             {"segments_info": [{"id": el["id"], "category_id": el["category_id"]}
                                for el in a["segments_info"] if (np.where(rng.random(ids.shape) < 0, 0, ids) == el["id"]).any()]})
            for ids, a in g]
        # keep pred JSON consistent with the PNG (ids present)
        p = [(ids, {"segments_info": [el for el in a["segments_info"] if (ids == el["id"]).any()]}) for ids, a in p]
        names = [f"{t:05d}.png" for t in range(T)]
        gt_js["videos"].append({"video_id": vid, "images": [{"file_name": n} for n in names]})
        gt_js["annotations"].append({"video_id": vid, "annotations": [a for _, a in g]})
        pr_js["annotations"].append({"video_id": vid, "annotations": [a for _, a in p]})
        gm[vid] = {n: ids for n, (ids, _) in zip(names, g)}
        pm[vid] = {n: ids for n, (ids, _) in zip(names, p)}
    return {"json": gt_js, "masks": gm}, {"json": pr_js, "masks": pm}


# -- VPQ oracle (eval_vpq_vspw.py, literal) ---------------------------------------------------------
def _vpq_official(gt, pr):
    OFFSET, VOID = 256 * 256 * 256, 0
    cats = {c["id"]: c for c in gt["json"]["categories"]}
    g_an = {a["video_id"]: a["annotations"] for a in gt["json"]["annotations"]}
    p_an = {a["video_id"]: a["annotations"] for a in pr["json"]["annotations"]}
    out = {"all": [], "thing": [], "stuff": []}
    for nframes in [1, 2, 4, 6, 8]:
        stat = defaultdict(lambda: [0.0, 0, 0, 0])
        for v in gt["json"]["videos"]:
            vid = v["video_id"]
            sets = list(zip(g_an[vid], p_an[vid], [i["file_name"] for i in v["images"]]))
            vstat = defaultdict(lambda: [0.0, 0, 0, 0])
            for idx in range(0, len(sets) - nframes + 1):
                gts, prs, gsl, psl = [], [], [], []
                for gj, pj, fn in sets[idx: idx + nframes]:
                    pan_gt, pan_pred = gt["masks"][vid][fn], pr["masks"][vid][fn]
                    gs = {}
                    for el in gj["segments_info"]:
                        if el["id"] in gs:
                            gs[el["id"]]["area"] += el["area"]
                        else:
                            gs[el["id"]] = copy.deepcopy(el)
                    ps = {}
                    for el in pj["segments_info"]:
                        ps[el["id"]] = copy.deepcopy(el)
                    labels, cnt = np.unique(pan_pred, return_counts=True)
                    for lab, c in zip(labels, cnt):
                        if lab in ps:
                            ps[lab]["area"] = c
                    gts.append(pan_gt), prs.append(pan_pred), gsl.append(gs), psl.append(ps)
                vg, vp = {}, {}
                for gs, ps in zip(gsl, psl):
                    for k in gs:
                        if k not in vg:
                            vg[k] = gs[k]
                        else:
                            vg[k]["area"] += gs[k]["area"]
                    for k in ps:
                        if k not in vp:
                            vp[k] = ps[k]
                        else:
                            vp[k]["area"] += ps[k]["area"]
                m = np.stack(gts).astype(np.uint64) * OFFSET + np.stack(prs).astype(np.uint64)
                gpm = {}
                for lab, inter in zip(*np.unique(m, return_counts=True)):
                    gpm[(lab // OFFSET, lab % OFFSET)] = inter
                gmatch, pmatch = set(), set()
                for (gl, pl), inter in gpm.items():
                    if gl not in vg or pl not in vp or vg[gl]["iscrowd"] == 1:
                        continue
                    if vg[gl]["category_id"] != vp[pl]["category_id"]:
                        continue
                    union = vp[pl]["area"] + vg[gl]["area"] - inter - gpm.get((VOID, pl), 0)
                    iou = inter / union
                    if iou > 0.5:
                        vstat[vg[gl]["category_id"]][1] += 1
                        vstat[vg[gl]["category_id"]][0] += iou
                        gmatch.add(gl), pmatch.add(pl)
                crowd = {}
                for gl, gi in vg.items():
                    if gl in gmatch:
                        continue
                    if gi["iscrowd"] == 1:
                        crowd[gi["category_id"]] = gl
                        continue
                    vstat[gi["category_id"]][3] += 1
                for pl, pi in vp.items():
                    if pl in pmatch:
                        continue
                    inter = gpm.get((VOID, pl), 0)
                    if pi["category_id"] in crowd:
                        inter += gpm.get((crowd[pi["category_id"]], pl), 0)
                    if inter / pi["area"] > 0.5:
                        continue
                    vstat[pi["category_id"]][2] += 1
            for c, s in vstat.items():
                for i in range(4):
                    stat[c][i] += s[i]
        for name, isthing in (("all", None), ("thing", True), ("stuff", False)):
            pq, n = 0, 0
            for label, info in cats.items():
                if isthing is not None and (info["isthing"] == 1) != isthing:
                    continue
                iou, tp, fp, fn = stat[label]
                if tp + fp + fn == 0:
                    continue
                n += 1
                pq += iou / (tp + 0.5 * fp + 0.5 * fn)
            out[name].append(100 * pq / n if n else float("nan"))
    return {"VPQ": sum(out["all"]) / 5, "VPQ_thing": sum(out["thing"]) / 5, "VPQ_stuff": sum(out["stuff"]) / 5}


# -- STQ oracle (eval_stq_vspw.py + deeplab2 STQuality, literal) ---------------------------------------
def _stq_official(gt, pr):
    n_classes, ignore, shift, offset = 124, 255, 16, 2**24
    things = [c["id"] for c in gt["json"]["categories"] if c["isthing"]]
    conf, preds, gts, inters = {}, {}, {}, {}
    g_an = {a["video_id"]: a["annotations"] for a in gt["json"]["annotations"]}
    p_an = {a["video_id"]: a["annotations"] for a in pr["json"]["annotations"]}

    def upd(d, arr):
        for i, c in zip(*np.unique(arr, return_counts=True)):
            d[i] = d.get(i, 0) + c

    for seq_id, v in enumerate(gt["json"]["videos"]):
        vid = v["video_id"]
        num = {}
        for js, side in ((g_an[vid], "g"), (p_an[vid], "p")):
            lst = []
            for segm in js:
                for el in segm["segments_info"]:
                    if el["id"] not in lst:
                        lst.append(el["id"])
            num[side] = {x: i for i, x in enumerate(lst)}
        for gj, pj, img in zip(g_an[vid], p_an[vid], v["images"]):
            pan = {"g": gt["masks"][vid][img["file_name"]], "p": pr["masks"][vid][img["file_name"]]}
            maps = {}
            for side, js in (("g", gj), ("p", pj)):
                ins = np.ones_like(pan[side]) * 255
                sem = np.ones_like(pan[side]) * 255
                for el in js["segments_info"]:
                    sem[pan[side] == el["id"]] = el["category_id"]
                    ins[pan[side] == el["id"]] = num[side][el["id"]]
                maps[side] = ((sem << shift) + ins).astype(np.int32).astype(np.int64)
            y_t, y_p = maps["g"], maps["p"]
            sl, sp = y_t >> shift, y_p >> shift
            sl = np.where(sl != ignore, sl, n_classes)
            sp = np.where(sp != ignore, sp, n_classes)
            if seq_id not in conf:
                conf[seq_id] = np.zeros((n_classes + 1, n_classes + 1), np.int64)
                preds[seq_id], gts[seq_id], inters[seq_id] = {}, {}, {}
            np.add.at(conf[seq_id], (sl.ravel(), sp.ravel()), 1)
            inst = y_t & (2**shift - 1)
            lm = np.zeros_like(sl, dtype=bool)
            pm = np.zeros_like(sp, dtype=bool)
            for c in things:
                lm |= sl == c
                pm |= sp == c
            crowd = (inst == 0) & lm
            lm &= ~crowd
            pm &= ~crowd
            upd(preds[seq_id], y_p[pm])
            upd(gts[seq_id], y_t[lm])
            nc = lm & pm
            upd(inters[seq_id], y_t[nc] * offset + y_p[nc])
    aq_per, ntubes = [], []
    for s in gts:
        outer = 0.0
        for gid, gsz in gts[s].items():
            inner = 0.0
            for pid, psz in preds[s].items():
                key = offset * gid + pid
                if key in inters[s]:
                    tpa = inters[s][key]
                    inner += tpa * (tpa / (tpa + (psz - tpa) + (gsz - tpa)))
            outer += 1.0 / gsz * inner
        aq_per.append(outer)
        ntubes.append(len(gts[s]))
    aq = np.sum(aq_per) / np.maximum(np.sum(ntubes), 1e-15)
    total = np.zeros((n_classes + 1, n_classes + 1), np.int64)
    for c in conf.values():
        rm = np.zeros_like(c)
        rm[np.arange(n_classes), :] = 1
        total += c * rm
    tp = total.diagonal()
    un = tp + (total.sum(0) - tp) + (total.sum(1) - tp)
    iou = np.sum(tp.astype(np.double) / np.maximum(un, 1e-15).astype(np.double)) / np.count_nonzero(un)
    return {"STQ": 100 * math.sqrt(aq * iou), "AQ": 100 * aq, "SQ": 100 * iou}


@pytest.mark.parametrize("seed", range(8))
def test_vipseg_parity(seed):
    gt, pr = _dataset(seed)
    out = vipseg(gt, pr)
    ref = {**_vpq_official(gt, pr), **_stq_official(gt, pr)}
    for k, v in ref.items():
        assert out[k] == pytest.approx(v, abs=1e-10, nan_ok=True), k


def test_vipseg_bad_prediction_ids():
    gt, pr = _dataset(1)
    vid = gt["json"]["videos"][0]["video_id"]
    fn = gt["json"]["videos"][0]["images"][0]["file_name"]
    pr["masks"][vid][fn] = pr["masks"][vid][fn].copy()
    pr["masks"][vid][fn][0, 0] = 77
    with pytest.raises(ResultsError, match="segment id 77 is in the PNG but not in pred.json"):
        vipseg(gt, pr)


def test_vipseg_folder_layout_matches_memory(tmp_path):
    import json

    from PIL import Image

    gt, pr = _dataset(3)
    root = tmp_path / "VIPSeg"
    for side, base in ((gt, root / "panomasksRGB"), (pr, tmp_path / "sub" / "pan_pred")):
        for vid, frames in side["masks"].items():
            for fn, ids in frames.items():
                rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
                (base / vid).mkdir(parents=True, exist_ok=True)
                Image.fromarray(rgb).save(base / vid / fn)
    (root / "panoptic_gt_VIPSeg_val.json").write_text(json.dumps(gt["json"]))
    (tmp_path / "sub" / "pred.json").write_text(json.dumps(pr["json"]))
    a, b = vipseg(root / "panoptic_gt_VIPSeg_val.json", tmp_path / "sub"), vipseg(gt, pr)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=0, nan_ok=True), k
