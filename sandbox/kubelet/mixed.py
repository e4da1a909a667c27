"""The runtime the kubelet drives when a runtime map is in force: each container goes to the
process runtime when the map names its image, to the simulated runtime otherwise."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.kubelet.process import ProcessHandle, ProcessRuntime
from sandbox.kubelet.runtime import ContainerHandle, PullResult, Runtime, SimulatedRuntime


class MixedRuntime(Runtime):
    def __init__(self, simulated: SimulatedRuntime, process: ProcessRuntime) -> None:
        self.simulated = simulated
        self.process = process

    def _local(self, container: dict) -> bool:
        return self.process.rule_for(container) is not None

    def is_local(self, pod: dict) -> bool:
        return self.process.map.runs_process(pod)

    def will_pull(self, node: str, container: dict) -> bool:
        return False if self._local(container) else self.simulated.will_pull(node, container)

    def pull(
        self, node: str, pod: dict, container: dict, done: Callable[[PullResult], None]
    ) -> None:
        if self._local(container):
            self.process.pull(container, done)
        else:
            self.simulated.pull(node, pod, container, done)

    def start(
        self, pod: dict, container: dict, restart_count: int, exited: Callable[[int, str], None]
    ) -> ContainerHandle:
        if self._local(container):
            return self.process.start(pod, container, restart_count, exited)
        return self.simulated.start(pod, container, restart_count, exited)

    def readiness_delay(self, pod: dict, container: dict) -> float | None:
        if self._local(container):
            # The prober decides; without a readiness probe a started container is ready.
            return None if container.get("readinessProbe") else 0.0
        return self.simulated.readiness_delay(pod, container)

    def stop(self, handle: ContainerHandle, grace_seconds: float) -> None:
        if isinstance(handle, ProcessHandle):
            self.process.stop(handle, grace_seconds)
        else:
            self.simulated.stop(handle, grace_seconds)

    def termination_wait(self, handle: ContainerHandle, grace_seconds: float) -> float:
        if isinstance(handle, ProcessHandle):
            return grace_seconds
        return self.simulated.termination_wait(handle, grace_seconds)

    def kill_to_restart(self, handle: ContainerHandle, grace_seconds: float) -> None:
        assert isinstance(handle, ProcessHandle)
        self.process.stop(handle, grace_seconds, report=True)
