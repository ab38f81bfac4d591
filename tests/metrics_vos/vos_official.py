"""Literal per-frame re-implementations of the official VOS evaluation algorithms (test oracles).

Written from the algorithm of ``davis2017-evaluation`` (``db_eval_iou``, ``f_measure`` with
``_seg2bmap``, ``cv2.dilate`` by ``skimage.morphology.disk``, ``db_statistics``; the
``Results``/``DAVIS`` readers) and of ``lvos-evaluation``: full-frame work for every object and
frame, exactly as the official tools do it, with none of the shortcuts of the library code.
"""
from __future__ import annotations

import math
import os
import warnings
from glob import glob

import cv2
import numpy as np
from PIL import Image


def skimage_disk(radius):
    # skimage.morphology.disk: L = arange(-r, r+1); X, Y = meshgrid(L, L); X**2 + Y**2 <= r**2
    L = np.arange(-radius, radius + 1)
    X, Y = np.meshgrid(L, L)
    return np.array((X**2 + Y**2) <= radius**2, dtype=np.uint8)


def db_eval_iou(annotation, segmentation):
    annotation = annotation.astype(bool)
    segmentation = segmentation.astype(bool)
    void = np.zeros_like(segmentation)
    inters = np.sum((segmentation & annotation) & np.logical_not(void), axis=(-2, -1))
    union = np.sum((segmentation | annotation) & np.logical_not(void), axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        j = inters / union
    if j.ndim == 0:
        j = 1 if np.isclose(union, 0) else j
    else:
        j[np.isclose(union, 0)] = 1
    return j


def seg2bmap(seg):
    seg = seg.astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def f_measure(foreground_mask, gt_mask, bound_th=0.008):
    void = np.zeros_like(foreground_mask).astype(bool)
    bound_pix = bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm(foreground_mask.shape))
    fg_boundary = seg2bmap(foreground_mask * np.logical_not(void))
    gt_boundary = seg2bmap(gt_mask * np.logical_not(void))
    k = skimage_disk(bound_pix)
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), k)
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), k)
    gt_match = gt_boundary * fg_dil
    fg_match = fg_boundary * gt_dil
    n_fg = np.sum(fg_boundary)
    n_gt = np.sum(gt_boundary)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = np.sum(fg_match) / float(n_fg)
        recall = np.sum(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0
    return 2 * precision * recall / (precision + recall)


def db_eval_boundary(annotation, segmentation, bound_th=0.008):
    f_res = np.zeros(annotation.shape[0])
    for t in range(annotation.shape[0]):
        f_res[t] = f_measure(segmentation[t], annotation[t], bound_th=bound_th)
    return f_res


def db_statistics(per_frame_values, wrap=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        M = np.nanmean(per_frame_values)
        O = np.nanmean(per_frame_values > 0.5)
    ids = np.round(np.linspace(1, len(per_frame_values), 5) + 1e-10) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        ids = ids.astype(np.uint8) if wrap else ids.astype(np.int64)
        D_bins = [per_frame_values[ids[i] : ids[i + 1] + 1] for i in range(0, 4)]
        D = np.nanmean(D_bins[0]) - np.nanmean(D_bins[3])
    return M, O, D


def _read(path):
    return np.array(Image.open(path))


def davis_semi_official(gt_root, res_root, sequences, wrap=True):
    """The official DAVISEvaluation.evaluate(task='semi-supervised') + global csv numbers.

    ``gt_root``: folder of sequence folders of GT PNGs, or ``{seq: (T, H, W) uint8}`` with
    ``res_root`` likewise (frames in memory). Arrays are kept in uint8 instead of the official
    float64 (the official float64 (K, T, H, W) temporaries need gigabytes at DAVIS size); the
    values compared are identical.
    """
    J_M, J_R, J_D, F_M, F_R, F_D = [], [], [], [], [], []
    per_object = {}
    for seq in sequences:
        if isinstance(gt_root, dict):
            masks = gt_root[seq].copy()
            res = res_root[seq][1:-1]
        else:
            paths = np.sort(glob(os.path.join(gt_root, seq, "*.png"))).tolist()
            masks = np.stack([_read(p) for p in paths])
            ids = ["".join(p.split("/")[-1].split(".")[:-1]) for p in paths][1:-1]
            res = np.stack([_read(os.path.join(res_root, seq, f"{i}.png")) for i in ids])
        masks[masks == 255] = 0
        num_objects = int(np.max(masks[0]))
        gt = np.stack([masks == k for k in range(1, num_objects + 1)]) if num_objects else np.zeros((0, *masks.shape), bool)
        gt = gt[:, 1:-1]
        n_res = int(np.max(res))
        assert n_res <= num_objects, "index higher than the number of objects"
        res = np.stack([res == k for k in range(1, num_objects + 1)]) if num_objects else np.zeros((0, *res.shape), bool)
        for ii in range(gt.shape[0]):
            j = db_eval_iou(gt[ii], res[ii])
            f = db_eval_boundary(gt[ii], res[ii])
            JM, JR, JD = db_statistics(j, wrap)
            FM, FR, FD = db_statistics(f, wrap)
            J_M.append(JM), J_R.append(JR), J_D.append(JD)
            F_M.append(FM), F_R.append(FR), F_D.append(FD)
            per_object[f"{seq}_{ii + 1}"] = (JM, FM)
    g = {
        "J&F-Mean": (np.mean(J_M) + np.mean(F_M)) / 2.0,
        "J-Mean": np.mean(J_M), "J-Recall": np.mean(J_R), "J-Decay": np.mean(J_D),
        "F-Mean": np.mean(F_M), "F-Recall": np.mean(F_R), "F-Decay": np.mean(F_D),
    }
    return g, per_object


def lvos_official(gt_root, res_root, meta, unseen):
    """lvos-evaluation semi-supervised: per object frames range(start, end, 5) minus the first
    and the last of the object's ``frame_nums``; values kept in a (1, n) row; V per object."""
    res = {"J": {"seen": [], "unseen": []}, "F": {"seen": [], "unseen": []}, "V": {"seen": [], "unseen": []}}
    for seq in sorted(meta):
        objs = meta[seq]
        key = "unseen" if seq in unseen else "seen"
        for obj in objs:
            fr = objs[obj]["frame_range"]
            n = int(fr["frame_nums"])
            j = np.zeros((1, n - 2))
            f = np.zeros((1, n - 2))
            oidx = 0
            for ii in range(int(fr["start"]), int(fr["end"]), 5):
                if oidx == 0 or oidx == n - 1:
                    oidx += 1
                    continue
                name = "{0:08d}".format(ii)
                g = _read(os.path.join(gt_root, seq, name + ".png"))
                g = (g == int(obj)).astype(np.uint8)[None]
                r = _read(os.path.join(res_root, seq, name + ".png"))
                r = (r == int(obj)).astype(np.uint8)[None]
                j[0, oidx - 1] = db_eval_iou(g, r)[0]
                f[0, oidx - 1] = db_eval_boundary(g, r)[0]
                oidx += 1
            res["J"][key].append(db_statistics(j)[0])
            res["F"][key].append(db_statistics(f)[0])
            JF = (j + f) / 2
            V = np.nansum((np.nanmean(JF) - JF) ** 2) / JF.shape[1]
            res["V"][key].append(math.sqrt(round(V, 4)))
    m = {k: {s: np.mean(v[s]) for s in v} for k, v in res.items()}
    return {
        "J&F-Mean": ((m["J"]["seen"] + m["F"]["seen"]) + (m["J"]["unseen"] + m["F"]["unseen"])) / 4.0,
        "J-Mean": (m["J"]["seen"] + m["J"]["unseen"]) / 2,
        "J-seen-Mean": m["J"]["seen"], "J-unseen-Mean": m["J"]["unseen"],
        "F-Mean": (m["F"]["seen"] + m["F"]["unseen"]) / 2,
        "F-seen-Mean": m["F"]["seen"], "F-unseen-Mean": m["F"]["unseen"],
        "V-Mean": (m["V"]["seen"] + m["V"]["unseen"]) / 2,
        "V-seen-Mean": m["V"]["seen"], "V-unseen-Mean": m["V"]["unseen"],
    }


def db_eval_iou_void(annotation, segmentation, void):
    annotation = annotation.astype(bool)
    segmentation = segmentation.astype(bool)
    void = void.astype(bool)
    inters = np.sum((segmentation & annotation) & np.logical_not(void), axis=(-2, -1))
    union = np.sum((segmentation | annotation) & np.logical_not(void), axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        j = inters / union
    j[np.isclose(union, 0)] = 1
    return j


def davis_unsup_official(gt_root, res_root, sequences, max_n_proposals=20):
    """DAVISEvaluation.evaluate(task='unsupervised'): all frames, void excluded, proposals
    Hungarian-matched to GT objects on the mean of (J + F) / 2."""
    from scipy.optimize import linear_sum_assignment

    J_M, J_R, J_D, F_M, F_R, F_D = [], [], [], [], [], []
    for seq in sequences:
        paths = np.sort(glob(os.path.join(gt_root, seq, "*.png"))).tolist()
        masks = np.stack([_read(p) for p in paths])
        ids = ["".join(p.split("/")[-1].split(".")[:-1]) for p in paths]
        void = masks == 255
        masks[void] = 0
        K = int(np.max(masks[0]))
        gt = np.stack([masks == k for k in range(1, K + 1)])
        res = np.stack([_read(os.path.join(res_root, seq, f"{i}.png")) for i in ids])
        N = int(np.max(res))
        assert N <= max_n_proposals
        res = np.stack([res == k for k in range(1, N + 1)]) if N else np.zeros((0, *res.shape), bool)
        if N < K:
            res = np.concatenate([res, np.zeros((K - N, *res.shape[1:]), bool)])
        j = np.zeros((res.shape[0], K, gt.shape[1]))
        f = np.zeros((res.shape[0], K, gt.shape[1]))
        for ii in range(K):
            for jj in range(res.shape[0]):
                j[jj, ii] = db_eval_iou_void(gt[ii], res[jj], void)
                for t in range(gt.shape[1]):
                    vm = ~void[t]
                    f[jj, ii, t] = f_measure(res[jj, t] * vm, gt[ii, t] * vm)
        score = (np.mean(j, axis=2) + np.mean(f, axis=2)) / 2
        r, c = linear_sum_assignment(-score)
        j, f = j[r, c], f[r, c]
        for ii in range(K):
            JM, JR, JD = db_statistics(j[ii])
            FM, FR, FD = db_statistics(f[ii])
            J_M.append(JM), J_R.append(JR), J_D.append(JD)
            F_M.append(FM), F_R.append(FR), F_D.append(FD)
    return {
        "J&F-Mean": (np.mean(J_M) + np.mean(F_M)) / 2.0,
        "J-Mean": np.mean(J_M), "J-Recall": np.mean(J_R), "J-Decay": np.mean(J_D),
        "F-Mean": np.mean(F_M), "F-Recall": np.mean(F_R), "F-Decay": np.mean(F_D),
    }
