"""Checkpoints: a killed run resumes where it stopped; a checkpoint is never silently reused."""

from __future__ import annotations

import json

from tests.trainer.program.conftest import TINY, run_program, start_program
from trainer.program.progress import parse_line
from trainer.program.train import main


def test_a_killed_run_resumes_from_its_checkpoint_at_the_next_epoch(synthetic_data, tmp_path):
    output = tmp_path / "out"
    args = ["--data", str(synthetic_data), "--output", str(output), "--epochs", "2", *TINY]
    # 64x64 images make an epoch long enough that the kill lands well inside epoch 2.
    args[args.index("--image-size") + 1] = "64"
    process = start_program(args)
    try:
        for line in process.stdout:
            event = parse_line(line)
            if event and event["event"] == "epoch":
                assert event["epoch"] == 1
                process.kill()
                break
        else:
            raise AssertionError(f"no epoch line; stderr:\n{process.stderr.read()[-3000:]}")
    finally:
        process.kill()
        process.wait(30)
        process.stdout.close()
        process.stderr.close()
    assert not (output / "metrics.json").exists()

    resumed = run_program([*args, "--resume"])

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    start, *epochs, end = resumed.events
    assert start["event"] == "start"
    assert start["resumed"] is True
    assert start["start_epoch"] == 2
    assert [e["epoch"] for e in epochs] == [2]
    assert end["status"] == "succeeded"
    metrics = json.loads((output / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert metrics["resumed_from_epoch"] == 1


def test_it_refuses_to_start_over_an_existing_checkpoint_without_resume(
    trained, synthetic_data, capsys
):
    output = trained["output"]
    code = main(["--data", str(synthetic_data), "--output", str(output), "--epochs", "2", *TINY])
    assert code == 3
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"trainer: error: output {output} already holds a checkpoint")
    assert "--resume" in error


def test_it_refuses_to_resume_a_checkpoint_of_other_parameters(trained, synthetic_data, capsys):
    tiny = list(TINY)
    tiny[tiny.index("--image-size") + 1] = "64"
    code = main(
        ["--data", str(synthetic_data), "--output", str(trained["output"]), "--resume", *tiny]
    )
    assert code == 3
    error = capsys.readouterr().err
    assert "image_size: checkpoint 32, now 64" in error
