"""pytest plugin: after the run, every skip reason is listed once with its count and how to turn
those tests on (the table of the README section "Running the parity checks"). A skip whose
reason is not in :data:`HOW_TO_ENABLE` is listed as such, so a new skip without a way to enable
it shows up in every run."""
from __future__ import annotations

import re
from collections import Counter

#: (pattern on the skip reason, how to enable the skipped tests)
HOW_TO_ENABLE: list[tuple[str, str]] = [
    (r"\.\./shared|shared (reference data|fixtures)|fixtures is absent|paper_results\.csv",
     "real fixtures / reference tables beside the checkout: put them at ../shared/ (fixtures/: public "
     "files of cocoapi, lvis-api, scalabel, bdd100k and motmetrics, listed in fixtures/README.md; "
     "reference/paper_results.csv)"),
    (r"BURST_REFERENCE_PATH", "BURST_REFERENCE_PATH=<a checkout of github.com/Ali2500/BURST-benchmark>"),
    (r"TETA_REFERENCE_PATH", "TETA_REFERENCE_PATH=<the teta/ folder of github.com/SysCV/tet>"),
    (r"BDD100K_REFERENCE_PYTHON", "BDD100K_REFERENCE_PYTHON=<python of a venv with the bdd100k toolkit; "
     "pins in tests/metrics_track/test_track_bdd_official.py>"),
    (r"UNINEXT_REFERENCE_PATH", "UNINEXT_REFERENCE_PATH=<a checkout of MasterBin-IIAU/UNINEXT>"),
    (r"PYTRACKING_REFERENCE_PATH", "PYTRACKING_REFERENCE_PATH=<a checkout of visionml/pytracking>"),
    (r"TRACKINGNET_DEVKIT_PATH", "TRACKINGNET_DEVKIT_PATH=<a checkout of SilvioGiancola/TrackingNet-devkit>"),
    (r"VSPW_REFERENCE_PATH", "VSPW_REFERENCE_PATH=<a checkout of the VSPW code (CVPR2021_VSPW_Implement)>"),
    (r"UNIVS_REFERENCE_PATH", "UNIVS_REFERENCE_PATH=<a checkout of MinghanLi/UniVS>"),
    (r"got10k", "pip install got10k==0.1.3 (the test extra: bash scripts/install.sh test)"),
    (r"torchvision missing", "pip install torchvision (the build matching your torch); transformers' SAM 2 processors need it"),
    (r"tidecv missing|PyAV missing", "pip install 'evalkit[viz]' (tidecv, PyAV; included by bash scripts/install.sh test)"),
    (r"pdflatex", "install a TeX distribution with pdflatex (apt-get install texlive-latex-base)"),
    (r"ptxas|NVIDIA backend", "a CUDA machine with Triton's NVIDIA backend (see README 'CPU and GPU')"),
    (r"triton", "pip install triton (Linux x86_64)"),
    (r"root can write anywhere", "run the tests as a non-root user"),
    (r"torchrun/gloo|runs on Linux", "run on Linux"),
    (r"weights not trained", "the tiny weights ship in zoo/tiny/; retrain with `python -m evalkit.train` if removed"),
    (r"CUDA build", "a CPU-only torch (the message tested cannot occur with a CUDA build)"),
]


def _how(reason: str) -> str:
    for pattern, how in HOW_TO_ENABLE:
        if re.search(pattern, reason, re.I):
            return how
    return "NO KNOWN WAY TO ENABLE: add it to tests/plugins/skip_help.py"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    reasons: Counter[str] = Counter()
    for rep in terminalreporter.stats.get("skipped", []):
        longrepr = rep.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if not reasons:
        return
    terminalreporter.section("skipped tests: why, and how to enable them")
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{n:4d}  {reason}\n      -> {_how(reason)}")
