"""A user's own model, in the three ways of ``docs/your-model.md``, with the example of
``examples/my_model/shapes_detector.py`` on the shapes suite: ``--model file.py:factory`` and
``module:factory`` (evalkit/user_model.py through the model registry's resolver),
``evalkit.evaluate(adapter_object)`` (evalkit/api.py) and the ``evalkit.models`` entry point of
``examples/my_model/pyproject.toml``; the run record's provenance; the same task / option checks
as a built-in model."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import evalkit
from evalkit.errors import EvalkitError, UnsupportedTaskError
from evalkit.registry import MODELS
from evalkit.types import Instances

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "my_model"
DETECTOR = EXAMPLE / "shapes_detector.py"
FILE_SPEC = f"{DETECTOR}:make_adapter"


@pytest.fixture
def on_path(monkeypatch):
    """``examples/my_model`` importable, as after ``pip install examples/my_model``."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield
    sys.modules.pop("shapes_detector", None)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_file_spec_runs_the_example_and_records_its_source(suite_cache, tmp_path, subprocess_env):
    # the command of docs/your-model.md, way 1
    env = dict(subprocess_env, EVALKIT_CACHE=str(suite_cache), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "evalkit", "run", "-m", FILE_SPEC, "-b", "shapes-coco-det",
                          "--runs-root", str(tmp_path / "runs"), "--quiet", "-a", "min_area=15"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["model"] == "shapes_detector.make_adapter" and res["status"] == "complete"
    assert res["metrics"]["AP"] > 0.9  # measured 0.956 (a real detector, not a constant)
    run = json.loads((Path(res["run_dir"]) / "run.json").read_text())
    assert run["model"]["options"]["min_area"] == 15  # the -a option reached the factory
    assert run["model"]["source"] == {
        "kind": "file", "import_path": FILE_SPEC,
        "files": [{"path": str(DETECTOR.resolve()), "sha256": _sha(DETECTOR)}]}


def test_module_spec_of_a_class_selects_its_tasks_from_a_group(suite_cache, tmp_path, on_path):
    # a class factory declares its tasks: the group "shapes" runs only det, inst-seg and vis
    results = evalkit.evaluate("shapes_detector:ShapesDetector", "shapes", runs_root=str(tmp_path),
                               threads=1, num_workers=0)
    by_bench = {r.run_dir.parts[-3]: r for r in results}
    assert sorted(by_bench) == ["shapes-coco-det", "shapes-coco-seg", "shapes-ytvis"]
    assert by_bench["shapes-coco-seg"].metrics["AP"] > 0.9 and by_bench["shapes-ytvis"].metrics["AP"] > 0.9
    run = json.loads((by_bench["shapes-ytvis"].run_dir / "run.json").read_text())
    assert run["config"]["model"] == "shapes_detector.ShapesDetector"
    assert run["model"]["source"]["import_path"] == "shapes_detector:ShapesDetector"
    assert run["model"]["source"]["files"] == [{"path": str(DETECTOR.resolve()), "sha256": _sha(DETECTOR)}]


def test_evaluate_takes_an_adapter_object(suite_cache, tmp_path, on_path):
    from shapes_detector import ShapesDetector

    detector = ShapesDetector(min_area=30)
    [res] = evalkit.evaluate(detector, "shapes-coco-det", runs_root=str(tmp_path), threads=1, limit=10)
    assert res.status == "partial" and res.metrics["AP"] > 0.8  # measured 0.895 on these 10 images
    assert res.run_dir.parts[-2] == "shapes-detector"  # the object's model_id names the run folder
    model = json.loads((res.run_dir / "run.json").read_text())["model"]
    assert model["options"]["min_area"] == 30
    assert model["source"]["kind"] == "object"
    assert model["source"]["import_path"] == "shapes_detector:ShapesDetector"
    assert "shapes-detector" not in MODELS  # the object is not kept by the registry
    with pytest.raises(EvalkitError, match="model_options cannot be applied to an adapter object"):
        evalkit.evaluate(detector, "shapes-coco-det", model_options={"min_area": 5})


class Threshold:
    """A duck-typed model (no evalkit base class): the brightest-pixel box of an image."""

    tasks = {"det"}

    def __init__(self):
        self.prepared = None

    def prepare(self, task, benchmark):
        self.prepared = (task, benchmark.id)

    def predict(self, frames, prompt):
        out = []
        for img in frames:
            ys, xs = np.nonzero(img.max(-1) > 200)
            boxes = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32) if len(xs) \
                else np.zeros((0, 4), np.float32)
            out.append(Instances(img.shape[:2], boxes=boxes, scores=np.full(len(boxes), 0.5, np.float32),
                                 labels=np.full(len(boxes), prompt.ids[0])))
        return out


