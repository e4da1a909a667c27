"""Fixtures for the training program tests: a synthetic data set per session, one trained run
shared by every test that only reads its results, and a way to run the program as a process.

TensorFlow costs seconds and about a gigabyte per process, so processes are started only where
a test is about the process itself (its exit, its output streams, being killed, the script
form); the rest call the program's `main` in the test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROGRAM_DIR = ROOT / "trainer" / "program"
IMAGE_SIZE = 32
# A U-Net of two levels and 4 base filters: ~7,500 parameters, seconds per run on a CPU.
TINY = ["--image-size", str(IMAGE_SIZE), "--depth", "2", "--base-filters", "4", "--batch-size", "4"]


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict]:
        from trainer.program.progress import parse_line

        return [e for e in map(parse_line, self.stdout.splitlines()) if e is not None]


def program_env() -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    # The script form must find its package by itself, as in a container.
    env.pop("PYTHONPATH", None)
    for name in ("DATA_URI", "OUTPUT_URI"):
        env.pop(name, None)
    return env


def start_program(args: list[str], *, cwd: Path = ROOT) -> subprocess.Popen:
    command = (
        [sys.executable, *args]
        if args[0].endswith(".py")
        else [sys.executable, "-m", "trainer.program", *args]
    )
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=program_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_program(args: list[str], *, cwd: Path = ROOT, timeout: float = 180) -> Finished:
    process = start_program(args, cwd=cwd)
    stdout, stderr = process.communicate(timeout=timeout)
    return Finished(process.returncode, stdout, stderr)


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory) -> Path:
    """Twelve 48x40 images with trimaps (10 train, 2 validation at the default split)."""
    from trainer.program.synthetic import generate

    root = tmp_path_factory.mktemp("pets")
    generate(output=str(root), count=12, width=48, height=40, seed=3)
    return root


@pytest.fixture(scope="session")
def trained(synthetic_data, tmp_path_factory) -> dict:
    """`python -m trainer.program` for two epochs on the synthetic set, run once per session."""
    output = tmp_path_factory.mktemp("run") / "out"
    finished = run_program(
        [
            "--model",
            "unet",
            "--data",
            str(synthetic_data),
            "--output",
            str(output),
            "--epochs",
            "2",
            *TINY,
        ]
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return {"output": output, "finished": finished}
