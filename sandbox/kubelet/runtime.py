"""The container runtime the kubelet drives, as an interface, plus the simulated implementation.

The kubelet owns the pod lifecycle (phases, conditions, back-offs, events); a Runtime only
pulls images, starts and stops containers, and says when a started container becomes ready.
`SimulatedRuntime` decides all of that from the sandbox's script (sandbox.scripting) and the
config timings; a runtime that starts real processes can implement the same four methods.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.machinery.util import controller_ref
from sandbox.scripting import Behavior, Script, behavior_from, normalize_image

log = logging.getLogger(__name__)


@dataclass
class PullResult:
    ok: bool
    image: str  # normalised reference, as containerStatuses[].image shows it
    image_id: str = ""
    seconds: float = 0.0
    size_bytes: int = 0
    already_present: bool = False
    message: str = ""


@dataclass
class ContainerHandle:
    container_id: str
    pod_key: tuple[str, str]
    name: str
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    stopped: bool = False
    # a real process (the process runtime): probes reach it and its exit ends a termination
    process: bool = False
    finished: bool = False


class Runtime(abc.ABC):
    @abc.abstractmethod
    def pull(
        self, node: str, pod: dict, container: dict, done: Callable[[PullResult], None]
    ) -> None:
        """Make the image present on the node, then call done (from the event loop)."""

    @abc.abstractmethod
    def will_pull(self, node: str, container: dict) -> bool:
        """Whether pull() will fetch the image (the kubelet reports Pulling only then)."""

    @abc.abstractmethod
    def start(
        self, pod: dict, container: dict, restart_count: int, exited: Callable[[int, str], None]
    ) -> ContainerHandle:
        """Start the container; call exited(exit_code, reason) when its process ends by itself."""

    @abc.abstractmethod
    def readiness_delay(self, pod: dict, container: dict) -> float | None:
        """Seconds after start when the container turns ready; None: it never does."""

    @abc.abstractmethod
    def stop(self, handle: ContainerHandle, grace_seconds: float) -> None:
        """Stop a running container (SIGTERM); no exited callback follows."""

    def is_local(self, pod: dict) -> bool:
        """Whether the pod runs real processes here (it then gets a loopback pod IP)."""
        return False

    def termination_wait(self, handle: ContainerHandle, grace_seconds: float) -> float:
        """How long the kubelet waits for the stopped container before it gives up on it."""
        return grace_seconds

    def kill_to_restart(self, handle: ContainerHandle, grace_seconds: float) -> None:
        """Stop a container the kubelet will restart (failed liveness): exited() follows.

        Only runtimes with local processes run probes (simulated containers' liveness is
        scripted), so only they are ever asked; asking another is a kubelet bug.
        """
        raise TypeError(f"{type(self).__name__} runs no probes and restarts no container for one")


def image_id(image: str) -> str:
    digest = hashlib.sha256(image.encode()).hexdigest()
    return f"{image.split('@')[0].rsplit(':', 1)[0]}@sha256:{digest}"


class SimulatedRuntime(Runtime):
    def __init__(self, config: SandboxConfig, script: Script, logs: Any) -> None:
        self.config = config
        self.script = script
        self.logs = logs
        self._present: dict[str, set[str]] = {}
        self._ids = itertools.count(1)

    # -- images --------------------------------------------------------------------------

    def will_pull(self, node: str, container: dict) -> bool:
        policy = container.get("imagePullPolicy") or "IfNotPresent"
        if policy == "Never":
            return False
        image = normalize_image(container.get("image", ""))
        return policy == "Always" or image not in self._present.get(node, set())

    def pull(
        self, node: str, pod: dict, container: dict, done: Callable[[PullResult], None]
    ) -> None:
        raw = container.get("image", "")
        image = normalize_image(raw)
        policy = container.get("imagePullPolicy") or "IfNotPresent"
        present = self._present.setdefault(node, set())
        loop = asyncio.get_running_loop()
        if policy != "Always" and image in present:
            loop.call_soon(done, PullResult(True, image, image_id(image), already_present=True))
            return
        if policy == "Never":
            loop.call_soon(
                done,
                PullResult(
                    False,
                    image,
                    message=f'Container image "{raw}" is not present with pull policy of Never',
                ),
            )
            return
        seconds = self.config.image_pull_seconds
        if not self.script.image_available(raw):
            repo = image.rsplit(":", 1)[0] if "@" not in image else image.split("@")[0]
            message = (
                f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
                f'failed to resolve reference "{image}": {image}: not found'
            )
            if repo.startswith("docker.io/"):
                message = (
                    f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": '
                    f'failed to resolve reference "{image}": pull access denied, repository does '
                    "not exist or may require authorization: server message: "
                    "insufficient_scope: authorization failed"
                )
            loop.call_later(
                seconds, done, PullResult(False, image, seconds=seconds, message=message)
            )
            return
        size = 20_000_000 + int(hashlib.sha256(image.encode()).hexdigest()[:6], 16) * 50

        def finish() -> None:
            present.add(image)
            done(PullResult(True, image, image_id(image), seconds=seconds, size_bytes=size))

        loop.call_later(seconds, finish)

    # -- containers ----------------------------------------------------------------------

    def behavior(self, pod: dict, container: dict) -> Behavior:
        scripted = self.script.behavior_rule(pod, container)
        if scripted is not None:
            return behavior_from(scripted)
        init_names = {c.get("name") for c in pod["spec"].get("initContainers") or []}
        if container.get("name") in init_names:
            # Unscripted init containers do their set-up work and exit 0.
            return Behavior(run_seconds=self.config.job_default_run_seconds, exit_code=0)
        ref = controller_ref(pod)
        if ref and ref.get("kind") == "Job":
            return Behavior(run_seconds=self.config.job_default_run_seconds, exit_code=0)
        return Behavior()

    def start(
        self, pod: dict, container: dict, restart_count: int, exited: Callable[[int, str], None]
    ) -> ContainerHandle:
        meta = pod["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        seed = f"{meta.get('uid')}/{container['name']}/{restart_count}/{next(self._ids)}"
        handle = ContainerHandle(
            container_id="containerd://" + hashlib.sha256(seed.encode()).hexdigest(),
            pod_key=key,
            name=container["name"],
        )
        behavior = self.behavior(pod, container)
        loop = asyncio.get_running_loop()
        self._write_startup(handle, pod, container, behavior, restart_count)
        interval = self._log_interval(behavior)
        if interval:
            counter = itertools.count(1)
            lines = behavior.log_lines

            def tick() -> None:
                if handle.stopped:
                    return
                n = next(counter)
                line = lines[(n - 1) % len(lines)] if lines else _default_line(pod, container, n)
                self.logs.append(key[0], key[1], handle.name, line)
                handle.timers.append(loop.call_later(interval, tick))

            handle.timers.append(loop.call_later(interval, tick))
        if behavior.run_seconds is not None:

            def finish() -> None:
                if handle.stopped:
                    return
                handle.stopped = True
                code = behavior.exit_code
                if code:
                    self.logs.append(
                        key[0],
                        key[1],
                        handle.name,
                        f'level=error msg="fatal error, exiting" code={code}',
                    )
                else:
                    self.logs.append(key[0], key[1], handle.name, 'level=info msg="done, exiting"')
                self._cancel(handle)
                exited(code, "Completed" if code == 0 else "Error")

            handle.timers.append(loop.call_later(behavior.run_seconds, finish))
        return handle

    def readiness_delay(self, pod: dict, container: dict) -> float | None:
        behavior = self.behavior(pod, container)
        if behavior.never_ready:
            return None
        if behavior.readiness_delay_seconds is not None:
            return behavior.readiness_delay_seconds
        probe = container.get("readinessProbe")
        if probe:
            # The first probe runs after initialDelaySeconds and must pass successThreshold times.
            period = probe.get("periodSeconds", 10)
            successes = max(int(probe.get("successThreshold", 1)), 1)
            delay = float(probe.get("initialDelaySeconds", 0)) + (successes - 1) * period
            return max(delay, self.config.readiness_default_seconds)
        return self.config.readiness_default_seconds

    def termination_wait(self, handle: ContainerHandle, grace_seconds: float) -> float:
        return min(
            grace_seconds, self.config.termination_seconds, self.config.termination_max_seconds
        )

    def stop(self, handle: ContainerHandle, grace_seconds: float) -> None:
        if handle.stopped:
            return
        handle.stopped = True
        self._cancel(handle)
        ns, name = handle.pod_key
        self.logs.append(ns, name, handle.name, 'level=info msg="received SIGTERM, shutting down"')

    # -- helpers -------------------------------------------------------------------------

    def _cancel(self, handle: ContainerHandle) -> None:
        for timer in handle.timers:
            timer.cancel()
        handle.timers.clear()

    def _log_interval(self, behavior: Behavior) -> float:
        if behavior.log_lines_per_second is not None:
            return 1.0 / behavior.log_lines_per_second if behavior.log_lines_per_second > 0 else 0.0
        if behavior.log_lines is not None and not behavior.log_lines:
            return 0.0
        return self.config.log_interval_seconds

    def _write_startup(
        self, handle: ContainerHandle, pod: dict, container: dict, behavior: Behavior, restarts: int
    ) -> None:
        ns, name = handle.pod_key
        if behavior.startup_log_lines is not None:
            lines = behavior.startup_log_lines
        else:
            image = container.get("image", "")
            lines = [
                f'level=info msg="starting {container["name"]}" image={image} restarts={restarts}'
            ]
            for port in container.get("ports") or []:
                lines.append(
                    f'level=info msg="listening" addr=0.0.0.0:{port.get("containerPort")} '
                    f"protocol={port.get('protocol', 'TCP')}"
                )
            lines.append('level=info msg="ready to serve"')
        for line in lines:
            self.logs.append(ns, name, handle.name, line)


def _default_line(pod: dict, container: dict, n: int) -> str:
    ref = controller_ref(pod)
    if ref and ref.get("kind") == "Job":
        return f'level=info msg="working" step={n}'
    if container.get("ports"):
        port = container["ports"][0].get("containerPort")
        return f'level=info msg="request served" method=GET path=/ status=200 port={port} seq={n}'
    return f'level=info msg="heartbeat" seq={n}'
