"""The model cards of the tiny models (``zoo/cards/<model id>.json``), written after training
with the weights' sha256 pinned."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

__all__ = ["card_dict", "write_card", "card_path", "CARD_DIR"]

CARD_DIR = Path(__file__).resolve().parents[2] / "zoo" / "cards"

_FAMILY = {
    "uninext-tiny": {
        "family": "uninext",
        "description": "UNINEXT at reduced width/depth (d_model 64, 1 encoder + 2 decoder layers, 50 queries), "
                       "trained on CPU on the synthetic shapes suite; runs the whole shapes group in minutes",
        "builder": "evalkit.zoo.uninext.model:build_uninext",
        "builder_args": {"variant": "r50", "video": True},
        "adapter": "evalkit.adapters.tiny_uninext:build_adapter",
        "paper": {"title": "Universal Instance Perception as Object Discovery and Retrieval",
                  "venue": "CVPR 2023", "arxiv": "2303.06674"},
        "tasks": ["det", "inst-seg", "rec", "res", "sot", "vos", "mot", "vis"],
    },
    "uniref-pp-tiny": {
        "family": "uniref",
        "description": "UniRef++ at reduced width/depth (d_model 96, 1 encoder + 2 decoder layers, 50 queries), "
                       "trained on CPU on the synthetic shapes suite (referring segmentation and VOS)",
        "builder": "evalkit.zoo.uniref.model:build_uniref",
        "builder_args": {"variant": "r50"},
        "adapter": "evalkit.adapters.tiny_uniref:build_adapter",
        "paper": {"title": "UniRef++: Segment Every Reference Object in Spatial and Temporal Spaces",
                  "venue": "arXiv 2023", "arxiv": "2312.15715"},
        "tasks": ["res", "vos"],
    },
}


def card_path(model_id: str) -> Path:
    return CARD_DIR / f"{model_id}.json"


def card_dict(model_id: str, sha256: str, steps: int, command: str) -> dict:
    from evalkit.zoo.tiny import INPUT_SIZE, TINY_MODELS

    fam = _FAMILY[model_id]
    size = {"min_size": INPUT_SIZE[0], "max_size": INPUT_SIZE[1]}
    name = f"{model_id}.safetensors"
    return {
        "id": model_id,
        "family": fam["family"],
        "variant": "tiny",
        "stage": "shapes",
        "description": fam["description"],
        "builder": fam["builder"],
        "builder_args": {**fam["builder_args"], **TINY_MODELS[model_id][1]},
        "converter": "evalkit.zoo.tiny:identity_converter",
        "adapter": fam["adapter"],
        "license": "MIT",
        "paper": fam["paper"],
        "tasks": fam["tasks"],
        "input_sizes": {t: dict(size) for t in fam["tasks"]},
        "weights": [{
            "name": name, "role": "model",
            "sources": [f"pkg://evalkit.zoo.tiny/{name}"],
            "sha256": sha256,
            "notes": f"our module tree's state dict, trained by `{command}` ({steps} steps); shipped in the package (pkg:// resolves it inside the installed evalkit.zoo.tiny, from any working directory)",
        }],
        "paper_results": [],
    }


def write_card(model_id: str, weights: Path, steps: int, command: str, path: Path | None = None) -> Path:
    """Write the card of ``model_id`` pinning the sha256 of ``weights``; returns its path."""
    sha = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    path = path or card_path(model_id)
    path.write_text(json.dumps(card_dict(model_id, sha, steps, command), indent=1) + "\n")
    return path
