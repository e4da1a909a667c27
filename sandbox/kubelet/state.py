"""What the kubelet remembers about each pod and container between reconciles."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.kubelet.runtime import ContainerHandle

# Container run phases (kubelet-internal, not API values).
PULLING, PULL_FAILED, PULL_BACKOFF, CREATING, RUNNING, CRASH_BACKOFF, EXITED = (
    "pulling",
    "pull-failed",
    "pull-backoff",
    "creating",
    "running",
    "crash-backoff",
    "exited",
)
# A regular container whose pod's init containers have not all completed yet.
WAITING_INIT = "waiting-init"
# Pulled, but its environment names a Secret/ConfigMap (or key) that does not exist yet.
CONFIG_ERROR = "config-error"


@dataclass
class ContainerRun:
    spec: dict
    phase: str = PULLING
    image: str = ""
    image_id: str = ""
    handle: ContainerHandle | None = None
    restart_count: int = 0
    crash_streak: int = 0
    pull_failures: int = 0
    started_at: float | None = None
    ready_at: float | None = None  # None while not running or never ready
    next_at: float | None = None
    terminated: dict | None = None  # current terminated state (EXITED / CRASH_BACKOFF)
    last_terminated: dict | None = None
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    ever_started: bool = False
    init: bool = False
    pulling: bool = False  # a pull is in flight

    @property
    def name(self) -> str:
        return self.spec["name"]


@dataclass
class PodRun:
    uid: str
    node: str
    ip: str
    host_ip: str
    start_time: str
    containers: dict[str, ContainerRun] = field(default_factory=dict)
    init_containers: list[ContainerRun] = field(default_factory=list)
    killing: bool = False
    kill_at: float = 0.0
    # volumes are mounted once, before anything is pulled; until then, why they cannot be
    volumes_mounted: bool = False
    mount_error: str | None = None

    def initialized(self) -> bool:
        return all(c.phase == EXITED and _succeeded(c) for c in self.init_containers)

    def all_runs(self) -> list[ContainerRun]:
        return [*self.init_containers, *self.containers.values()]


def _succeeded(crun: ContainerRun) -> bool:
    return (crun.terminated or {}).get("exitCode", 1) == 0
