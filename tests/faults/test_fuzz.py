"""Fuzz table of bad inputs: every one is a single ``evalkit: error:`` line and exit code 2.

Each case starts from a valid (ground truth, results) pair of one metric
(:mod:`fuzz_inputs`), damages a copy, runs ``evalkit score`` in-process
(:func:`evalkit.cli.main`) and checks:

* the exit code is 2 and stderr is exactly one line ``evalkit: error: ...`` matching the
  expected fragment (no traceback, no "internal error");
* nothing was written: every file of the case folder is byte-identical after the call and the
  working directory is still empty.

Generic damages (applied to the file the reader meets first in the middle of a sequence, or
to the GT / results path itself):

``truncate``  the file cut to half its bytes      ``garbage``  replaced by non-UTF-8 bytes
``swap``      a folder where a file belongs (and the reverse)
``delete``    one file of a folder removed        ``jsontype``  a JSON of the wrong top-level type
``badid``     the first entry's id is a list (``unhashable type`` before)

Damages left out as correct behaviour: cutting a MOTChallenge/MOTS text file leaves a shorter
valid file whenever the cut falls on a row boundary or inside a number (the ``torn-row``
case covers a cut row); a deleted BDD100K bitmask prediction frame counts as a frame without
predictions (a documented deviation, see :mod:`evalkit.metrics.bdd100k`); a deleted VIPOSeg
reference mask (``Annotations/``) or YouTube-VOS ground-truth frame cannot be told from a
frame the dataset does not annotate; a BDD100K prediction frame's ``name`` is not used to pair
frames (``videoName`` + ``frameIndex`` are), so a list there is harmless.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from evalkit import cli

from fuzz_inputs import build_valid_inputs

#: metric -> the generic damages that apply to its inputs ("side:damage")
GENERIC = {
    "bdd100k-box-track": "gt:truncate gt:garbage gt:swap gt:delete res:truncate res:garbage res:swap res:jsontype",
    "bdd100k-seg-track": "gt:truncate gt:garbage gt:swap gt:delete res:truncate res:garbage res:swap",
    "burst": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "coco-bbox": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "coco-segm": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "davis-semi": "gt:truncate gt:garbage gt:swap gt:delete res:truncate res:garbage res:swap res:delete",
    "davis-unsup": "gt:truncate gt:garbage gt:swap gt:delete res:truncate res:garbage res:swap res:delete",
    "fss": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "lvis-bbox": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "lvis-segm": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "lvos": "gt:truncate gt:garbage gt:swap gt:delete res:truncate res:garbage res:swap res:delete",
    "mot-challenge": "gt:garbage gt:swap gt:delete res:garbage res:swap res:delete",
    "mots-challenge": "gt:garbage gt:swap gt:delete res:garbage res:swap res:delete",
    "odinw": "gt:truncate gt:garbage gt:swap gt:jsontype res:truncate res:garbage res:swap res:jsontype",
    "ref-davis": "gt:truncate gt:garbage gt:swap gt:delete res:truncate res:garbage res:swap res:delete",
    "refcoco-rec": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "refcoco-res": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "sot": "gt:truncate gt:garbage gt:swap gt:delete res:truncate res:garbage res:swap res:delete",
    "tao-teta": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "viposeg": "gt:truncate gt:garbage gt:swap res:truncate res:garbage res:swap res:delete",
    "vipseg": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:delete",
    "vspw": "gt:truncate gt:garbage gt:swap gt:delete res:truncate res:garbage res:swap res:delete",
    "ytvis": "gt:truncate gt:garbage gt:swap gt:jsontype gt:badid res:truncate res:garbage res:swap res:jsontype res:badid",
    "ytvos": "gt:truncate gt:garbage gt:swap res:truncate res:garbage res:swap res:delete",
}

#: the expected message fragment of each damage ...
FRAGMENT = {
    "truncate": r"not valid JSON|cannot (be )?read|truncated",
    "garbage": r"not UTF-8 text|cannot (be )?read",
    "swap": r"expected a (JSON )?(file|folder)( of sequences)? at .*, found a (folder|file)",
    "delete": r"missing|lacks frame|not in the ground truth|no results file|not a frame of video",
    "jsontype": r"must be a JSON|expected a|needs|must map|is an object",
    "badid": r"must be an integer or a string",
}
#: ... and where a reader says it its own way
FRAGMENT_OF = {
    ("bdd100k-box-track", "gt", "swap"): r"not valid JSON",  # a file is a valid GT path, not JSON
    ("bdd100k-box-track", "res", "swap"): r"no \.json files in folder",
    ("bdd100k-seg-track", "gt", "swap"): r"ground truth must be a bitmask folder",
    ("bdd100k-seg-track", "res", "swap"): r"no \.json files in folder",
    ("burst", "gt", "swap"): r"ground truth file not found",  # a folder is a split folder
    ("sot", "gt", "truncate"): r"boxes but the ground truth has",
    ("sot", "res", "truncate"): r"boxes but the ground truth has",
    ("sot", "res", "swap"): r"results for sequence .* not found",
    ("sot", "res", "delete"): r"results for sequence .* not found",
    ("vipseg", "res", "swap"): r"pred\.json is missing",
}


# -- damages -----------------------------------------------------------------------------------
def _data_file(p: Path) -> Path:
    """The file of ``p`` a damage targets: ``p`` itself, or the middle file of the first
    folder holding data files (the middle frame: the first and last may not be read, e.g. the
    semi-supervised protocol drops them; GOT-10k ``*_time.txt`` are for the server only)."""
    if p.is_file():
        return p
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in (".json", ".txt", ".png")
                   and not f.name.endswith("_time.txt"))
    same = [f for f in files if f.parent == files[0].parent]
    return same[len(same) // 2]


def truncate(p: Path) -> Path:
    f = _data_file(p)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    return f


def garbage(p: Path) -> Path:
    f = _data_file(p)
    f.write_bytes(b"\x00\xffgarbage\n")
    return f


def swap(p: Path) -> Path:
    if p.is_dir():
        shutil.rmtree(p)
        p.write_text("x\n")
    else:
        p.unlink()
        p.mkdir()
    return p


def delete(p: Path) -> Path:
    f = _data_file(p)
    f.unlink()
    return f


def jsontype(p: Path) -> Path:
    data = json.loads(p.read_text())
    p.write_text(json.dumps({"x": 1} if isinstance(data, list) else [1, 2]))
    return p


def badid(p: Path) -> Path:
    data = json.loads(p.read_text())
    entries = data if isinstance(data, list) else next(
        data[k] for k in ("annotations", "sequences", "queries", "videos") if isinstance(data.get(k), list))
    first = entries[0]
    key = next(k for k in ("image_id", "video_id", "query_id", "id") if k in first)
    first[key] = [1]
    p.write_text(json.dumps(data))
    return p


DAMAGES = {f.__name__: f for f in (truncate, garbage, swap, delete, jsontype, badid)}


# -- damages of one format (file, entry, field) -------------------------------------------------
def _edit_json(path: Path, edit) -> Path:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


def _edit_lines(path: Path, edit) -> Path:
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def _dup_first(key):
    def edit(d):
        d[key].append(dict(d[key][0]))
    return edit


SPECIFIC = [
    # (case id, metric, side, damage(path) -> path, fragment)
    ("coco-dup-annotation-id", "coco-bbox", "gt",
     lambda p: _edit_json(p, _dup_first("annotations")), r"duplicate annotations id\(s\) \[1\]"),
    ("coco-dup-image-id", "coco-segm", "gt",
     lambda p: _edit_json(p, _dup_first("images")), r"duplicate images id\(s\) \[1\]"),
    ("coco-dup-category-id", "coco-bbox", "gt",
     lambda p: _edit_json(p, _dup_first("categories")), r"duplicate categories id\(s\)"),
    ("coco-image-without-id", "coco-bbox", "gt",
     lambda p: _edit_json(p, lambda d: d["images"][0].pop("id")), r"images\[0\] lacks 'id'"),
    ("coco-annotation-without-bbox", "coco-bbox", "gt",
     lambda p: _edit_json(p, lambda d: d["annotations"][0].pop("bbox")), r"annotations\[0\] \(id 1\) lacks 'bbox'"),
    ("coco-bbox-3-numbers", "coco-segm", "gt",
     lambda p: _edit_json(p, lambda d: d["annotations"][0]["bbox"].pop()), r"annotations\[0\] \(id 1\): bbox must be 4"),
    ("coco-category-id-dict", "coco-bbox", "res",
     lambda p: _edit_json(p, lambda d: d[0].update(category_id={"id": 1})), r"entry 0: category_id must be an integer"),
    ("lvis-dup-annotation-id", "lvis-bbox", "gt",
     lambda p: _edit_json(p, _dup_first("annotations")), r"duplicate annotations id"),
    ("lvis-bbox-3-numbers", "lvis-bbox", "gt",
     lambda p: _edit_json(p, lambda d: d["annotations"][0]["bbox"].pop()), r"bbox must be 4 finite numbers"),
    ("coco-nan-score", "coco-bbox", "res",
     lambda p: p.write_text(p.read_text().replace('"score":', '"score":NaN,"x":', 1)) or p,
     r"entry 0: score must be a finite number, got nan"),
    ("refcoco-image-id-list", "refcoco-res", "res",
     lambda p: _edit_json(p, lambda d: d[0].update(image_id=[1])), r"entry 0: image_id must be an integer"),
    ("mot-negative-id", "mot-challenge", "res",
     lambda p: _edit_lines(p / "MOT-a.txt", lambda ls: ls.__setitem__(2, "2,-3," + ls[2].split(",", 2)[2])),
     r"MOT-a\.txt:3: track id must be an integer >= 0, got '-3'"),
    ("mot-negative-width", "mot-challenge", "gt",
     lambda p: _edit_lines(p / "MOT-a" / "gt" / "gt.txt", lambda ls: ls.__setitem__(1, "1,2,5,5,-4,10,1,1,1")),
     r"gt\.txt:2: box width/height must be >= 0, got '-4' x '10'"),
    ("mot-torn-row", "mot-challenge", "res",
     lambda p: _edit_lines(p / "MOT-b.txt", lambda ls: ls.insert(3, "3,1,40")),
     r"MOT-b\.txt:4: expected at least 6 fields, got 3"),
    ("mot-non-utf8-row", "mot-challenge", "gt",
     lambda p: (p / "MOT-b" / "gt" / "gt.txt").write_bytes(
         (p / "MOT-b" / "gt" / "gt.txt").read_bytes().replace(b"\n", b"\n1,9,\xe9\n", 1)) or p / "MOT-b",
     r"gt\.txt:2: not UTF-8 text \(byte 0xe9"),
    ("mots-negative-id", "mots-challenge", "res",
     lambda p: _edit_lines(p / "0001.txt", lambda ls: ls.__setitem__(0, ls[0].replace(" 2001 ", " -1 ", 1))),
     r"0001\.txt:1: track id must be an integer >= 0"),
    ("davis-first-gt-frame-deleted", "davis-semi", "gt",
     lambda p: (p / "Annotations/480p/bike-packing/00000.png").unlink() or p, r"lacks frame\(s\) .*00000\.png"),
    ("vspw-gt-mask-deleted", "vspw", "gt",
     lambda p: delete(p / "data"), r"is missing \(1 frame\(s\) of .*origin have no mask\)"),
    ("ytvos-meta-truncated", "ytvos", "gt",
     lambda p: truncate(p / "meta.json"), r"meta\.json is not valid JSON"),
]

OPTION_CASES = [
    # (case id, metric, --set items, fragment): the metric options are checked against the
    # metric function's signature and the types of its defaults
    ("set-unknown-option", "coco-bbox", ["maxDets=abc"], r"metric 'coco-bbox' has no option 'maxDets' \(options: backend='fast'\)"),
    ("set-wrong-type", "coco-bbox", ["backend=3"], r"option backend expects a str \(default 'fast'\), got 3"),
    ("set-bad-value", "refcoco-rec", ["iou=abc"], r"iou must be 'iou' or 'giou', got 'abc'"),
    ("set-no-equals", "coco-bbox", ["backend"], r"--set expects key=value, got 'backend'"),
]


def _cases():
    out = []
    for metric, spec in GENERIC.items():
        for item in spec.split():
            side, damage = item.split(":")
            frag = FRAGMENT_OF.get((metric, side, damage), FRAGMENT[damage])
            out.append(pytest.param(metric, side, DAMAGES[damage], frag, id=f"{metric}-{side}-{damage}"))
    for case_id, metric, side, damage, frag in SPECIFIC:
        out.append(pytest.param(metric, side, damage, frag, id=case_id))
    return out


# -- fixtures and harness ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def valid(tmp_path_factory, generated_datasets):
    root, oracle = generated_datasets
    base = tmp_path_factory.mktemp("fuzz_valid")
    return base, build_valid_inputs(base, root, oracle)


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def run_cli(argv, capsys, cwd: Path) -> tuple[int, str, str]:
    """``evalkit.cli.main(argv)`` in-process; (exit code, stdout, stderr). ``cwd`` must stay
    empty: nothing may be written beside the inputs either."""
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert not any(cwd.iterdir()), f"files created in the working directory: {list(cwd.iterdir())}"
    return rc, out, err


def assert_one_line_error(rc: int, out: str, err: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("evalkit: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    assert re.search(fragment, lines[0]), f"{fragment!r} not in {lines[0]!r}"
    assert out == ""


@pytest.fixture
def work(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return tmp_path


def test_every_metric_has_a_valid_case_and_damages(valid, work, capsys):
    """The baseline of the table: every metric of `evalkit ls metrics` scores its valid inputs
    (so each damage below is what breaks them) and has damages of both its GT and results."""
    from evalkit.registry import METRICS

    base, inputs = valid
    assert set(inputs) == set(GENERIC) == {e.id for e in METRICS.select()}
    for metric, vi in inputs.items():
        rc, out, err = run_cli(vi.argv(base / metric), capsys, work / "cwd")
        assert rc == 0, (metric, err)
        assert json.loads(out), metric
        sides = {item.split(":")[0] for item in GENERIC[metric].split()}
        assert sides == {"gt", "res"}, metric


@pytest.mark.parametrize("metric,side,damage,fragment", _cases())
def test_bad_input_is_one_line_exit_2(valid, work, capsys, metric, side, damage, fragment):
    base, inputs = valid
    vi = inputs[metric]
    folder = work / "case"
    shutil.copytree(base / metric, folder)
    damage(folder / (vi.gt if side == "gt" else vi.res))
    before = _snapshot(folder)
    rc, out, err = run_cli(vi.argv(folder), capsys, work / "cwd")
    assert_one_line_error(rc, out, err, fragment)
    assert _snapshot(folder) == before  # nothing created, nothing damaged further


@pytest.mark.parametrize("case_id,metric,items,fragment", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_bad_metric_option_is_one_line_exit_2(valid, work, capsys, case_id, metric, items, fragment):
    base, inputs = valid
    vi = inputs[metric]
    before = _snapshot(base / metric)
    argv = vi.argv(base / metric) + [a for item in items for a in ("--set", item)]
    rc, out, err = run_cli(argv, capsys, work / "cwd")
    assert_one_line_error(rc, out, err, fragment)
    assert _snapshot(base / metric) == before


def test_empty_results_list_scores_with_a_warning(valid, work, capsys, caplog):
    """An empty results list is a legal answer (0 everywhere) but far more often a results
    file written before any prediction: it is scored, and said (pycocotools' loadRes([]) would
    fail with an IndexError instead)."""
    base, inputs = valid
    for metric in ("coco-bbox", "lvis-segm", "ytvis", "tao-teta"):
        vi = inputs[metric]
        folder = work / metric
        shutil.copytree(base / metric, folder)
        (folder / vi.res).write_text("[]")
        with caplog.at_level("WARNING", logger="evalkit.metrics"):
            rc, out, err = run_cli(vi.argv(folder), capsys, work / "cwd")
        assert rc == 0, err
        assert any("holds no results" in r.getMessage() and vi.res.split("/")[-1] in r.getMessage()
                   for r in caplog.records), (metric, caplog.text)
        caplog.clear()


def test_results_file_where_a_folder_is_expected(valid, work, capsys):
    """`--results x.json` for a metric that reads a folder of PNGs names the mistake."""
    base, inputs = valid
    vi = inputs["davis-semi"]
    stray = work / "results.json"
    stray.write_text("[]")
    argv = vi.argv(base / "davis-semi")
    argv[argv.index("--results") + 1] = str(stray)
    rc, out, err = run_cli(argv, capsys, work / "cwd")
    assert_one_line_error(rc, out, err, r"results: expected a folder at .*results\.json, found a file")
