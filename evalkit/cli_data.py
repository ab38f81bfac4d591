"""``evalkit data``: the datasets of the registered splits, and getting them.

    evalkit data ls [--json]                 # every dataset card: access, folder, benchmarks, present?
    evalkit data get davis [--root DIR]      # download, verify, extract, validate
    evalkit data get coco --only val2017.zip,annotations_trainval2017.zip   # a subset of the files
    evalkit data get ytvos18                 # needs a login: prints the steps and target paths

``--root`` defaults to ``$EVALKIT_DATA`` or ``./datasets`` (where ``evalkit run`` looks).
Exit status: 0 when the dataset is in place and every benchmark of it validates, 1 when steps
remain to be done by hand or a benchmark does not validate, 2 on errors.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    ls = sub.add_parser("ls", help="list the dataset cards")
    ls.add_argument("--root", help="data root to check for present datasets (default $EVALKIT_DATA or ./datasets)")
    ls.add_argument("--json", action="store_true", help="print the cards as JSON")
    get = sub.add_parser("get", help="download, verify, extract and validate one dataset")
    get.add_argument("dataset", help="dataset id or folder (see `evalkit data ls`)")
    get.add_argument("--root", help="data root (default $EVALKIT_DATA or ./datasets)")
    get.add_argument("--keep-archives", action="store_true", help="keep the downloaded archives")
    get.add_argument("--no-validate", action="store_true", help="skip the validation of the benchmarks")
    get.add_argument("--only", metavar="FILE[,FILE]", help="only these files of the card (names as `data ls --json` lists them)")


def _root(arg: str | None) -> Path:
    return Path(arg or os.environ.get("EVALKIT_DATA") or "datasets")


def main(args: argparse.Namespace) -> int:
    return _ls(args) if args.data_command == "ls" else _get(args)


def _ls(args: argparse.Namespace) -> int:
    from .datasets import dataset_cards

    root = _root(args.root)
    rows = []
    for card in dataset_cards().values():
        d = card.to_json()
        d["present"] = (root / card.folder).is_dir()
        rows.append(d)
    if args.json:
        print(json.dumps({"root": str(root), "datasets": rows}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"evalkit datasets ({len(rows)}), root {root}")
    for c in ("id", "folder", "access", "direct", "benchmarks", "present"):
        table.add_column(c, overflow="fold")
    for d in rows:
        n_url = sum(1 for f in d["files"] if f["url"] and not f["login"])
        table.add_row(d["id"], d["folder"], d["access"], f"{n_url}/{len(d['files'])}",
                      f"{len(d['benchmarks'])}: {d['benchmarks'][0] if d['benchmarks'] else '-'}"
                      + (" ..." if len(d["benchmarks"]) > 1 else ""), "yes" if d["present"] else "-")
    Console().print(table)
    Console().print("direct: files with a public URL. `evalkit data get ID` downloads those and prints "
                    "the steps for the rest (registration: a login; manual: a by-hand download); "
                    "licences and URLs: `evalkit data ls --json`")
    return 0


def _get(args: argparse.Namespace) -> int:
    from .data_get import get_dataset
    from .datasets import get_dataset_card

    card = get_dataset_card(args.dataset)
    root = _root(args.root)
    print(f"{card.id}: {card.name} -> {root / card.folder} (licence: {card.license})")
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    for f in card.files:
        if only is None or f.name in only:
            print(f"  {'direct ' if f.downloadable else 'by hand'}  {f.name}" + (f": {f.contents}" if f.contents else ""))
    report = get_dataset(card, root, validate=not args.no_validate, keep_archives=args.keep_archives, only=only)
    for name, sha in report.fetched:
        print(f"  fetched   {name}  sha256 {sha}")
    if report.manual:
        what = "needs a login" if card.access == "registration" else "needs a manual download"
        print(f"  {card.id} {what} for: {', '.join(report.manual)}. Steps:")
        for i, step in enumerate(report.steps, 1):
            print(f"    {i}. {step}")
        print(f"  expected layout under {root}:")
        for line in card.layout:
            print(f"    {line}")
    for bench, state in report.validated.items():
        print(f"  {'ok     ' if state == 'ok' else 'FAILED '} {bench}" + ("" if state == "ok" else f": {state}"))
    if report.manual and report.validated:
        ids = ",".join(report.validated)
        print(f"  then check with `evalkit validate -b {ids} --data-root {root}`")
    return 0 if report.ok else 1
