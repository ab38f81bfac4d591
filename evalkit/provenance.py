"""Provenance for run.json: versions, hardware, git hash."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__


def git_hash() -> str | None:
    """Commit of the evalkit checkout this code runs from (None for a non-git install)."""
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=5,
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions(with_torch: bool = True) -> dict[str, Any]:
    v: dict[str, Any] = {"evalkit": __version__, "python": sys.version.split()[0]}
    for name in ("numpy", "pycocotools", "faster-coco-eval", "trackeval", "triton",
                 "transformers", "huggingface_hub", "safetensors"):
        v[name] = _dist_version(name)
    if with_torch:
        try:
            import torch

            v["torch"] = torch.__version__
            v["cuda"] = torch.version.cuda
            v["cudnn"] = torch.backends.cudnn.version() if torch.cuda.is_available() else None
        except ImportError:
            v["torch"] = None
    return v


def hardware(with_torch: bool = True) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    hw: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "gpus": [],
    }
    if with_torch:
        try:
            import torch

            if torch.cuda.is_available():
                hw["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except ImportError:
            pass
    return hw
