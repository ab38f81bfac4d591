"""RefCOCO REC/RES (UNINEXT/UniRef evaluator semantics), FSS (UniRef and HSNet protocols) and
ODinW13, each against an independent computation of the official definition."""
from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from evalkit.errors import ResultsError
from evalkit.metrics import compute
from evalkit.metrics.odinw import ODINW13, odinw
from evalkit.metrics._iou import box_giou, box_iou_coco
from evalkit.metrics.refcoco import refcoco_rec, refcoco_res
from mi_synth import blob_mask, coco_case, rect_mask, rle


def refer_case(seed, n=60):
    """One image entry per expression (UNINEXT's RefCOCO json layout); 1-3 predictions per
    expression with tied scores; some at IoU exactly 0.5 / 0.75."""
    rng = np.random.default_rng(seed)
    images, anns, res = [], [], []
    for e in range(n):
        h, w = (int(x) for x in rng.integers(40, 120, 2))
        x0, y0 = int(rng.integers(0, w - 10)), int(rng.integers(0, h - 10))
        bw, bh = 2 * int(rng.integers(2, (w - x0) // 2 + 1)), 2 * int(rng.integers(2, (h - y0) // 2 + 1))
        g = rect_mask(h, w, x0, y0, x0 + bw, y0 + bh) if e % 3 else blob_mask(rng, h, w)
        images.append({"id": 5000 + e, "height": h, "width": w, "expressions": [f"thing {e}"]})
        anns.append({"id": e + 1, "image_id": 5000 + e, "category_id": 1, "iscrowd": 0, "area": float(g.sum()),
                     "bbox": [float(x0), float(y0), float(bw), float(bh)], "segmentation": rle(g)})
        for k in range(int(rng.integers(1, 4))):
            kind = rng.random()
            if kind < 0.25:  # exactly half: IoU 0.5
                d = rect_mask(h, w, x0, y0, x0 + bw // 2, y0 + bh)
                box = [float(x0), float(y0), bw / 2, float(bh)]
            elif kind < 0.35 and bw % 4 == 0:
                d = rect_mask(h, w, x0, y0, x0 + 3 * bw // 4, y0 + bh)
                box = [float(x0), float(y0), 3 * bw / 4, float(bh)]
            else:
                dx, dy = (int(v) for v in rng.integers(-6, 7, 2))
                d = np.roll(np.roll(g, dy, 0), dx, 1)
                box = [x0 + dx + float(rng.normal()), y0 + dy + float(rng.normal()), float(bw) * rng.uniform(0.7, 1.3), float(bh)]
            res.append({"image_id": 5000 + e, "category_id": 1, "score": round(float(rng.random()), 1),
                        "bbox": box, "segmentation": rle(d)})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "object"}]}, res


def official_top(res, img):
    dts = [r for r in res if r["image_id"] == img]
    return dts[np.argsort([-d["score"] for d in dts], kind="mergesort")[0]]


def enc(seg):
    return {"size": seg["size"], "counts": seg["counts"].encode()}


@pytest.mark.parametrize("seed", range(4))
def test_rec_parity(seed):
    gt, res = refer_case(seed)
    ious = []
    for a in gt["annotations"]:
        d = official_top(res, a["image_id"])
        ious.append(mask_utils.iou([d["bbox"]], [a["bbox"]], [0])[0][0])
    ious = np.array(ious)
    got = refcoco_rec(gt, res)
    for t in (0.5, 0.6, 0.7, 0.8, 0.9):
        assert got[f"P@{t}"] == pytest.approx(np.sum(ious > t) / len(ious) * 100, abs=1e-12)
    ge = refcoco_rec(gt, res, compare=">=")
    assert ge["P@0.5"] == pytest.approx(np.sum(ious >= 0.5) / len(ious) * 100, abs=1e-12)
    assert ge["P@0.5"] > got["P@0.5"]  # the exact-0.5 cases are counted only by >=


def test_box_iou_is_pycocotools_bbiou_bit_for_bit():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 50, (500, 4))
    g = np.where(rng.random((500, 4)) < 0.3, d, rng.uniform(0, 50, (500, 4)))
    crowd = rng.random(500) < 0.2
    want = np.array([mask_utils.iou([a.tolist()], [b.tolist()], [int(c)])[0][0] for a, b, c in zip(d, g, crowd)])
    np.testing.assert_array_equal(box_iou_coco(d, g, crowd), want)


