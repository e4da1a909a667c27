"""Data, checkpoints, export and metrics go through tf.io.gfile, so object storage works as a
local folder does; TensorFlow's in-memory ram:// filesystem stands in for gs:// here."""

from __future__ import annotations

import json

import tensorflow as tf

from trainer.program.progress import parse_line
from trainer.program.synthetic import generate
from trainer.program.train import main


def test_it_reads_data_and_writes_everything_through_gfile_uris(capsys):
    generate(output="ram://trainer-tests/pets", count=6, width=24, height=24, seed=1)
    output = "ram://trainer-tests/runs/1"
    code = main(
        [
            "--data",
            "ram://trainer-tests/pets/",
            "--output",
            output,
            "--epochs",
            "1",
            "--image-size",
            "16",
            "--depth",
            "1",
            "--base-filters",
            "2",
            "--batch-size",
            "2",
        ]
    )
    events = [e for e in map(parse_line, capsys.readouterr().out.splitlines()) if e]
    assert code == 0
    assert events[-1]["export"] == f"{output}/model"
    assert events[1]["checkpoint"] == f"{output}/checkpoints/ckpt-1"
    assert sorted(tf.io.gfile.listdir(output)) == ["checkpoints", "metrics.json", "model"]
    assert tf.io.gfile.exists(f"{output}/model/saved_model.pb")
    with tf.io.gfile.GFile(f"{output}/metrics.json") as handle:
        metrics = json.load(handle)
    assert metrics["data"]["images"] == 6
    assert [e["epoch"] for e in metrics["epochs"]] == [1]
