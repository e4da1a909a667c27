"""The command line: the classic script form, option spellings, devices and precision."""

from __future__ import annotations

import json
import logging

import pytest

from tests.trainer.program.conftest import PROGRAM_DIR, TINY, run_program
from trainer.program import devices
from trainer.program.train import parse_args


def test_the_classic_train_py_invocation_trains_from_inside_trainer_program(
    synthetic_data, tmp_path
):
    single_dash = [option[1:] if option.startswith("--") else option for option in TINY]
    finished = run_program(
        [
            "train.py",
            "-model",
            "unet",
            "-data",
            str(synthetic_data),
            "-output",
            str(tmp_path / "out"),
            "-epochs",
            "1",
            *single_dash,
        ],
        cwd=PROGRAM_DIR,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert [e["event"] for e in finished.events] == ["start", "epoch", "end"]
    assert (tmp_path / "out" / "model" / "saved_model.pb").is_file()
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["status"] == "succeeded"


def test_single_dash_options_mean_what_double_dash_ones_do():
    classic = parse_args(["-model", "unet", "-data", "gs://bucket/pets", "-epochs", "3"])
    modern = parse_args(["--model", "unet", "--data", "gs://bucket/pets", "--epochs", "3"])
    assert vars(classic) == vars(modern)


def test_data_and_output_default_to_the_environment(monkeypatch):
    monkeypatch.setenv("DATA_URI", "gs://bucket/pets")
    monkeypatch.setenv("OUTPUT_URI", "gs://bucket/runs/7/")
    args = parse_args([])
    assert (args.data, args.output) == ("gs://bucket/pets", "gs://bucket/runs/7")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--image-size", "100", "--depth", "3"], "multiple of 2**depth = 8, got 100"),
        (["--val-split", "1"], "--val-split must be between 0 and 1"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--model", "resnet"], "invalid choice: 'resnet'"),
    ],
)
def test_it_rejects_bad_parameters_with_a_usage_error(argv, message, monkeypatch, capsys):
    monkeypatch.delenv("DATA_URI", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--data", "somewhere", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_mixed_precision_on_the_cpu_is_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.INFO, logger="trainer.devices"):
        chosen = devices.select(mixed_precision=True)
    assert chosen.kind == "cpu"
    assert chosen.mixed_precision is False
    assert chosen.dtype_policy == "float32"
    assert any(
        r.levelno == logging.WARNING and "--mixed-precision ignored" in r.message
        for r in caplog.records
    )
