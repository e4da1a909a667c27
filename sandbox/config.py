"""Every timing and tunable of the sandbox's controllers and simulated kubelet.

The defaults are close to what a real cluster does (kube-controller-manager flags, kubelet
back-off, metrics-server resolution) so demos look believable; `SandboxConfig.fast()` shrinks
them so integration tests finish in seconds. `from_dict` lets a JSON file override any field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class SandboxConfig:
    # Controllers: how often every object is reconciled even without a change (informer resync).
    resync_seconds: float = 30.0
    # Nodes post their status (Ready condition lastHeartbeatTime) this often.
    node_heartbeat_seconds: float = 10.0
    # --node-monitor-grace-period: a silent node is marked unreachable after this long.
    node_monitor_grace_seconds: float = 40.0
    # Kubelet: time to pull an image that the registry holds (Pulling -> Pulled).
    image_pull_seconds: float = 2.0
    # Kubelet: time from "Pulled" to the container being Started.
    container_start_seconds: float = 0.5
    # Readiness when a container has no readinessProbe: ready this long after start.
    readiness_default_seconds: float = 0.0
    # Pods of Jobs that nobody scripted run this long and exit 0.
    job_default_run_seconds: float = 5.0
    # Kubelet container restart back-off (CrashLoopBackOff): base doubles up to max.
    crash_backoff_base_seconds: float = 10.0
    crash_backoff_max_seconds: float = 300.0
    # Kubelet image pull back-off (ErrImagePull -> ImagePullBackOff): base doubles up to max.
    image_pull_backoff_base_seconds: float = 10.0
    image_pull_backoff_max_seconds: float = 300.0
    # A container that ran this long without exiting resets its crash back-off.
    crash_backoff_reset_seconds: float = 600.0
    # Upper bound on how long the kubelet waits for a terminating pod (grace period is capped).
    termination_max_seconds: float = 30.0
    # Simulated time the container takes to stop after SIGTERM (capped by the grace period).
    termination_seconds: float = 1.0
    # Job controller back-off between retries of failed pods: base doubles up to max.
    job_backoff_base_seconds: float = 10.0
    job_backoff_max_seconds: float = 360.0
    # Scheduler: an unschedulable pod is retried at most this often on cluster changes.
    scheduler_retry_seconds: float = 1.0
    # Scheduler: unschedulable pods are also retried on this period with no change at all.
    scheduler_unschedulable_resync_seconds: float = 60.0
    # Deployment controller: how often a deployment's progress deadline is re-evaluated at most.
    deployment_progress_check_seconds: float = 1.0
    # HPA controller (--horizontal-pod-autoscaler-sync-period and friends).
    hpa_sync_seconds: float = 15.0
    hpa_downscale_stabilization_seconds: float = 300.0
    hpa_tolerance: float = 0.1
    # --horizontal-pod-autoscaler-cpu-initialization-period / -initial-readiness-delay: how long
    # after a pod starts its CPU samples may be distorted by start-up work.
    hpa_cpu_initialization_seconds: float = 300.0
    hpa_initial_readiness_delay_seconds: float = 30.0
    # Services: delay before a LoadBalancer service gets its external IP (cloud LB creation).
    load_balancer_delay_seconds: float = 5.0
    # Metrics: metrics-server scrape window, and the relative noise on simulated usage.
    metrics_window_seconds: float = 15.0
    metrics_noise: float = 0.05
    # Usage model: CPU a container burns per request/s it serves, when not scripted.
    cpu_millicores_per_request: float = 5.0
    # Default log line interval of an unscripted running container (0 disables the chatter).
    log_interval_seconds: float = 10.0
    # API server: how many events the watch history keeps before answering 410 Gone.
    watch_history_size: int = 100_000
    # API server: how often a watch with allowWatchBookmarks gets a BOOKMARK event.
    watch_bookmark_interval: float = 5.0
    # --state: how often changed objects are flushed to the state file.
    state_flush_interval: float = 1.0
    # Process runtime: pods running real processes at once; more wait Pending (a TensorFlow
    # server needs about 1 GB, so the default fits a laptop).
    process_pod_limit: int = 4
    # Process runtime: how often CPU and memory are read from /proc (and memory limits enforced).
    process_sample_seconds: float = 1.0
    # Service forwarding: a Service port below 1024 that the sandbox may not bind (not root) is
    # served on the port plus this offset instead (80 -> 8080), with a PrivilegedPort event.
    privileged_port_offset: int = 8000

    @classmethod
    def realistic(cls) -> SandboxConfig:
        return cls()

    @classmethod
    def fast(cls) -> SandboxConfig:
        """Sub-second timings for tests; back-offs stay ordered (base < max) so they still grow."""
        return cls(
            resync_seconds=5.0,
            node_heartbeat_seconds=2.0,
            node_monitor_grace_seconds=0.3,
            image_pull_seconds=0.05,
            container_start_seconds=0.05,
            readiness_default_seconds=0.0,
            job_default_run_seconds=0.3,
            crash_backoff_base_seconds=0.2,
            crash_backoff_max_seconds=1.0,
            image_pull_backoff_base_seconds=0.2,
            image_pull_backoff_max_seconds=1.0,
            crash_backoff_reset_seconds=30.0,
            termination_max_seconds=2.0,
            termination_seconds=0.05,
            job_backoff_base_seconds=0.1,
            job_backoff_max_seconds=0.5,
            scheduler_retry_seconds=0.1,
            scheduler_unschedulable_resync_seconds=5.0,
            deployment_progress_check_seconds=0.2,
            hpa_sync_seconds=0.3,
            hpa_downscale_stabilization_seconds=1.0,
            hpa_cpu_initialization_seconds=2.0,
            hpa_initial_readiness_delay_seconds=0.5,
            load_balancer_delay_seconds=0.2,
            metrics_window_seconds=1.0,
            metrics_noise=0.0,
            log_interval_seconds=0.5,
            watch_history_size=20_000,
            watch_bookmark_interval=1.0,
            state_flush_interval=0.2,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base: SandboxConfig | None = None) -> SandboxConfig:
        """Override fields of `base` (realistic by default); unknown or mistyped keys are errors."""
        if not isinstance(data, dict):
            raise ValueError("sandbox config must be a JSON object")
        config = dataclasses.replace(base) if base is not None else cls()
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in data.items():
            field = fields.get(key)
            if field is None:
                raise ValueError(f"unknown sandbox config field {key!r}")
            expected = int if field.type in ("int", int) else float
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"sandbox config field {key!r} must be a number")
            if value < 0:
                raise ValueError(f"sandbox config field {key!r} must not be negative")
            if expected is int and value != int(value):
                raise ValueError(f"sandbox config field {key!r} must be an integer")
            setattr(config, key, expected(value))
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
