"""What the kubelet does beyond the simulation for pods that run real processes: a loopback
pod IP each, the cap on how many run at once, and the probes of their containers."""

from __future__ import annotations

from typing import Any

from sandbox.kubelet.ipam import LoopbackIPAM
from sandbox.kubelet.prober import Prober, ProbeTarget
from sandbox.kubelet.state import ContainerRun, PodRun
from sandbox.machinery.util import now

LIMIT_REASON = "ProcessPodLimit"


class LocalPods:
    def __init__(self, kubelet: Any) -> None:
        self.kubelet = kubelet
        self.process = getattr(kubelet.runtime, "process", None)
        self.ipam = LoopbackIPAM()
        self.slots: set[tuple[str, str]] = set()  # process pods holding a slot
        self.waiting: set[tuple[str, str]] = set()  # process pods held Pending by the cap
        self.prober = Prober(
            on_ready=self._on_ready, on_dead=self._on_dead, on_failure=self._on_failure
        )

    @property
    def limit(self) -> int:
        return int(self.kubelet.config.process_pod_limit)

    # -- admission -----------------------------------------------------------------------

    def admit(self, pod: dict) -> bool:
        """Whether the process pod may start now; if not it stays Pending, with an event."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if key in self.slots:
            return True
        if len(self.slots) < self.limit:
            self.slots.add(key)
            self.waiting.discard(key)
            return True
        if key not in self.waiting:
            self.waiting.add(key)
            running = ", ".join(f"{ns}/{name}" for ns, name in sorted(self.slots))
            self.kubelet.api.record_event(
                pod,
                reason=LIMIT_REASON,
                message=(
                    f"the sandbox runs at most {self.limit} process pods at once "
                    f"(config process_pod_limit); running: {running}. This pod starts when "
                    "one of them ends"
                ),
                type="Warning",
                component="kubelet",
            )
        return False

    def release_slot(self, key: tuple[str, str]) -> None:
        self.waiting.discard(key)
        if key in self.slots:
            self.slots.discard(key)
            for waiting in sorted(self.waiting):
                self.kubelet.enqueue(waiting)

    def forget(self, key: tuple[str, str], uid: str) -> None:
        self.ipam.release(uid)
        self.release_slot(key)

    # -- containers ----------------------------------------------------------------------

    def started(self, pod: dict, run: PodRun, crun: ContainerRun) -> None:
        handle = crun.handle
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])

        def finished() -> None:
            self.prober.stop(handle)
            self.kubelet.enqueue(key)

        handle.on_finished.append(finished)
        _, env, cwd, _ = self.process.argv_env_cwd(pod, crun.spec)
        self.prober.start(ProbeTarget(key, pod, crun.spec, run.ip, handle, env, cwd))

    def all_stopped(self, run: PodRun) -> bool:
        """A terminating pod whose processes have all exited need not wait out its grace."""
        handles = [c.handle for c in run.all_runs() if c.handle is not None]
        return any(h.process for h in handles) and all(h.process and h.finished for h in handles)

    def _crun(self, target: ProbeTarget) -> ContainerRun | None:
        run = self.kubelet.pods.get(target.key)
        crun = run.containers.get(target.container["name"]) if run else None
        if crun is None or crun.handle is not target.handle or run.killing:
            return None
        return crun

    def _on_ready(self, target: ProbeTarget, ready: bool) -> None:
        crun = self._crun(target)
        if crun is not None:
            crun.ready_at = now() if ready else None
            self.kubelet.enqueue(target.key)

    def _on_failure(self, target: ProbeTarget, message: str) -> None:
        if self._crun(target) is not None:
            pod = self.kubelet.api.get("pods", *target.key) or target.pod
            self.kubelet._event(pod, "Unhealthy", message, warning=True)

    def _on_dead(self, target: ProbeTarget, kind: str, probe: dict) -> None:
        crun = self._crun(target)
        if crun is None:
            return
        pod = self.kubelet.api.get("pods", *target.key) or target.pod
        self.kubelet._event(
            pod,
            "Killing",
            f"Container {crun.name} failed {kind.lower()} probe, will be restarted",
        )
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        crun.ready_at = None
        self.kubelet.runtime.kill_to_restart(crun.handle, float(grace))
        self.kubelet.enqueue(target.key)
