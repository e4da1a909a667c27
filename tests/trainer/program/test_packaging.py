"""A static check of trainer/Dockerfile (no Docker engine here) against the project's pins."""

from __future__ import annotations

import json
import re

from tests.trainer.program.conftest import ROOT

DOCKERFILE = ROOT / "trainer" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            steps.append((keyword.upper(), rest.strip()))
    return steps


def test_the_base_image_is_the_tensorflow_release_the_project_pins():
    pin = re.search(r"^tensorflow-cpu==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    args = dict(rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG")
    assert args["BASE_IMAGE"] == f"tensorflow/tensorflow:{pin[1]}"
    assert f"BASE_IMAGE=tensorflow/tensorflow:{pin[1]}-gpu" in DOCKERFILE.read_text()


def test_the_image_holds_only_the_program_and_runs_it_as_a_non_root_user():
    steps = instructions()
    copies = [rest for keyword, rest in steps if keyword == "COPY"]
    assert copies == ["__init__.py /app/trainer/__init__.py", "program /app/trainer/program"]
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users[-1].split(":")[0] not in ("root", "0")
    entrypoint = [rest for keyword, rest in steps if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint[-1]) == ["python", "-m", "trainer.program"]
    workdir = [rest for keyword, rest in steps if keyword == "WORKDIR"][-1]
    assert workdir == "/app/trainer/program"  # where the classic `python train.py` runs
    assert (ROOT / "trainer" / "program" / "train.py").is_file()
