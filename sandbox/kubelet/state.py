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
    killing: bool = False
    kill_at: float = 0.0
