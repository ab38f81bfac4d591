"""One list of task names: every card, benchmark split and metric uses a name from it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.registry import BENCHMARKS, METRICS
from evalkit.tasks import IMAGE_TASKS, TASKS, VIDEO_TASKS, check_task

CARDS = Path(__file__).resolve().parents[2] / "zoo" / "cards"


def test_image_and_video_tasks_split_the_list():
    assert not set(IMAGE_TASKS) & set(VIDEO_TASKS)
    assert set(TASKS) == set(IMAGE_TASKS) | set(VIDEO_TASKS)


def test_every_registered_benchmark_and_metric_names_a_known_task():
    for reg in (BENCHMARKS, METRICS):
        for id in reg.ids(include_hidden=False):
            assert reg.get(id).task in TASKS, (reg.kind, id, reg.get(id).task)


def test_every_card_task_is_known():
    cards = sorted(CARDS.glob("*.json"))
    assert cards
    for p in cards:
        assert set(json.loads(p.read_text())["tasks"]) <= set(TASKS), p.name


def test_mask_metrics_use_the_benchmarks_name_for_instance_segmentation():
    assert METRICS.get("coco-segm").task == "inst-seg" == BENCHMARKS.get("coco-val2017-seg").task


def test_an_unknown_task_is_refused_naming_where():
    with pytest.raises(EvalkitError, match=r"metric foo: unknown task 'instance-seg' \(known: .*inst-seg"):
        check_task("instance-seg", "metric foo")