def test_giou():
    rng = np.random.default_rng(1)
    d, g = rng.uniform(1, 50, (200, 4)), rng.uniform(1, 50, (200, 4))
    for (a, b), v in zip(zip(d, g), box_giou(d, g)):
        ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
        iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
        ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
        inter = iw * ih
        union = a[2] * a[3] + b[2] * b[3] - inter
        hull = (max(ax2, bx2) - min(a[0], b[0])) * (max(ay2, by2) - min(a[1], b[1]))
        assert v == pytest.approx(inter / union - (hull - union) / hull, abs=1e-12)
    gt, res = refer_case(2)
    assert refcoco_rec(gt, res, iou="giou")["P@0.5"] <= refcoco_rec(gt, res, compare=">=")["P@0.5"]


@pytest.mark.parametrize("seed", range(3))
def test_res_parity(seed):
    gt, res = refer_case(seed)
    inter = union = 0
    ious = []
    for a in gt["annotations"]:
        d = official_top(res, a["image_id"])
        dm, gm = mask_utils.decode(enc(d["segmentation"])), mask_utils.decode(enc(a["segmentation"]))
        inter += int((dm & gm).sum())
        union += int((dm | gm).sum())
        ious.append(mask_utils.iou([enc(d["segmentation"])], [enc(a["segmentation"])], [0])[0][0])
    ious = np.array(ious)
    got = compute("refcoco-res", gt, res)
    assert got["oIoU"] == pytest.approx(inter / union * 100, abs=1e-10)
    assert got["mIoU"] == pytest.approx(np.mean(ious) * 100, abs=1e-10)
    for t in (0.5, 0.7, 0.9):
        assert got[f"P@{t}"] == pytest.approx(np.sum(ious > t) / len(ious) * 100, abs=1e-12)


def test_refer_errors():
    gt, res = refer_case(0, n=5)
    with pytest.raises(ResultsError, match="no prediction for 1 expression"):
        refcoco_rec(gt, [r for r in res if r["image_id"] != 5002])
    bad = copy.deepcopy(res)
    bad[0]["image_id"] = 1
    with pytest.raises(ResultsError, match="entry 0: image_id 1 is not an expression"):
        refcoco_rec(gt, bad)
    bad = copy.deepcopy(res)
    for r in bad:
        r["bbox"] = [0.0, 0.0, -1.0, 2.0]
    with pytest.raises(ResultsError, match="negative width"):
        refcoco_rec(gt, bad)
    bad = copy.deepcopy(res)
    for r in bad:
        r["segmentation"]["counts"] = r["segmentation"]["counts"][:-1]
    with pytest.raises(ResultsError, match="malformed RLE"):
        refcoco_res(gt, bad)
    with pytest.raises(ResultsError, match="compare"):
        refcoco_rec(gt, res, compare="<")


# ---------------------------------------------------------------------------------------- FSS
def fss_case(seed, n_classes=4, per_class=5):
    rng = np.random.default_rng(seed)
    queries, res = [], []
    for c in range(n_classes):
        for k in range(per_class):
            h, w = (int(x) for x in rng.integers(30, 90, 2))
            g = blob_mask(rng, h, w) if rng.random() < 0.9 else np.zeros((h, w), bool)
            p = np.roll(g, int(rng.integers(-5, 6)), 1) if rng.random() < 0.8 else blob_mask(rng, h, w)
            qid = f"{760 + c}/{k + 1}.jpg"
            queries.append({"query_id": qid, "class_id": 760 + c, "segmentation": rle(g)})
            res.append({"query_id": qid, "segmentation": rle(p)})
    return {"queries": queries}, res[::-1]


def hsnet_float32(gt, res):
    """HSNet's AverageMeter: float32 [2, nclass] buffers filled by index_add_ per episode."""
    pred = {r["query_id"]: mask_utils.decode(enc(r["segmentation"])) for r in res}
    classes = sorted({q["class_id"] for q in gt["queries"]})
    inter_buf = torch.zeros(2, 1000)
    union_buf = torch.zeros(2, 1000)
    for q in gt["queries"]:
        g = torch.from_numpy(mask_utils.decode(enc(q["segmentation"])).astype(np.int64)).flatten()
        p = torch.from_numpy(pred[q["query_id"]].astype(np.int64)).flatten()
        inter = torch.histc(p[p == g].float(), bins=2, min=0, max=1)
        area_p = torch.histc(p.float(), bins=2, min=0, max=1)
        area_g = torch.histc(g.float(), bins=2, min=0, max=1)
        cid = torch.tensor([q["class_id"]])
        inter_buf.index_add_(1, cid, inter[:, None])
        union_buf.index_add_(1, cid, (area_p + area_g - inter)[:, None])
    ids = torch.tensor(classes)
    iou = (inter_buf / torch.max(torch.stack([union_buf, torch.ones_like(union_buf)]), dim=0)[0]).index_select(1, ids)
    fb = (inter_buf.index_select(1, ids).sum(1) / union_buf.index_select(1, ids).sum(1)).mean()
    return float(iou[1].mean() * 100), float(fb * 100)


