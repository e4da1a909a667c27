"""The reference model CLI, and a static check of the Dockerfile (no Docker engine here)."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "inference" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_the_dockerfile_builds_a_slim_non_root_tensorflow_cpu_image():
    steps = instructions()
    froms = [rest for keyword, rest in steps if keyword == "FROM"]
    assert froms
    assert all(re.match(r"python:3\.11[\w.-]*-slim", f.split()[0]) for f in froms)
    run = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    assert "requirements" in run or "tensorflow-cpu" in run
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_dockerfile_exposes_the_port_and_probes_liveness():
    steps = dict(instructions())
    assert "8080" in steps["EXPOSE"]
    # Exec form (JSON arrays): the server is PID 1 and gets SIGTERM itself.
    assert json.loads(steps["CMD"]) == ["python", "-m", "inference"]
    options, _, probe = steps["HEALTHCHECK"].partition(" CMD ")
    assert "--start-period" in options
    command = json.loads(probe)
    assert "/healthz" in command[-1]
    readme = (ROOT / "inference" / "README.md").read_text()
    assert "/readyz" in readme
    assert "/healthz" in readme


def test_the_reference_cli_refuses_an_image_size_the_unet_cannot_take(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "inference.reference",
            "--output",
            str(tmp_path / "m"),
            "--image-size",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "image size must be a positive multiple of 8" in result.stderr


@pytest.mark.parametrize("value", [0, 12])
def test_build_unet_validates_its_arguments(value):
    from inference.reference import build_unet

    with pytest.raises(ValueError, match="image size"):
        build_unet(image_size=value)


def test_the_image_pins_the_same_versions_as_the_project():
    def pins(path: Path) -> dict[str, str]:
        found = {}
        for line in path.read_text().splitlines():
            name, sep, version = line.split("#")[0].strip().partition("==")
            if sep:
                found[name.lower()] = version
        return found

    image, project = pins(ROOT / "inference" / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert image
    for name, version in image.items():
        assert project.get(name) == version, f"{name} is pinned differently in the image"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_installs_every_package_the_server_imports():
    pinned = set()
    for line in (ROOT / "inference" / "requirements.txt").read_text().splitlines():
        name, sep, _ = line.split("#")[0].strip().partition("==")
        if sep:
            pinned.add(_canonical(name))
    # What the pinned packages bring along (numpy, keras and protobuf come with TensorFlow).
    brought = {
        _canonical(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
        for name in pinned
        for requirement in importlib.metadata.requires(name) or ()
    }
    imported = set()
    for path in (ROOT / "inference").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    imported -= {*sys.stdlib_module_names, "inference", "__future__"}
    distributions = importlib.metadata.packages_distributions()
    missing = {
        module
        for module in imported
        if not {_canonical(d) for d in distributions.get(module, [module])} & (pinned | brought)
    }
    assert not missing, f"imported by the server but not installed in the image: {missing}"
