"""Test plugin: a hidden model ``test-seed-probe`` (the blobs detector) whose factory writes, at
build time, what the random generators hold: ``torch.initial_seed()``, the first draws of
``random`` and ``numpy`` and the torch thread count, as JSON to ``$EVALKIT_SEED_PROBE``. Like the
real adapters it imports torch only inside the factory, so a run that seeds before torch is
imported is caught."""
from __future__ import annotations

import json
import os
import random

from evalkit.registry import MODELS


def make_adapter(**kw):
    import numpy as np
    import torch

    from evalkit_testkit import make_adapter as blobs

    state = {"torch_initial_seed": torch.initial_seed(), "torch_rand": torch.rand(1).item(),
             "python": random.random(), "numpy": float(np.random.rand()),
             "torch_threads": torch.get_num_threads()}
    with open(os.environ["EVALKIT_SEED_PROBE"], "w") as f:
        json.dump(state, f)
    return blobs(**{**kw, "model_id": "test-seed-probe"})


MODELS.register("test-seed-probe", f"{__name__}:make_adapter", task="det", hidden=True, overwrite=True,
                description="test-only: records the seeded generators at model build time")