@pytest.mark.parametrize("seed", range(3))
def test_fss_parity(seed):
    gt, res = fss_case(seed)
    got = compute("fss", gt, res)
    pred = {r["query_id"]: r for r in res}
    ious, inter, union = [], 0, 0
    for q in gt["queries"]:
        d, g = enc(pred[q["query_id"]]["segmentation"]), enc(q["segmentation"])
        ious.append(mask_utils.iou([d], [g], [0])[0][0])
        dm, gm = mask_utils.decode(d), mask_utils.decode(g)
        inter += int((dm & gm).sum())
        union += int((dm | gm).sum())
    assert got["mIoU"] == pytest.approx(np.mean(ious) * 100, abs=1e-10)
    assert got["oIoU"] == pytest.approx(inter / union * 100, abs=1e-10)
    miou, fb = hsnet_float32(gt, res)
    assert got["HSNet-mIoU"] == pytest.approx(miou, abs=1e-4)  # HSNet sums in float32
    assert got["FB-IoU"] == pytest.approx(fb, abs=1e-4)
    assert got["HSNet-mIoU"] != pytest.approx(got["mIoU"], abs=1e-3)  # different protocols


def test_fss_errors():
    gt, res = fss_case(0)
    with pytest.raises(ResultsError, match="no result for 1 query"):
        compute("fss", gt, res[1:])
    with pytest.raises(ResultsError, match="a second result"):
        compute("fss", gt, res + res[:1])
    bad = copy.deepcopy(res)
    bad[2]["segmentation"] = rle(np.zeros((3, 3), bool))
    with pytest.raises(ResultsError, match=r"entry 2: mask of size \[3, 3\]"):
        compute("fss", gt, bad)
    with pytest.raises(ResultsError, match="entry 0: query_id 'x'"):
        compute("fss", gt, [{"query_id": "x", "segmentation": res[0]["segmentation"]}])


# -------------------------------------------------------------------------------------- ODinW
def _pycoco_ap(gt, res):
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        ev = COCOeval(cg, cg.loadRes(copy.deepcopy(res)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[0]


def test_odinw_mean_of_13(tmp_path):
    gts, ress, manifest_g, manifest_r, aps = {}, {}, {}, {}, []
    for i, name in enumerate(ODINW13):
        gt, res = coco_case(100 + i, n_images=4)
        res = [{k: v for k, v in r.items() if k != "segmentation"} for r in res]
        gts[name], ress[name] = gt, res
        aps.append(_pycoco_ap(gt, res))
        (tmp_path / name).mkdir()
        (tmp_path / name / "gt.json").write_text(json.dumps(gt))
        (tmp_path / name / "res.json").write_text(json.dumps(res))
        manifest_g[name], manifest_r[name] = f"{name}/gt.json", f"{name}/res.json"
    got = odinw(gts, ress)
    assert got["AP"] == pytest.approx(float(np.mean(aps)), abs=1e-12)
    assert got["AP/Aquarium"] == pytest.approx(aps[1], abs=1e-12)
    assert got["n_datasets"] == 13
    (tmp_path / "g.json").write_text(json.dumps(manifest_g))
    (tmp_path / "r.json").write_text(json.dumps(manifest_r))
    from_files = compute("odinw", str(tmp_path / "g.json"), str(tmp_path / "r.json"), backend="official")
    assert from_files == pytest.approx(got, abs=1e-12)
    with pytest.raises(ResultsError, match="needs all 13"):
        odinw({"pothole": gts["pothole"]}, {"pothole": ress["pothole"]})
    part = odinw({"pothole": gts["pothole"]}, {"pothole": ress["pothole"]}, require_all="false")
    assert part["AP"] == part["AP/pothole"] and part["n_datasets"] == 1
    with pytest.raises(ResultsError, match="no results for dataset 'Raccoon'"):
        odinw(gts, {k: v for k, v in ress.items() if k != "Raccoon"})
    with pytest.raises(ResultsError, match="odinw dataset 'pistols'.*image_id"):
        odinw(gts, {**ress, "pistols": [{**ress["pistols"][0], "image_id": -5}]})
