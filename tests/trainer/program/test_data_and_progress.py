"""The synthetic data set, the input pipeline's output, and the progress line format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from trainer.program import data
from trainer.program.progress import PREFIX, format_line, parse_line


def test_the_synthetic_set_has_the_oxford_layout_and_all_three_trimap_values(synthetic_data):
    images = sorted(p.name for p in (synthetic_data / "images").iterdir())
    trimaps = sorted(p.name for p in (synthetic_data / "annotations" / "trimaps").iterdir())
    assert len(images) == 12
    assert [name.replace(".jpg", ".png") for name in images] == trimaps
    trimap = tf.io.decode_png(
        (synthetic_data / "annotations" / "trimaps" / trimaps[0]).read_bytes()
    )
    assert trimap.shape == (40, 48, 1)
    assert set(np.unique(trimap.numpy())) == {1, 2, 3}


def test_the_split_is_seeded_so_a_resumed_run_validates_on_the_same_images(synthetic_data):
    pairs = data.discover(str(synthetic_data))
    first = data.split(pairs, val_fraction=0.25, seed=5)
    again = data.split(list(reversed(pairs)), val_fraction=0.25, seed=5)
    assert len(first.val) == 3
    assert sorted(p.image for p in first.val) == sorted(p.image for p in again.val)
    assert not {p.image for p in first.val} & {p.image for p in first.train}


def test_the_pipeline_yields_float_pixels_and_classes_zero_to_two(synthetic_data):
    pairs = data.discover(str(synthetic_data))
    images, classes = next(iter(data.training_dataset(pairs, image_size=32, batch_size=4)))
    assert images.shape == (4, 32, 32, 3)
    assert images.dtype == tf.float32
    assert float(tf.reduce_min(images)) >= 0
    assert float(tf.reduce_max(images)) <= 255
    assert classes.shape == (4, 32, 32, 1)
    assert set(np.unique(classes.numpy())) <= {0, 1, 2}


def test_a_progress_line_is_the_prefix_a_space_and_one_json_object():
    line = format_line("epoch", epoch=1, epochs=2, val_mean_iou=0.5)
    prefix, _, body = line.partition(" ")
    assert prefix == PREFIX == "TRAINING_PROGRESS"
    assert json.loads(body) == {"event": "epoch", "epoch": 1, "epochs": 2, "val_mean_iou": 0.5}
    assert "\n" not in line
    assert parse_line(line + "\n") == json.loads(body)
    assert parse_line("2026-01-01 INFO trainer: epoch 1/2") is None


def test_a_diverged_metric_is_sent_as_null_never_as_nan():
    line = format_line("epoch", loss=float("nan"), val_loss=float("inf"), history=[float("nan")])
    assert parse_line(line) == {"event": "epoch", "loss": None, "val_loss": None, "history": [None]}


def test_it_refuses_an_unknown_event():
    with pytest.raises(ValueError, match="unknown progress event"):
        format_line("progress")
