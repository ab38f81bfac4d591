"""Silent acceptance of broken data, now refused: duplicate ids, image sizes that differ from
the annotations, NaN scores in predictions, duplicate annotation ids in a scored GT."""
from __future__ import annotations

import contextlib
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from evalkit import cli
from evalkit.errors import DatasetError, ResultsError
from evalkit.metrics import compute
from evalkit.types import ContractError, Frames, Instances


@pytest.fixture
def coco_root(generated_datasets, tmp_path):
    root, _ = generated_datasets
    shutil.copytree(root / "coco", tmp_path / "coco")
    return tmp_path


def _validate(root) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["validate", "--benchmark", "coco-val2017-det", "--data-root", str(root)])
    return rc, out.getvalue()


def _edit(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("key,fragment", [
    ("images", r"images\[\d+\]: duplicate image id 1 "),
    ("categories", r"duplicate category id\(s\) \[1\]"),
    ("annotations", r"duplicate annotation id\(s\) \[1\]"),
])
def test_validate_refuses_duplicate_ids(coco_root, key, fragment):
    import re

    ann = coco_root / "coco" / "annotations" / "instances_val2017.json"
    _edit(ann, lambda d: d[key].append(dict(d[key][0])))
    rc, out = _validate(coco_root)
    assert rc == 1 and out.startswith("FAILED  coco-val2017-det: ")
    assert re.search(fragment, out) and str(ann) in out, out


def test_validate_compares_every_image_size_with_the_annotations(coco_root):
    """Only the first image's size was compared; a later one of another size went through and
    the run then blamed the adapter ("predictions are for a ... image")."""
    ann = coco_root / "coco" / "annotations" / "instances_val2017.json"
    images = json.loads(ann.read_text())["images"]
    late = images[-1]
    path = coco_root / "coco" / "val2017" / late["file_name"]
    Image.new("RGB", (late["width"] + 3, late["height"])).save(path)
    rc, out = _validate(coco_root)
    assert rc == 1
    assert (f"image {path}: image is {late['height']}x{late['width'] + 3} (HxW) but the annotation says "
            f"{late['height']}x{late['width']}") in out
    # a run reads the frame and says the same, naming the file (a dataset error, not the adapter's)
    frames = Frames([path], [late["id"]], [(late["height"], late["width"])])
    with pytest.raises(DatasetError, match=f"frame {path} is {late['height']}x{late['width'] + 3}"):
        frames[0]


def test_nan_scores_break_the_contract():
    with pytest.raises(ContractError, match="scores contain NaN"):
        Instances((4, 4), np.zeros((1, 4)), scores=[float("nan")], labels=[1])


def test_duplicate_annotation_ids_are_refused_not_scored():
    """pycocotools (cocoapi PythonAPI/pycocotools/coco.py, COCO.createIndex) keys ``anns`` by
    id: with two annotations sharing id 1, ``anns`` keeps one while ``imgToAnns`` keeps both,
    so the numbers depend on which one it kept. Hand-made case: two GT boxes of image 1 with
    id 1; detections match both. Before: evalkit scored it (AP 1.0 here), now it names the id."""
    gt = {"images": [{"id": 1, "height": 50, "width": 50}], "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
                          {"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10], "area": 100, "iscrowd": 0}]}
    res = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
           {"image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10], "score": 0.8}]
    with pytest.raises(ResultsError, match=r"duplicate annotations id\(s\) \[1\]"):
        compute("coco-bbox", gt, res)
    gt["annotations"][1]["id"] = 2
    assert compute("coco-bbox", gt, res)["AP"] == pytest.approx(1.0)
