"""Which images run as local processes, and how: the `--runtime-map FILE` rules.

A rule plays the part of an image's configuration: `command` is its ENTRYPOINT, `args` its
CMD, `workingDir` its WORKDIR (relative paths start at the repository root) and `env` its ENV.
Two fields stand in for the pod's own network namespace: `hostEnv` names the variable that
receives the pod IP and `portEnv` the one that receives the container's first port, set over
whatever the pod says, so that every replica listens on its own loopback address.

File rules are tried first, in order, then the defaults (unless the file says
`"defaults": false`): a repository ending in `/inference` runs the inference server, one
ending in `/trainer` the training program, one ending in `/hello-app` (GKE's sample image)
a look-alike of it (sandbox/hello.py). Every other image stays simulated. In `args` and `env`,
`$(IMAGE_TAG)` is the image's tag.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandbox.scripting import normalize_image

_FIELDS = {
    "image",
    "command",
    "args",
    "workingDir",
    "env",
    "hostEnv",
    "portEnv",
    "defaultPort",
}


@dataclass(frozen=True)
class ProcessRule:
    image: str  # glob on the repository: registry and path, without tag or digest
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    working_dir: str = "."
    env: dict[str, str] = field(default_factory=dict)
    host_env: str = ""
    port_env: str = ""
    default_port: int | None = None


DEFAULT_RULES = (
    ProcessRule(
        image="*/inference",
        command=("python", "-m", "inference"),
        host_env="HOST",
        port_env="PORT",
        default_port=8080,
    ),
    ProcessRule(image="*/trainer", command=("python", "-m", "trainer.program")),
    # GKE's sample image of the classic walk-through, answered by a look-alike
    ProcessRule(
        image="*/hello-app",
        command=("python", "-m", "sandbox.hello"),
        args=("--version", "$(IMAGE_TAG)"),
        host_env="HOST",
        port_env="PORT",
        default_port=8080,
    ),
)


def repository(image: str) -> str:
    """The image without its tag or digest."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: len(name) - len(last[-1])] + last[-1].split(":", 1)[0]
    return name


class RuntimeMap:
    def __init__(self, rules: tuple[ProcessRule, ...] = DEFAULT_RULES) -> None:
        self.rules = rules

    def rule_for(self, image: str) -> ProcessRule | None:
        if not image:
            return None
        forms = {repository(image), repository(normalize_image(image))}
        for rule in self.rules:
            if any(fnmatch.fnmatchcase(form, rule.image) for form in forms):
                return rule
        return None

    def runs_process(self, pod: dict) -> bool:
        spec = pod.get("spec") or {}
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        return any(self.rule_for(c.get("image", "")) is not None for c in containers)

    @classmethod
    def load(cls, path: Path) -> RuntimeMap:
        """Read a runtime map (JSON or YAML); a bad file is a ValueError naming the field."""
        text = Path(path).read_text()
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: not valid JSON or YAML: {exc}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "runtime map") -> RuntimeMap:
        if not isinstance(data, dict):
            raise ValueError(f"{source}: must be an object with a `rules` list")
        unknown = set(data) - {"rules", "defaults"}
        if unknown:
            raise ValueError(f"{source}: unknown field {sorted(unknown)[0]!r}")
        rules_data = data.get("rules") or []
        if not isinstance(rules_data, list):
            raise ValueError(f"{source}: rules must be a list")
        defaults = data.get("defaults", True)
        if not isinstance(defaults, bool):
            raise ValueError(f"{source}: defaults must be true or false")
        rules = tuple(_rule(item, f"{source}: rules[{i}]") for i, item in enumerate(rules_data))
        return cls(rules + (DEFAULT_RULES if defaults else ()))


def _rule(data: Any, where: str) -> ProcessRule:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: must be an object")
    unknown = set(data) - _FIELDS
    if unknown:
        raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown field")
    image = data.get("image")
    if not isinstance(image, str) or not image:
        raise ValueError(f"{where}.image: required, a glob on the image repository")
    command = _strings(data.get("command"), f"{where}.command")
    if not command:
        raise ValueError(f"{where}.command: required, the program's argv")
    env = data.get("env") or {}
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ValueError(f"{where}.env: must map names to strings")
    port = data.get("defaultPort")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise ValueError(f"{where}.defaultPort: must be an integer")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{where}.defaultPort: must be between 1 and 65535")
    for key in ("workingDir", "hostEnv", "portEnv"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{where}.{key}: must be a string")
    return ProcessRule(
        image=image,
        command=tuple(command),
        args=tuple(_strings(data.get("args"), f"{where}.args")),
        working_dir=data.get("workingDir") or ".",
        env=dict(env),
        host_env=data.get("hostEnv", ""),
        port_env=data.get("portEnv", ""),
        default_port=port,
    )


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: must be a list of strings")
    return list(value)
