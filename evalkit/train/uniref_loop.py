"""Training of the tiny UniRef++ (``python -m evalkit.train --model uniref-pp-tiny``) on the shapes
train splits (CPU, deterministic).

Each step runs two batches, the model's two reference kinds:

* ``res``: language references — an expression and its image (RefCOCO-style REC/RES);
* ``vos``: mask references — a video object given by its masks on the first frame and on the
  previous frame (the two references the tracker concatenates), to be found on a later frame.

Losses (UniRef++ §3.4, the Deformable-DETR / CondInst set it inherits): sigmoid focal loss on
the class-agnostic "is the referred object" logit of every query, L1 + GIoU on the boxes of
every decoder layer, focal + dice on the stride-4 masks of the matched query, and the
two-stage encoder proposals' objectness and boxes; one target per sample, assigned by the
Hungarian matcher with the same costs (:mod:`.losses`).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from .loop import Taps
from .losses import box_losses, dice, hungarian_match, proposal_loss, sigmoid_focal

__all__ = ["build_tiny_uniref", "train_uniref", "TASKS"]

TASKS = ("res", "vos")


def build_tiny_uniref(seed: int = 0):
    """The tiny UniRef++ with seeded random weights; its tokenizer
    (:func:`evalkit.zoo.tiny.tokenizer`) is handed to ``tokenize`` at each call, not stored on it."""
    from evalkit.zoo.tiny import UNIREF_TINY_OVERRIDES
    from evalkit.zoo.uniref.model import build_uniref

    torch.manual_seed(seed)
    return build_uniref("r50", **UNIREF_TINY_OVERRIDES)


class _Taps(Taps):
    """:class:`~.loop.Taps` plus the query features of the earlier decoder layers (their class
    heads, ``class_embed.{0..L-2}``, get the auxiliary retrieval loss)."""

    def __init__(self, model):
        super().__init__(model)
        for lid, layer in enumerate(model.transformer.decoder.layers):
            layer.register_forward_hook(lambda m, i, o, lid=lid: self.store.__setitem__(f"hs{lid}", o))


def _losses(model, out, taps, targets) -> dict[str, torch.Tensor]:
    """Losses of one forward over ``B`` samples with one target each (``targets``: ``B``
    :class:`~.data.Targets`)."""
    logits, boxes = out["logits"], out["boxes"]  # B×Q, B×Q×4
    num = max(sum(len(t.boxes) for t in targets), 1)
    tot = {k: logits.new_zeros(()) for k in ("retrieve", "l1", "giou", "mask", "dice", "enc")}
    enc_logits = taps.store["enc_logits"][..., 0]
    enc_boxes = (taps.store["enc_delta"] + taps.store["proposals"]).sigmoid()
    enc_valid = torch.isfinite(taps.store["proposals"]).all(-1)
    for b, t in enumerate(targets):
        prob = logits[b].sigmoid()[:, None].expand(-1, len(t.boxes))
        qi, gi = hungarian_match(prob.detach(), boxes[b].detach(), t.boxes)
        qi_t, gi_t = torch.from_numpy(qi), torch.from_numpy(gi)
        target = torch.zeros_like(logits[b])
        target[qi_t] = 1.0
        tot["retrieve"] = tot["retrieve"] + sigmoid_focal(logits[b], target).sum()
        for lid in range(len(model.class_embed) - 1):  # auxiliary: earlier layers, same assignment
            aux = model.class_embed[lid](taps.store[f"hs{lid}"][b])[..., 0]
            tot["retrieve"] = tot["retrieve"] + sigmoid_focal(aux, target).sum()
        if len(qi) == 0:
            continue
        for layer_boxes in taps.store["dec_boxes"]:  # every decoder layer, one assignment
            l1, giou = box_losses(layer_boxes[b][qi_t], t.boxes[gi_t])
            tot["l1"] = tot["l1"] + l1.sum()
            tot["giou"] = tot["giou"] + giou.sum()
        m = model.decode_masks(out, b, qi_t, 4).flatten(1)
        mt = (t.masks[gi_t].flatten(1) > 0.5).float()
        tot["mask"] = tot["mask"] + sigmoid_focal(m, mt).mean(1).sum()
        tot["dice"] = tot["dice"] + dice(m, mt).sum()
        tot["enc"] = tot["enc"] + proposal_loss(enc_logits[b], enc_boxes[b], enc_valid[b], t.boxes)
    return {k: v / num for k, v in tot.items()}


#: the parts of a tiny UNINEXT that a tiny UniRef++ shares (same module trees and shapes)
PRETRAINED_PARTS = ("backbone.", "text_encoder.")


def load_pretrained(model, path: Path) -> int:
    """Copy the backbone and text encoder of tiny-UNINEXT weights ``path`` into ``model`` (the
    official UniRef++ also starts from a pretrained backbone and text encoder); returns the
    number of tensors copied. A missing or differently shaped tensor is an error naming it."""
    from safetensors.torch import load_file

    src = load_file(str(path))
    state = model.state_dict()
    copied = 0
    for k, v in state.items():
        if not k.startswith(PRETRAINED_PARTS) or k.startswith("text_encoder.model.pooler."):
            continue  # UniRef++ adds BERT's pooler, which UNINEXT does not have
        if k not in src or tuple(src[k].shape) != tuple(v.shape):
            got = "missing" if k not in src else f"shape {tuple(src[k].shape)}"
            raise ValueError(f"{path}: tensor {k!r} is {got}, expected shape {tuple(v.shape)} "
                             f"(pretrained weights must be a tiny UNINEXT's)")
        v.copy_(src[k])
        copied += 1
    return copied


def _mask_references(model, pairs):
    """Mask references of ``[(frame H×W×3 uint8, mask H×W bool)]`` (batch ``len(pairs)``)."""
    from .data import images_tensor

    x, pm, _ = images_tensor([f for f, _ in pairs])
    masks = torch.zeros(x.shape[0], *x.shape[-2:])
    for b, (_, m) in enumerate(pairs):
        masks[b, :m.shape[0], :m.shape[1]] = torch.from_numpy(m).float()
    return model.encode_mask_reference(model.features(x, pm), masks)


def train_uniref(steps: int, out: Path, seed: int = 0, lr: float = 1e-3, sizes_of: dict[str, int] | None = None,
                 log_every: int = 20, tasks: tuple[str, ...] = TASKS, stop_after: int | None = None,
                 save_every: int = 0, on_save=None, init: Path | None = None, log=print,
                 hard_negatives: float = 0.0, pretrained: Path | None = None,
                 fresh_expressions: bool = False) -> dict:
    """Train the tiny UniRef++ for ``steps`` (schedule) or until ``stop_after`` steps; write
    ``out`` (also every ``save_every`` steps, calling ``on_save(step)``). ``sizes_of``: batch
    size per task (``res``, ``vos``); ``hard_negatives``: fraction of VOS samples with a
    same-colour distractor (:class:`~.data.TrainData`); ``pretrained``: weights of a tiny
    UNINEXT whose backbone and text encoder start the training (:func:`load_pretrained`).
    ``fresh_expressions``: a new expression for each sample (:class:`~.data.TrainData`).
    Returns the training log."""
    import json

    from evalkit.zoo.uniref.fusion import ReferenceFeatures

    from .data import TrainData, images_tensor
    from .loop import _weighted, save_weights

    unknown = set(tasks) - set(TASKS)
    if unknown:
        from .loop import TrainingConfigError

        raise TrainingConfigError(f"uniref-pp-tiny trains on {', '.join(TASKS)}; got {', '.join(sorted(unknown))}")
    sizes_of = {"res": 4, "vos": 4, **(sizes_of or {})}
    from evalkit.zoo.tiny import tokenizer

    word_pieces = tokenizer()
    model = build_tiny_uniref(seed)
    if pretrained is not None:
        load_pretrained(model, pretrained)
    if init is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(init)), strict=True)
    model.train()
    taps = _Taps(model)
    data = TrainData(seed, hard_negatives, fresh_expressions)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(steps * 0.8)], 0.1)
    history, t0 = [], time.time()
    meta = {"steps": steps, "seed": seed, "lr": lr, "tasks": ",".join(tasks),
            "task_batch": ",".join(f"{k}={v}" for k, v in sizes_of.items()), "hard_negatives": hard_negatives,
            "fresh_expressions": fresh_expressions}
    done = min(steps, stop_after or steps)
    for step in range(done):
        losses: dict[str, torch.Tensor] = {}
        total = torch.zeros(())
        if "res" in tasks:
            imgs, texts, tg = data.expressions(sizes_of["res"])
            x, pm, sizes = images_tensor(imgs)
            ids = model.text_encoder.tokenize(texts, tokenizer=word_pieces)
            language = model.encode_text(ids["input_ids"], ids["attention_mask"])
            o = model(model.features(x, pm), sizes, language=language)
            ls = _losses(model, o, taps, tg)
            total = total + _weighted(ls)
            losses.update({f"res/{k}": v for k, v in ls.items()})
        if "vos" in tasks:
            first, prev, search, tg = data.references(sizes_of["vos"])
            refs = ReferenceFeatures.concat([_mask_references(model, first), _mask_references(model, prev)])
            x, pm, sizes = images_tensor(search)
            o = model(model.features(x, pm), sizes, mask=refs)
            ls = _losses(model, o, taps, tg)
            total = total + _weighted(ls)
            losses.update({f"vos/{k}": v for k, v in ls.items()})
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        opt.step()
        sched.step()
        if step % log_every == 0 or step == steps - 1:
            rec = {"step": step, "loss": round(float(total.detach()), 4), "s": round(time.time() - t0, 1),
                   **{k: round(float(v.detach()), 4) for k, v in losses.items()}}
            history.append(rec)
            log(json.dumps(rec))
        if save_every and (step + 1) % save_every == 0 and step + 1 < done:
            save_weights(model, out, step + 1, {"model": "uniref-pp-tiny", **meta})
            if on_save is not None:
                on_save(step + 1)
    save_weights(model, out, done, {"model": "uniref-pp-tiny", **meta})
    if on_save is not None:
        on_save(done)
    return {"log": history, "seconds": time.time() - t0}