def test_evaluate_takes_any_object_with_the_protocol(suite_cache, tmp_path):
    model = Threshold()
    [res] = evalkit.evaluate(model, "shapes-coco-det", runs_root=str(tmp_path), threads=1, limit=3)
    assert res.status == "partial" and model.prepared == ("det", "shapes-coco-det")
    record = json.loads((res.run_dir / "run.json").read_text())["model"]
    assert record["model_id"] == "Threshold" and record["source"]["import_path"].endswith(":Threshold")
    assert record["source"]["files"] == [{"path": __file__, "sha256": _sha(Path(__file__))}]
    # the built-in check of the declared tasks, before any run directory is made
    with pytest.raises(UnsupportedTaskError, match="model 'Threshold' does not support task 'vis'"):
        evalkit.evaluate(Threshold(), "shapes-ytvis", runs_root=str(tmp_path / "vis"))
    assert not (tmp_path / "vis").exists()
    with pytest.raises(EvalkitError, match=r"got a object without predict\(frames, prompt\)"):
        evalkit.evaluate(object(), "shapes-coco-det")


def test_user_models_get_the_option_and_task_checks_of_built_in_ones(suite_cache, tmp_path, on_path):
    # a function factory: its named arguments are the options it takes
    with pytest.raises(EvalkitError, match=r"has no option 'min_size' \(-a/--model-arg accepts: min_area, tolerance\)"):
        evalkit.evaluate(FILE_SPEC, "shapes-coco-det", model_options={"min_size": 3}, runs_root=str(tmp_path))
    # an Adapter class: its option_keys, through the runner's own check
    with pytest.raises(EvalkitError, match=r"has no option 'min_size' \(-a/--model-arg accepts: "
                                           r"iou_threshold, min_area, min_score, tolerance\)"):
        evalkit.evaluate("shapes_detector:ShapesDetector", "shapes-coco-det", model_options={"min_size": 3},
                         runs_root=str(tmp_path))
    with pytest.raises(UnsupportedTaskError, match="does not support task 'rec'"):
        evalkit.evaluate(FILE_SPEC, "shapes-refcoco-rec", runs_root=str(tmp_path))
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing was started


def test_bad_specs_are_one_line_errors(tmp_path):
    with pytest.raises(EvalkitError, match=r"no such file .*nothere\.py"):
        evalkit.evaluate(f"{tmp_path}/nothere.py:make", "shapes-coco-det")
    with pytest.raises(EvalkitError, match=r"has no 'make_adaptr' \(it defines: ShapesDetector, make_adapter, register\)"):
        evalkit.evaluate(f"{DETECTOR}:make_adaptr", "shapes-coco-det")
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(EvalkitError, match=r"importing .*broken\.py failed: RuntimeError: no GPU here"):
        evalkit.evaluate(f"{broken}:make", "shapes-coco-det")
    with pytest.raises(EvalkitError, match="no module named 'not_a_pkg_xyz'"):
        evalkit.evaluate("not_a_pkg_xyz.models:make", "shapes-coco-det")
    returns_none = tmp_path / "none.py"
    returns_none.write_text("def make():\n    return None\n")
    with pytest.raises(EvalkitError, match=r"got a NoneType without predict"):
        evalkit.evaluate(f"{returns_none}:make", "shapes-coco-det", runs_root=str(tmp_path / "r"))


