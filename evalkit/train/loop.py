"""``python -m evalkit.train``: train the tiny UNINEXT on the shapes train splits (CPU).

Each step runs four batches — category prompts (detection + instance segmentation), expressions
(REC/RES), annotation prompts (a template of the object on a first frame, the object to find on
a later frame: SOT/VOS) and frame pairs with category prompts (VIS/MOT, with the contrastive
embedding loss) — and sums the UNINEXT losses (:mod:`.losses`) over the last decoder layer, the
earlier decoder layers (box terms) and the two-stage encoder proposals (objectness + box).

Deterministic: fixed seeds, one fixed thread count (``--threads``), no data-order randomness
outside the seeded sampler; the same command writes the same weights.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from evalkit.errors import EvalkitError

from .losses import (WEIGHTS, box_losses, contrastive_embed, dice, hungarian_match, matched_iou,
                     proposal_loss, sigmoid_focal)

__all__ = ["add_arguments", "main", "build_tiny", "train", "run_recipe", "RECIPES", "TrainingConfigError"]


class TrainingConfigError(EvalkitError, ValueError):
    """A bad training option (named in the message)."""


def build_tiny(seed: int = 0):
    """The tiny UNINEXT with seeded random weights; its tokenizer
    (:func:`evalkit.zoo.tiny.tokenizer`) is handed to ``tokenize`` at each call, not stored on it."""
    from evalkit.zoo.tiny import TINY_OVERRIDES
    from evalkit.zoo.uninext.model import build_uninext

    torch.manual_seed(seed)
    return build_uninext("r50", True, **TINY_OVERRIDES)


class Taps:
    """Captures what the forward of a two-stage model (UNINEXT, UniRef++) does not return but
    training needs: the encoder proposals and their objectness / box deltas, and the boxes of
    every decoder layer."""

    def __init__(self, model):
        self.store: dict[str, Any] = {}
        tr = model.transformer
        original = tr.encoder_proposals

        def proposals(mem):
            out, props = original(mem)
            self.store["proposals"] = props
            return out, props

        tr.encoder_proposals = proposals
        model.enc_class_embed.register_forward_hook(lambda m, i, o: self.store.__setitem__("enc_logits", o))
        model.enc_bbox_embed.register_forward_hook(lambda m, i, o: self.store.__setitem__("enc_delta", o))
        tr.register_forward_hook(lambda m, i, o: self.store.__setitem__("dec_boxes", o["boxes"]))


def _token_groups(tokenizer, names):
    from evalkit.zoo.uninext.prompt import category_caption, positive_map

    caption, spans = category_caption(names)
    groups = positive_map(tokenizer(caption), spans)
    return caption, groups


def _set_losses(model, out, taps, targets, *, groups=None, prompt_mask=None) -> dict[str, torch.Tensor]:
    """Losses of one forward over a batch. ``groups``: token indices per category (category
    prompts); otherwise the prompt is pooled (one logit per query, one target per image)."""
    logits, boxes, iou = out["logits"], out["boxes"], out["iou"][..., 0]
    num = max(sum(len(t.boxes) for t in targets), 1)
    tot = {k: logits.new_zeros(()) for k in ("retrieve", "l1", "giou", "mask", "dice", "iou", "enc")}
    matches = []
    enc_logits = taps.store["enc_logits"][..., 0]
    enc_boxes = (taps.store["enc_delta"] + taps.store["proposals"]).sigmoid()
    enc_valid = torch.isfinite(taps.store["proposals"]).all(-1)
    for b, t in enumerate(targets):
        q_logits = logits[b]
        if groups is not None:
            cat_logits = torch.stack([q_logits[:, g].mean(-1) for g in groups], -1)  # Q×C
            prob = cat_logits.sigmoid()[:, t.labels]
        else:
            prob = q_logits.sigmoid().expand(-1, len(t.boxes))
        qi, gi = hungarian_match(prob.detach(), boxes[b].detach(), t.boxes)
        qi_t, gi_t = torch.from_numpy(qi), torch.from_numpy(gi)
        matches.append((qi_t, gi_t))
        # retrieval focal loss over every (query, token)
        target = torch.zeros_like(q_logits)
        if groups is not None:
            for q, g in zip(qi, gi):
                target[q, groups[int(t.labels[g])]] = 1.0
            valid = prompt_mask[b][None].expand_as(q_logits)
            tot["retrieve"] = tot["retrieve"] + sigmoid_focal(q_logits[valid], target[valid]).sum()
        else:
            target[qi_t, 0] = 1.0
            tot["retrieve"] = tot["retrieve"] + sigmoid_focal(q_logits, target).sum()
        if len(qi) == 0:
            continue
        l1, giou = box_losses(boxes[b][qi_t], t.boxes[gi_t])
        tot["l1"] = tot["l1"] + l1.sum()
        tot["giou"] = tot["giou"] + giou.sum()
        for layer_boxes in taps.store["dec_boxes"][:-1]:  # earlier decoder layers, same assignment
            l1, giou = box_losses(layer_boxes[b][qi_t], t.boxes[gi_t])
            tot["l1"] = tot["l1"] + l1.sum()
            tot["giou"] = tot["giou"] + giou.sum()
        iou_target = torch.zeros_like(iou[b])
        iou_target[qi_t] = matched_iou(boxes[b][qi_t], t.boxes[gi_t])
        tot["iou"] = tot["iou"] + F.binary_cross_entropy_with_logits(iou[b], iou_target, reduction="sum") / iou.shape[1] * len(qi)
        m = model.decode_masks(out, b, qi_t).flatten(1)
        mt = t.masks[gi_t].flatten(1)
        mt = (mt > 0.5).float()
        tot["mask"] = tot["mask"] + sigmoid_focal(m, mt).mean(1).sum()
        tot["dice"] = tot["dice"] + dice(m, mt).sum()
        # two-stage proposals: objectness + boxes of the encoder tokens
        tot["enc"] = tot["enc"] + proposal_loss(enc_logits[b], enc_boxes[b], enc_valid[b], t.boxes)
    losses = {k: v / num for k, v in tot.items()}
    losses["_matches"] = matches  # type: ignore[assignment]
    return losses


def _weighted(losses: dict) -> torch.Tensor:
    return sum((WEIGHTS.get(k, 1.0) * v for k, v in losses.items() if not k.startswith("_")), torch.zeros(()))


def _templates(model, pairs):
    """Template tokens of ``[(frame H×W×3 uint8, mask H×W bool)]``: ``(B×N×C, B×N bool)``."""
    from evalkit.zoo.uninext.prompt import crop_template

    from .data import images_tensor

    tx, tpm, _ = images_tensor([f for f, _ in pairs])
    temps, tpads = [], []
    for b, (_, m) in enumerate(pairs):
        ys, xs = m.nonzero()
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min()))
        tp, pad = crop_template(tx[b], tpm[b], box, torch.from_numpy(m).float(),
                                model.cfg.template_size, model.cfg.search_area_factor)
        temps.append(tp)
        tpads.append(pad)
    return model.encode_template(torch.stack(temps), torch.stack(tpads))


def _parse_sizes(spec: str, tasks) -> dict[str, int]:
    out = {}
    for item in filter(None, (s.strip() for s in (spec or "").split(","))):
        key, _, value = item.partition("=")
        if key not in tasks or not value.isdigit() or int(value) < 1:
            raise TrainingConfigError(f"--task-batch: expected task=N with task in {sorted(tasks)} and N >= 1, got {item!r}")
        out[key] = int(value)
    return out


def task_batches(batch: int, spec: str = "") -> dict[str, int]:
    """Batch size of each task: ``batch`` images for ``det``/``rec``, ``batch // 2`` templates for
    ``ref`` and frame pairs for ``vis``, overridden by ``spec`` (``"ref=8,rec=6"``)."""
    out = {"det": batch, "rec": batch, "ref": max(batch // 2, 1), "vis": max(batch // 2, 1)}
    out.update(_parse_sizes(spec, tuple(out)))
    return out


def save_weights(model, out: Path, step: int, meta: dict) -> None:
    """Write the state dict as safetensors (atomically: a temporary file, then renamed) with
    ``meta`` (``model`` defaults to ``uninext-tiny``) and the step as metadata (one ``evalkit``
    entry holding a JSON object, so that the bytes are reproducible)."""
    from safetensors.torch import save_file

    was_training = model.training
    model.eval()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    # one metadata entry, a JSON object with sorted keys: safetensors writes several entries in
    # no fixed order, and the same training must give the same bytes (the card pins the sha256)
    info = {"model": "uninext-tiny", "step": step, **meta}
    save_file(state, str(tmp), metadata={"evalkit": json.dumps(info, sort_keys=True, default=str)})
    tmp.replace(out)
    model.train(was_training)


def train(steps: int, out: Path, seed: int = 0, lr: float = 5e-4, batch: int = 4, log_every: int = 20,
          tasks: tuple[str, ...] = ("det", "rec", "ref", "vis"), stop_after: int | None = None,
          save_every: int = 0, on_save=None, init: Path | None = None, task_batch: str = "",
          hard_negatives: float = 0.0) -> dict:
    """Train for ``steps`` (learning-rate schedule) or until ``stop_after`` steps are done and
    write ``out`` (safetensors; also every ``save_every`` steps, calling ``on_save(step)``);
    returns the training log. ``init``: start from these weights (a second training stage);
    ``task_batch``: per-task batch sizes (:func:`task_batches`); ``hard_negatives``: fraction of
    annotation-prompt samples with a same-colour distractor (:class:`~.data.TrainData`)."""
    from .data import TrainData, images_tensor

    sizes_of = task_batches(batch, task_batch)

    model = build_tiny(seed)
    if init is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(init)), strict=True)
    model.train()
    taps = Taps(model)
    data = TrainData(seed, hard_negatives)
    names = data.category_names
    from evalkit.zoo.tiny import tokenizer

    tok = tokenizer()
    caption, groups = _token_groups(tok, names)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(steps * 0.8)], 0.1)
    log, t0 = [], time.time()

    def text(texts):
        ids = model.text_encoder.tokenize(texts, tokenizer=tok)
        return model.encode_text(ids["input_ids"], ids["attention_mask"])

    meta = {"steps": steps, "seed": seed, "lr": lr, "batch": batch, "tasks": ",".join(tasks),
            "task_batch": ",".join(f"{k}={v}" for k, v in sizes_of.items()), "hard_negatives": hard_negatives}
    done = min(steps, stop_after or steps)
    for step in range(done):
        losses: dict[str, torch.Tensor] = {}
        total = torch.zeros(())
        if "det" in tasks:
            imgs, tg = data.detection(sizes_of["det"])
            x, pm, sizes = images_tensor(imgs)
            pr, pmask = text([caption] * len(imgs))
            o = model(x, pm, pr, pmask, sizes, pooled=False, compute_masks=False)
            ls = _set_losses(model, o, taps, tg, groups=groups, prompt_mask=pmask)
            total = total + _weighted(ls)
            losses.update({f"det/{k}": v for k, v in ls.items() if not k.startswith("_")})
        if "rec" in tasks:
            imgs, texts, tg = data.expressions(sizes_of["rec"])
            x, pm, sizes = images_tensor(imgs)
            pr, pmask = text(texts)
            o = model(x, pm, pr, pmask, sizes, pooled=True, compute_masks=False)
            ls = _set_losses(model, o, taps, tg)
            total = total + _weighted(ls)
            losses.update({f"rec/{k}": v for k, v in ls.items() if not k.startswith("_")})
        if "ref" in tasks:
            first, prev, search, tg = data.references(sizes_of["ref"])
            pr0, pmask0 = _templates(model, first)
            pr1, pmask1 = _templates(model, prev)
            # the tracker concatenates the first-frame and the previous-frame templates
            pr, pmask = torch.cat([pr0, pr1], 1), torch.cat([pmask0, pmask1], 1)
            x, pm, sizes = images_tensor(search)
            o = model(x, pm, pr, pmask, sizes, pooled=True, compute_masks=False, mask_fusion=False)
            ls = _set_losses(model, o, taps, tg)
            total = total + _weighted(ls)
            losses.update({f"ref/{k}": v for k, v in ls.items() if not k.startswith("_")})
        if "vis" in tasks:
            imgs, tg = data.video_pairs(sizes_of["vis"])
            x, pm, sizes = images_tensor(imgs)
            pr, pmask = text([caption] * len(imgs))
            o = model(x, pm, pr, pmask, sizes, pooled=False, compute_masks=False)
            ls = _set_losses(model, o, taps, tg, groups=groups, prompt_mask=pmask)
            emb = o["embeddings"]
            e_loss = torch.zeros(())
            for k in range(0, len(imgs), 2):
                ids = []
                for j in (k, k + 1):
                    qi, gi = ls["_matches"][j]
                    v = torch.full((emb.shape[1],), -1, dtype=torch.long)
                    v[qi] = tg[j].ids[gi]
                    ids.append(v)
                e_loss = e_loss + contrastive_embed(emb[k], emb[k + 1], ids[0], ids[1])
            ls["embed"] = e_loss / max(len(imgs) // 2, 1)
            total = total + _weighted(ls)
            losses.update({f"vis/{k}": v for k, v in ls.items() if not k.startswith("_")})
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        opt.step()
        sched.step()
        if step % log_every == 0 or step == steps - 1:
            rec = {"step": step, "loss": round(float(total.detach()), 4), "s": round(time.time() - t0, 1),
                   **{k: round(float(v.detach()), 4) for k, v in losses.items()}}
            log.append(rec)
            print(json.dumps(rec), flush=True)
        if save_every and (step + 1) % save_every == 0 and step + 1 < done:
            save_weights(model, out, step + 1, meta)
            if on_save is not None:
                on_save(step + 1)
    save_weights(model, out, done, meta)
    if on_save is not None:
        on_save(done)
    return {"log": log, "seconds": time.time() - t0}


#: training recipes: ``model`` (which trainer) and the defaults of the command line. The entry
#: named after a model is the recipe of its shipped weights; a ``<recipe>@N`` spec (``--init``,
#: ``--pretrained``) stands for the weights of that recipe after ``N`` steps, trained on demand.
RECIPES: dict[str, dict] = {
    "uninext-tiny": {"model": "uninext-tiny", "steps": 1600, "lr": 1e-3, "batch": 4, "tasks": "det,rec,ref,vis",
                     "task_batch": "ref=8,rec=6", "hard_negatives": 0.5},
    "uniref-pp-tiny-stage1": {"model": "uniref-pp-tiny", "steps": 3000, "lr": 1e-3, "batch": 4, "tasks": "res,vos",
                              "task_batch": "", "hard_negatives": 0.5, "pretrained": "uninext-tiny@300"},
    # stage 2: expressions drawn afresh (the 600 fixed ones are learnt by heart by then), more of them
    "uniref-pp-tiny": {"model": "uniref-pp-tiny", "steps": 1200, "lr": 3e-4, "batch": 4, "tasks": "res,vos",
                       "task_batch": "res=8,vos=2", "hard_negatives": 0.5, "fresh_expressions": True,
                       "init": "uniref-pp-tiny-stage1@3000"},
}
_SETTINGS = ("steps", "lr", "batch", "tasks", "task_batch", "hard_negatives", "pretrained", "init",
             "fresh_expressions")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="uninext-tiny", choices=("uninext-tiny", "uniref-pp-tiny"),
                        help="which tiny model (default uninext-tiny); every default below is that model's "
                             "recipe of the shipped weights")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (learning-rate schedule)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output safetensors (default: the shipped file of the tiny model, and its card is rewritten)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=None, help="AdamW learning rate (x0.1 at 80%% of --steps)")
    parser.add_argument("--batch", type=int, default=None, help="samples per prompt kind and step")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: fixed for bitwise reproducibility; more threads on a shared machine mostly spin)")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="stop after this many steps (the schedule is still that of --steps)")
    parser.add_argument("--init", default=None,
                        help="start from these weights: a file, a tiny model id (its shipped file) or <recipe>@N "
                             "(that recipe's first N steps, trained on demand; recipes: " + ", ".join(RECIPES) + ")")
    parser.add_argument("--save-every", type=int, default=0, help="also write the weights every N steps")
    parser.add_argument("--tasks", default=None,
                        help="batch kinds; uninext-tiny: det (categories), rec (expressions), ref (templates), "
                             "vis (frame pairs); uniref-pp-tiny: res (expressions), vos (mask references)")
    parser.add_argument("--task-batch", default=None,
                        help="per-task batch sizes overriding --batch, e.g. 'ref=8,rec=6' (uninext-tiny "
                             "without it: det and rec --batch, ref and vis --batch // 2)")
    parser.add_argument("--hard-negatives", type=float, default=None,
                        help="fraction of annotation-prompt (ref/vos) samples whose target has a same-colour "
                             "distractor in its video")
    parser.add_argument("--fresh-expressions", action="store_const", const=True, default=None,
                        help="uniref-pp-tiny: draw a new target and expression on a shapes-refcoco/coco train "
                             "scene for each sample (instead of the 600 fixed train expressions)")
    parser.add_argument("--pretrained", default=None,
                        help="uniref-pp-tiny: tiny-UNINEXT weights whose backbone and text encoder start the "
                             "training (a file, uninext-tiny, or uninext-tiny@N)")


def resolve_weights(spec: str | None, seed: int, folder: Path, flag: str) -> Path | None:
    """Weights named by ``--init`` / ``--pretrained``: ``None``; a shipped model id (its file);
    ``<recipe>@N`` (that recipe's first ``N`` steps, trained here into
    ``folder/<recipe>-stepN.safetensors``, reused when present); or a file path."""
    if not spec:
        return None
    from evalkit.zoo.tiny import TINY_MODELS, weights_file

    if spec in TINY_MODELS:
        return weights_file(spec)
    name, at, n = spec.partition("@")
    if at and name in RECIPES:
        if not n.isdigit() or int(n) < 1:
            raise TrainingConfigError(f"{flag}: expected <recipe>@N with N >= 1 steps, got {spec!r}")
        path = Path(folder) / f"{name}-step{n}.safetensors"
        if not path.is_file():
            print(f"{flag} {spec}: training the first {n} steps of the {name} recipe -> {path}", flush=True)
            run_recipe(dict(RECIPES[name]), path, seed=seed, stop_after=int(n), folder=folder)
        return path
    path = Path(spec)
    if not path.is_file():
        raise TrainingConfigError(f"{flag} {spec!r}: no such file, and not a model id or <recipe>@N "
                         f"(recipes: {', '.join(RECIPES)})")
    return path


def run_recipe(settings: dict, out: Path, *, seed: int = 0, stop_after: int | None = None, save_every: int = 0,
               on_save=None, folder: Path | None = None) -> dict:
    """Train with ``settings`` (a :data:`RECIPES` entry, possibly overridden) into ``out``;
    ``folder`` holds the intermediate weights its ``init``/``pretrained`` specs need."""
    folder = Path(folder) if folder is not None else Path(out).parent
    tasks = tuple(t for t in settings["tasks"].split(",") if t)
    init = resolve_weights(settings.get("init"), seed, folder, "--init")
    if settings["model"] == "uniref-pp-tiny":
        from .uniref_loop import train_uniref

        sizes = {"res": settings["batch"], "vos": settings["batch"],
                 **_parse_sizes(settings.get("task_batch"), ("res", "vos"))}
        # with an init every weight comes from there: no pretrained parts to prepare
        pretrained = None if init else resolve_weights(settings.get("pretrained"), seed, folder, "--pretrained")
        return train_uniref(settings["steps"], out, seed=seed, lr=settings["lr"], sizes_of=sizes, tasks=tasks,
                            stop_after=stop_after, save_every=save_every, on_save=on_save, init=init,
                            log=lambda line: print(line, flush=True),
                            hard_negatives=settings.get("hard_negatives") or 0.0, pretrained=pretrained,
                            fresh_expressions=bool(settings.get("fresh_expressions")))
    if settings.get("fresh_expressions"):
        raise TrainingConfigError("--fresh-expressions is for uniref-pp-tiny")
    if settings.get("pretrained"):
        raise TrainingConfigError("--pretrained is for uniref-pp-tiny (uninext-tiny starts from scratch or --init)")
    return train(settings["steps"], out, seed=seed, lr=settings["lr"], batch=settings["batch"], tasks=tasks,
                 stop_after=stop_after, save_every=save_every, on_save=on_save, init=init,
                 task_batch=settings.get("task_batch") or "", hard_negatives=settings.get("hard_negatives") or 0.0)


def command_line(model: str, settings: dict, seed: int, threads: int, step: int) -> str:
    """The command that reproduces the weights of ``step`` (written into the card)."""
    stop = f" --stop-after {step}" if step < settings["steps"] else ""
    cmd = (f"python -m evalkit.train --model {model} --steps {settings['steps']}{stop} --batch {settings['batch']} "
           f"--lr {settings['lr']} --seed {seed} --threads {threads} --tasks {settings['tasks']}")
    if settings.get("task_batch"):
        cmd += f" --task-batch {settings['task_batch']}"
    if settings.get("hard_negatives"):
        cmd += f" --hard-negatives {settings['hard_negatives']}"
    if settings.get("fresh_expressions"):
        cmd += " --fresh-expressions"
    if settings.get("init"):
        cmd += f" --init {settings['init']}"
    elif settings.get("pretrained"):
        cmd += f" --pretrained {settings['pretrained']}"
    return cmd


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    from evalkit.hub import cache_root
    from evalkit.zoo.tiny import weights_file

    recipe = RECIPES[args.model]
    settings = {"model": recipe["model"]}
    for key in _SETTINGS:
        given = getattr(args, key)
        settings[key] = recipe.get(key) if given is None else given
    if args.pretrained is not None and args.init is None:
        settings["init"] = None  # an explicit --pretrained starts a new first stage
    out = args.out or weights_file(args.model)

    def on_save(step: int) -> None:
        print(f"wrote {out} (step {step})", flush=True)
        if args.out is None:  # the shipped file: pin it in the card
            from .card import write_card

            write_card(args.model, out, step, command_line(args.model, settings, args.seed, args.threads, step))

    # intermediate weights (<recipe>@N) go beside --out, or into the cache (never the package)
    folder = Path(args.out).parent if args.out else cache_root() / "train"
    res = run_recipe(settings, out, seed=args.seed, stop_after=args.stop_after, save_every=args.save_every,
                     on_save=on_save, folder=folder)
    print(f"done in {res['seconds']:.0f} s")
    return 0
