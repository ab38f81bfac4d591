"""``evalkit doctor``: is this machine ready for a real run? A checklist, ``--json`` for machines.

Checks, each ``ok`` / ``warn`` / ``fail`` / ``info`` with one line of detail and, where
something is missing, the command that fixes it:

* Python, evalkit, torch (CUDA build or CPU build), the GPUs torch sees, Triton;
* CPU threads (the CPUs this process may use, the ``--threads`` default);
* the data root and, for every dataset card, whether its folder is present and which of its
  benchmarks validate (only present folders are validated: cheap file checks, no hashing);
* the weights caches and which models' weights are bundled / cached;
* network: ``HF_HUB_OFFLINE`` / ``EVALKIT_OFFLINE``, and an actual probe — a TCP connection to
  the Hugging Face hub (or ``HF_ENDPOINT``) with a short timeout, DNS included — so a machine
  without network is reported offline even when no variable says so.
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Check", "run_checks", "probe_network", "render"]


@dataclass
class Check:
    section: str
    name: str
    status: str  # ok | warn | fail | info
    detail: str
    fix: str = ""


def probe_network(host: str = "huggingface.co", port: int = 443, timeout: float = 3.0) -> tuple[bool, str]:
    """``(reachable, detail)``: resolve ``host`` and open a TCP connection, all within
    ``timeout`` seconds (name resolution cannot be given a timeout, so it runs in a thread)."""
    result: dict[str, Any] = {}

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError as e:
            result["error"] = f"{type(e).__name__}: {e}"

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return False, f"no answer from {host}:{port} within {timeout:g} s"
    if result.get("ok"):
        return True, f"{host}:{port} reachable"
    return False, f"{host}:{port} unreachable ({result.get('error')})"


def _torch_checks() -> list[Check]:
    from .hostenv import CUDA_INSTALL, available_cpus, default_threads

    out = []
    try:
        import torch
    except ImportError:
        return [Check("compute", "torch", "fail", "not installed", "pip install torch")]
    cuda = torch.version.cuda
    out.append(Check("compute", "torch", "ok", f"{torch.__version__} ({'CUDA ' + cuda if cuda else 'CPU-only build'})"))
    if cuda is None:
        out.append(Check("compute", "GPU", "info", "CPU-only torch: --device cuda is unavailable",
                         f"for a GPU: {CUDA_INSTALL}"))
    elif torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        out.append(Check("compute", "GPU", "ok", f"{len(names)} visible: {', '.join(names)}"))
    else:
        out.append(Check("compute", "GPU", "warn", f"CUDA {cuda} build but no GPU visible "
                         f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})",
                         "check `nvidia-smi` and the driver"))
    try:
        import triton

        gpu = cuda is not None and torch.cuda.is_available()
        out.append(Check("compute", "Triton", "ok" if gpu else "info", f"{triton.__version__}"
                         + ("" if gpu else " (no GPU: the reference PyTorch ops are used)")))
    except ImportError:
        out.append(Check("compute", "Triton", "info", "not installed: the reference PyTorch ops are used",
                         "pip install triton (Linux x86_64, with a CUDA torch)"))
    n = available_cpus()
    out.append(Check("compute", "CPU threads", "info",
                     f"{n} CPUs usable; `run` uses {default_threads(n)} torch thread(s) unless --threads N"))
    return out


def _data_checks(data_root: str | None) -> list[Check]:
    from .benchmarks.base import build_benchmark, resolve_data_root
    from .datasets import benchmarks_of, dataset_cards
    from .errors import EvalkitError

    root = Path(data_root or os.environ.get("EVALKIT_DATA") or "datasets")
    how = "--data-root" if data_root else ("$EVALKIT_DATA" if os.environ.get("EVALKIT_DATA") else "./datasets")
    out = [Check("data", "data root", "ok" if root.is_dir() else "warn", f"{root.resolve()} ({how})",
                 "" if root.is_dir() else "evalkit data get DATASET --root DIR, or set EVALKIT_DATA")]
    absent = []
    for card in dataset_cards().values():
        folder = resolve_data_root(card.folder, data_root)  # the folder a run would read
        if not folder.is_dir():
            absent.append(card.id)
            continue
        good, bad = [], []
        for b in benchmarks_of(card.folder):
            try:
                build_benchmark(b, data_root).validate()
                good.append(b)
            except EvalkitError:
                bad.append(b)
        status = "ok" if good and not bad else ("warn" if good else "fail")
        out.append(Check("data", card.id, status, f"{folder}: validates {', '.join(good) or 'none'}"
                         + (f"; not {', '.join(bad)}" if bad else ""),
                         f"evalkit validate -b {','.join(bad)}" if bad else ""))
    if absent:
        out.append(Check("data", "absent", "info", ", ".join(absent),
                         "evalkit data ls; evalkit data get ID --root DIR"))
    return out


def _weights_checks() -> list[Check]:
    from .cli_download import model_status
    from .hub import cache_root, hf_cache_dir
    from .zoo.cards import list_cards

    out = [Check("weights", "caches", "info", f"evalkit {cache_root()}; Hugging Face {hf_cache_dir()}"),
           Check("weights", "HF_TOKEN", "info", "set" if os.environ.get("HF_TOKEN") else "not set")]
    states: dict[str, list[str]] = {}
    for card in list_cards():
        try:
            states.setdefault(model_status(card.id), []).append(card.id)
        except Exception as e:  # noqa: BLE001 - a broken card must not stop the checklist
            states.setdefault(f"error ({type(e).__name__})", []).append(card.id)
    for state in ("bundled", "cached", "unpinned", "not cached"):
        if state in states:
            ids = states.pop(state)
            out.append(Check("weights", state, "ok" if state != "not cached" else "info",
                             ", ".join(ids), "evalkit download -m MODEL" if state == "not cached" else ""))
    for state, ids in states.items():
        out.append(Check("weights", state, "fail", ", ".join(ids)))
    return out


def _network_checks(probe: bool) -> list[Check]:
    from .hub import is_offline

    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    parts = urllib.parse.urlsplit(endpoint)
    flag = is_offline()
    out = [Check("network", "offline flag", "info",
                 "HF_HUB_OFFLINE/EVALKIT_OFFLINE set: nothing is downloaded" if flag else "not set")]
    if probe:
        ok, detail = probe_network(parts.hostname or "huggingface.co", parts.port or (443 if parts.scheme != "http" else 80))
        out.append(Check("network", "probe", "ok" if ok else "warn", detail,
                         "" if ok else "offline: prefetch with `evalkit download -m MODEL` elsewhere and "
                         "copy the caches, or set HF_HUB_OFFLINE=1"))
    return out


def run_checks(data_root: str | None = None, probe: bool = True) -> dict[str, Any]:
    """Every check as a JSON-able dict: ``{"checks": [...], "offline": bool, ...}``."""
    from . import __version__
    from .provenance import versions

    checks = [Check("python", "python", "ok", sys.version.split()[0] + f" ({sys.executable})"),
              Check("python", "evalkit", "ok", __version__)]
    checks += _torch_checks() + _data_checks(data_root) + _weights_checks() + _network_checks(probe)
    probe_ok = next((c.status == "ok" for c in checks if c.section == "network" and c.name == "probe"), None)
    from .hub import is_offline

    try:
        import torch

        cuda_available = bool(torch.cuda.is_available())
    except ImportError:
        cuda_available = False
    from .hub import cache_root, hf_cache_dir
    from .provenance import hardware

    env = {k: os.environ.get(k) for k in ("EVALKIT_DATA", "EVALKIT_CACHE", "HF_HOME", "HF_HUB_CACHE",
                                          "HF_HUB_OFFLINE", "EVALKIT_OFFLINE", "HF_ENDPOINT", "CUDA_VISIBLE_DEVICES")}
    return {"checks": [asdict(c) for c in checks], "versions": versions(), "hardware": hardware(),
            "environment": env, "cuda_available": cuda_available,
            "data_root": str(Path(data_root or os.environ.get("EVALKIT_DATA") or "datasets").resolve()),
            "weights_cache": str(cache_root()), "hf_cache": str(hf_cache_dir()),
            "offline": is_offline() or probe_ok is False, "network_probe": probe_ok,
            "problems": sum(c.status == "fail" for c in checks)}


_MARK = {"ok": "[green]✓[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✗[/red]", "info": "[dim]·[/dim]"}


def render(info: dict[str, Any]) -> None:
    """The checklist on stdout (rich markup), grouped by section."""
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    section = None
    for c in info["checks"]:
        if c["section"] != section:
            section = c["section"]
            console.print(f"[bold]{section}[/bold]")
        line = f"  {_MARK[c['status']]} {escape(c['name'])}: {escape(c['detail'])}"
        if c["fix"]:
            line += f"  [dim]→ {escape(c['fix'])}[/dim]"
        console.print(line, overflow="fold")
    console.print(f"{info['problems']} problem(s); offline: {'yes' if info['offline'] else 'no'}")