def test_entry_point_plugin_of_the_example(suite_cache, tmp_path, subprocess_env):
    """Way 3: what ``pip install examples/my_model`` installs — a distribution whose
    ``entry_points.txt`` holds the entry point of the example's pyproject.toml — makes
    ``shapes-detector`` a listed model id."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    eps = project["entry-points"]["evalkit.models"]
    dist = tmp_path / "site" / "evalkit_shapes_detector-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (dist / "entry_points.txt").write_text("[evalkit.models]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    env = dict(subprocess_env, EVALKIT_CACHE=str(suite_cache), OMP_NUM_THREADS="1",
               PYTHONPATH=f"{tmp_path / 'site'}:{EXAMPLE}:{subprocess_env['PYTHONPATH']}")
    ls = subprocess.run([sys.executable, "-m", "evalkit", "ls", "models", "shapes-detector", "--json"],
                        capture_output=True, text=True, env=env, timeout=300)
    assert ls.returncode == 0, ls.stderr
    assert "shapes-detector" in ls.stdout
    out = subprocess.run([sys.executable, "-m", "evalkit", "run", "-m", "shapes-detector", "-b", "shapes-ytvis",
                          "--runs-root", str(tmp_path / "runs"), "--quiet"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["status"] == "complete" and res["metrics"]["AP"] > 0.9  # measured 1.0
    # provenance of a plugin's model: its registry target, the hashes of its files, its distribution
    run = json.loads((Path(res["run_dir"]) / "run.json").read_text())
    source = run["model"]["source"]
    assert source["kind"] == "plugin"
    detector = str(DETECTOR.resolve())
    assert {f["path"]: f["sha256"] for f in source["files"]} == {
        detector: hashlib.sha256(DETECTOR.read_bytes()).hexdigest()}
    assert source["distribution"] == {"name": project["name"], "version": project["version"]}


def test_specs_resolve_in_model_selections(tmp_path):
    # a spec mixes with registry ids in one selection (the registry's resolver, evalkit/registry.py)
    assert [e.id for e in MODELS.select(f"{FILE_SPEC},uninext-tiny")] == ["shapes_detector.make_adapter",
                                                                         "uninext-tiny"]
    assert MODELS.get(FILE_SPEC).meta["user_model"] == {"kind": "file", "import_path": FILE_SPEC,
                                                        "target": f"{DETECTOR.resolve()}:make_adapter"}
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "det.py").write_text("def make(**kw):\n    raise AssertionError('not built')\n")
    MODELS.select(f"{tmp_path}/a/det.py:make")
    with pytest.raises(EvalkitError, match=r"models .*a/det\.py:make and .*b/det\.py:make would both be named 'det\.make'"):
        MODELS.select(f"{tmp_path}/b/det.py:make")
    MODELS.unregister("det.make")


def test_the_python_blocks_of_the_docs_run(suite_cache, tmp_path, monkeypatch):
    """Every ```python block of docs/your-model.md, in order, in one namespace, from a folder
    holding ``examples/`` (the page's relative paths), so the page cannot drift from the code."""
    import re

    text = (REPO / "docs" / "your-model.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the page puts examples/my_model on it
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, "docs/your-model.md", "exec"), namespace)
    finally:
        sys.modules.pop("shapes_detector", None)
    # the function spec's return annotation declares its tasks: "shapes" ran det, inst-seg, vis
    assert sorted(r.run_dir.parts[-3] for r in namespace["runs"]) == ["shapes-coco-det", "shapes-coco-seg",
                                                                      "shapes-ytvis"]
    assert (tmp_path / "runs" / "shapes-coco-det" / "BrightBox").is_dir()


def test_an_object_may_not_take_a_registered_id():
    model = Threshold()
    model.model_id = "uninext-tiny"
    with pytest.raises(EvalkitError, match="its name 'uninext-tiny' is a registered model id; set the object's "
                                           "model_id to another name"):
        evalkit.evaluate(model, "shapes-coco-det")
    assert MODELS.get("uninext-tiny").meta.get("user_model") is None  # the built-in entry is untouched


def test_resume_after_the_model_code_changed_is_refused(suite_cache, tmp_path):
    model = tmp_path / "model" / "edited_detector.py"  # another name than the example: another model
    model.parent.mkdir()
    model.write_bytes(DETECTOR.read_bytes())
    spec, runs = f"{model}:make_adapter", str(tmp_path / "runs")
    [first] = evalkit.evaluate(spec, "shapes-coco-det", runs_root=runs, limit=2, mode="infer")
    [again] = evalkit.evaluate(spec, "shapes-coco-det", runs_root=runs, resume=True, limit=3)
    assert again.run_dir == first.run_dir and again.samples["done"] == 3  # unchanged code: resumed
    store = json.loads((first.run_dir / "predictions" / "store.json").read_text())
    assert len(store["parts"]["model_options"]["source_sha256"]) == 64
    model.write_text(model.read_text() + "\nFILL_SIGMA = 0.2  # retuned\n")
    with pytest.raises(EvalkitError, match="cannot resume from .*: its predictions were made with a different "
                                           "model_options"):
        evalkit.evaluate(spec, "shapes-coco-det", runs_root=runs, resume=True)
