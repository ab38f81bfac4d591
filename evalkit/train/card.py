"""The model card of the tiny UNINEXT (``zoo/cards/uninext-tiny.json``), written after training
with the weights' sha256 pinned."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

__all__ = ["card_dict", "write_card", "CARD_PATH"]

CARD_PATH = Path(__file__).resolve().parents[2] / "zoo" / "cards" / "uninext-tiny.json"
TASKS = ["det", "inst-seg", "rec", "res", "sot", "vos", "mot", "vis"]


def card_dict(sha256: str, steps: int, command: str) -> dict:
    from evalkit.zoo.tiny import INPUT_SIZE, TINY_OVERRIDES

    size = {"min_size": INPUT_SIZE[0], "max_size": INPUT_SIZE[1]}
    return {
        "id": "uninext-tiny",
        "family": "uninext",
        "variant": "tiny",
        "stage": "shapes",
        "description": "UNINEXT at reduced width/depth (d_model 64, 1 encoder + 2 decoder layers, 50 queries), "
                       "trained on CPU on the synthetic shapes suite; runs the whole shapes group in minutes",
        "builder": "evalkit.zoo.uninext.model:build_uninext",
        "builder_args": {"variant": "r50", "video": True, **TINY_OVERRIDES},
        "converter": "evalkit.zoo.tiny:identity_converter",
        "adapter": "evalkit.adapters.tiny_uninext:build_adapter",
        "license": "MIT",
        "paper": {"title": "Universal Instance Perception as Object Discovery and Retrieval",
                  "venue": "CVPR 2023", "arxiv": "2303.06674"},
        "tasks": TASKS,
        "input_sizes": {t: dict(size) for t in TASKS},
        "weights": [{
            "name": "uninext-tiny.safetensors", "role": "model",
            "sources": ["./zoo/tiny/uninext-tiny.safetensors"],
            "sha256": sha256,
            "notes": f"our module tree's state dict, trained by `{command}` ({steps} steps); shipped in the package (the adapter finds it beside evalkit.zoo.tiny; the source path is relative to the repository root)",
        }],
        "paper_results": [],
    }


def write_card(weights: Path, steps: int, command: str, path: Path = CARD_PATH) -> Path:
    sha = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
    path.write_text(json.dumps(card_dict(sha, steps, command), indent=1) + "\n")
    return path
