"""The simulated kubelet: drives every bound pod through its lifecycle on its node.

Per pod it keeps what a kubelet keeps in memory (container runs, restart counts, back-offs)
and publishes what a kubelet publishes: pod status (phase, IPs, conditions, containerStatuses)
and the events `kubectl describe pod` shows (Pulling, Pulled, Failed, BackOff, Created,
Started, Killing). One reconcile per pod key; the runtime's callbacks and timed transitions
(readiness, back-off expiry, termination grace) re-queue the key.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sandbox.kubelet.envrefs import env_config_error, volume_mount_error
from sandbox.kubelet.ipam import NodeIPAM
from sandbox.kubelet.localpods import LocalPods
from sandbox.kubelet.runtime import PullResult, Runtime
from sandbox.kubelet.state import (
    CONFIG_ERROR,
    CRASH_BACKOFF,
    CREATING,
    EXITED,
    PULL_BACKOFF,
    PULL_FAILED,
    PULLING,
    RUNNING,
    WAITING_INIT,
    ContainerRun,
    PodRun,
)
from sandbox.kubelet.status import pod_status
from sandbox.machinery.backoff import backoff
from sandbox.machinery.base import Controller
from sandbox.machinery.cache import Caches
from sandbox.machinery.errors import ApiError
from sandbox.machinery.util import (
    get_condition,
    now,
    parse_time,
    rfc3339,
)
from sandbox.scripting import get_script

log = logging.getLogger(__name__)
COMPONENT = "kubelet"


class Kubelet(Controller):
    name = "kubelet"

    def __init__(self, cluster: Any, caches: Caches, runtime: Runtime) -> None:
        super().__init__(cluster)
        self.caches = caches
        self.runtime = runtime
        self.logs = cluster.logs
        self.ipam = NodeIPAM()
        self.pods: dict[tuple[str, str], PodRun] = {}
        self.script = get_script(cluster)
        self.local = LocalPods(self)
        self._failed: set[str] = set()
        # pods with a container waiting for a Secret/ConfigMap, by namespace
        self._config_blocked: dict[str, set[tuple[str, str]]] = {}
        self.script.listeners.append(self._on_script_change)

    def _on_script_change(self) -> None:
        # A node whose kubelet comes back reports on all its pods again.
        recovered = self._failed - self.script.failed_nodes
        self._failed = set(self.script.failed_nodes)
        for node in recovered:
            for key in self.caches.pods.keys_by("node", node):
                self.enqueue(key)

    def setup(self) -> None:
        self.watch("pods", self._on_pod)
        self.watch("nodes", self._on_node)
        self.watch("secrets", self._on_config_object)
        self.watch("configmaps", self._on_config_object)

    def resync_interval(self) -> float:
        # Every transition is timer- or event-driven; the resync is only a safety net, and at
        # 30,000 pods a frequent one would cost real CPU.
        return max(self.config.resync_seconds * 10, 300.0)

    def _on_node(self, event_type: str, obj: dict, old: dict | None) -> None:
        if event_type == "DELETED":
            # What the pod garbage collector does for pods of a node that is gone: force-delete
            # them so their controllers replace them elsewhere. Deferred: never write from
            # inside another write's notification.
            keys = list(self.caches.pods.keys_by("node", obj["metadata"]["name"]))
            if keys:
                asyncio.get_running_loop().call_soon(self._collect_orphans, keys)
            return
        if event_type == "ADDED":
            # Pods bound to a node before it (re)appeared start now.
            for key in self.caches.pods.keys_by("node", obj["metadata"]["name"]):
                if key not in self.pods:
                    self.enqueue(key)

    def _on_config_object(self, event_type: str, obj: dict, old: dict | None) -> None:
        # The kubelet's secret/configmap managers watch these; a container waiting for one
        # tries again as soon as it changes.
        ns = obj["metadata"].get("namespace") or ""
        blocked = self._config_blocked.get(ns)
        if not blocked:
            return
        for key in list(blocked):
            run = self.pods.get(key)
            waiting = [c for c in run.all_runs() if c.phase == CONFIG_ERROR] if run else []
            if not waiting and (run is None or run.mount_error is None):
                blocked.discard(key)
                continue
            for crun in waiting:
                crun.next_at = 0.0
            self.enqueue(key)
        if not blocked:
            del self._config_blocked[ns]

    def initial_keys(self):
        return [
            k for k, p in self.caches.pods.objects.items() if (p.get("spec") or {}).get("nodeName")
        ]

    def _on_pod(self, event_type: str, obj: dict, old: dict | None) -> None:
        key = (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
        if event_type == "DELETED":
            self._forget(key, obj["metadata"].get("uid"))
            return
        if not (obj.get("spec") or {}).get("nodeName"):
            return
        # Our own status writes come back as events too; only changes we act on matter.
        old_meta = (old or {}).get("metadata") or {}
        if (
            key not in self.pods
            or old is None
            or old_meta.get("deletionTimestamp") != obj["metadata"].get("deletionTimestamp")
            or old_meta.get("uid") != obj["metadata"].get("uid")
        ):
            self.enqueue(key)

    def _collect_orphans(self, keys: list[tuple[str, str]]) -> None:
        for ns, name in keys:
            pod = self.api.get("pods", ns, name)
            node = (pod or {}).get("spec", {}).get("nodeName")
            if pod is None or (node and self.caches.nodes.get("", node) is not None):
                continue
            try:
                self.api.delete("pods", ns, name, grace_period_seconds=0)
            except ApiError as exc:
                if exc.code != 404:
                    log.warning("could not delete pod %s/%s of a deleted node: %s", ns, name, exc)
            self._forget((ns, name), pod["metadata"].get("uid"))

    # -- reconcile ---------------------------------------------------------------------------

    def reconcile(self, key: tuple[str, str]) -> None:
        pod = self.api.get("pods", *key)
        if pod is None:
            self._forget(key, None)
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or node_name in self.script.failed_nodes:
            return  # unbound, or this node's kubelet is down (scripted failure)
        run = self.pods.get(key)
        if run is not None and run.uid != pod["metadata"]["uid"]:
            self._forget(key, run.uid)
            run = None
        if run is None:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                if pod["metadata"].get("deletionTimestamp"):
                    self._finish_deletion(pod)
                return
            node = self.caches.nodes.get("", node_name)
            if node is None:
                return  # bound to a node that does not exist: nothing runs it, as upstream
            deleting = pod["metadata"].get("deletionTimestamp")
            if not deleting and self.runtime.is_local(pod) and not self.local.admit(pod):
                return  # over the process pod cap: Pending until a slot frees up
            run = self._admit(pod, node)
        if pod["metadata"].get("deletionTimestamp"):
            if not run.killing:
                self._begin_kill(pod, run)
            if now() >= run.kill_at or self.local.all_stopped(run):
                self._finish_deletion(pod)
                return
        else:
            if run.mount_error is not None:
                self._next_step(pod, run)  # a Secret/ConfigMap changed: try the mounts again
            self._advance(pod, run)
        self._publish(pod, run)
        self._schedule_next(key, run)

    def _admit(self, pod: dict, node: dict) -> PodRun:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        uid = pod["metadata"]["uid"]
        status = pod.get("status") or {}
        host_ip = _internal_ip(node)
        restored = {c.get("name"): c for c in status.get("containerStatuses") or []}
        if self.runtime.is_local(pod):
            ip = status.get("podIP") or ""
            if ip.startswith("127."):
                self.local.ipam.adopt(uid, ip)
            else:
                ports = tuple(
                    int(p["containerPort"])
                    for c in pod["spec"].get("containers") or []
                    for p in c.get("ports") or []
                    if p.get("containerPort")
                )
                ip = self.local.ipam.allocate(uid, ports)
        elif status.get("podIP"):
            self.ipam.adopt(node, uid, status["podIP"])
            ip = status["podIP"]
        else:
            ip = self.ipam.allocate(node, uid)
        run = PodRun(
            uid, node["metadata"]["name"], ip, host_ip, status.get("startTime") or rfc3339()
        )
        self.pods[key] = run
        initialized = (get_condition(status, "Initialized") or {}).get("status") == "True"
        for spec in pod["spec"].get("initContainers") or []:
            crun = ContainerRun(spec=spec, image=spec.get("image", ""), init=True)
            run.init_containers.append(crun)
            if initialized:
                # Restored after a restart: init containers ran to completion before.
                crun.phase, crun.ever_started = EXITED, True
                crun.terminated = {"exitCode": 0, "reason": "Completed"}
        for spec in pod["spec"].get("containers") or []:
            crun = ContainerRun(spec=spec, image=spec.get("image", ""))
            run.containers[spec["name"]] = crun
            previous = restored.get(spec["name"])
            if previous:
                crun.restart_count = previous.get("restartCount", 0)
            if previous and "running" in (previous.get("state") or {}):
                # The sandbox restarted with --state: the container "kept running".
                self._start_container(pod, run, crun, restored_from=previous)
            elif not run.initialized():
                crun.phase, crun.waiting_reason = WAITING_INIT, "PodInitializing"
        self._next_step(pod, run)
        return run

    def _next_step(self, pod: dict, run: PodRun) -> None:
        """Mount the volumes, run init containers one at a time, then pull every regular
        container."""
        if not self._volumes_mounted(pod, run):
            return
        for crun in run.init_containers:
            if crun.phase == EXITED and (crun.terminated or {}).get("exitCode") == 0:
                continue
            if crun.phase == PULLING and not crun.pulling:
                self._pull(pod, run, crun)
            return  # this init container is pulling, running, backing off or has failed
        for crun in run.containers.values():
            if crun.phase == WAITING_INIT:
                crun.phase, crun.waiting_reason = PULLING, "ContainerCreating"
            if crun.phase == PULLING and not crun.pulling:
                self._pull(pod, run, crun)

    # -- image pulls -------------------------------------------------------------------------

    def _pull(self, pod: dict, run: PodRun, crun: ContainerRun) -> None:
        crun.phase = PULLING
        crun.pulling = True
        crun.next_at = None
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        image = crun.spec.get("image", "")

        def done(result: PullResult) -> None:
            current = self.pods.get(key)
            if current is not run or run.killing or crun.phase != PULLING:
                return
            self._pull_done(key, run, crun, result)

        if self.runtime.will_pull(run.node, crun.spec):
            self._event(pod, "Pulling", f'Pulling image "{image}"')
        self.runtime.pull(run.node, pod, crun.spec, done)

    def _pull_done(
        self, key: tuple[str, str], run: PodRun, crun: ContainerRun, result: PullResult
    ) -> None:
        pod = self.api.get("pods", *key)
        crun.pulling = False
        if pod is None:
            return
        image = crun.spec.get("image", "")
        if result.ok:
            crun.image, crun.image_id = result.image, result.image_id
            crun.pull_failures = 0
            if result.already_present:
                self._event(pod, "Pulled", f'Container image "{image}" already present on machine')
            else:
                secs = f"{result.seconds:.3f}s"
                self._event(
                    pod,
                    "Pulled",
                    f'Successfully pulled image "{image}" in {secs} ({secs} including waiting). '
                    f"Image size: {result.size_bytes} bytes.",
                )
            crun.phase = CREATING
            crun.waiting_reason, crun.waiting_message = "ContainerCreating", ""
            crun.next_at = now() + self.config.container_start_seconds
        else:
            crun.pull_failures += 1
            crun.phase = PULL_FAILED
            if "pull policy of Never" in result.message:
                crun.waiting_reason, crun.waiting_message = "ErrImageNeverPull", result.message
                self._event(pod, "ErrImageNeverPull", result.message, warning=True)
                crun.next_at = None
            else:
                crun.waiting_reason = "ErrImagePull"
                crun.waiting_message = result.message
                self._event(
                    pod, "Failed", f'Failed to pull image "{image}": {result.message}', warning=True
                )
                self._event(pod, "Failed", "Error: ErrImagePull", warning=True)
                # The next sync reports ImagePullBackOff and waits out the back-off.
                crun.next_at = now() + min(self.config.image_pull_backoff_base_seconds, 1.0) / 2
        self.enqueue(key)

    # -- the state machine -------------------------------------------------------------------

    def _advance(self, pod: dict, run: PodRun) -> None:
        at = now()
        for crun in run.all_runs():
            if crun.next_at is None or at < crun.next_at:
                continue
            image = crun.spec.get("image", "")
            if crun.phase == PULL_FAILED:
                delay = backoff(
                    crun.pull_failures,
                    self.config.image_pull_backoff_base_seconds,
                    self.config.image_pull_backoff_max_seconds,
                )
                crun.phase = PULL_BACKOFF
                crun.waiting_reason = "ImagePullBackOff"
                crun.waiting_message = f'Back-off pulling image "{image}"'
                crun.next_at = at + delay
                self._event(pod, "BackOff", f'Back-off pulling image "{image}"')
                self._event(pod, "Failed", "Error: ImagePullBackOff", warning=True)
            elif crun.phase == PULL_BACKOFF:
                self._pull(pod, run, crun)
            elif crun.phase in (CREATING, CRASH_BACKOFF, CONFIG_ERROR):
                error = env_config_error(self.api, pod, crun.spec)
                if error is not None:
                    self._config_error(pod, crun, error)
                    continue
                restarting = crun.phase == CRASH_BACKOFF or (
                    crun.phase == CONFIG_ERROR and crun.ever_started
                )
                if restarting:
                    crun.restart_count += 1
                    self.logs.restart(run_ns(pod), pod["metadata"]["name"], crun.name)
                self._start_container(pod, run, crun)

    def _volumes_mounted(self, pod: dict, run: PodRun) -> bool:
        if run.volumes_mounted:
            return True  # a mounted volume stays mounted if its source goes away later
        error = volume_mount_error(self.api, pod)
        run.mount_error = error
        if error is None:
            run.volumes_mounted = True
            return True
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self._config_blocked.setdefault(ns, set()).add((ns, name))
        self._event(pod, "FailedMount", error, warning=True)
        return False

    def _config_error(self, pod: dict, crun: ContainerRun, error: str) -> None:
        """Creating the container failed on its environment: wait for the object to appear."""
        crun.phase = CONFIG_ERROR
        crun.waiting_reason, crun.waiting_message = "CreateContainerConfigError", error
        crun.next_at = None  # retried when a Secret or ConfigMap of the namespace changes
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self._config_blocked.setdefault(ns, set()).add((ns, name))
        self._event(pod, "Failed", f"Error: {error}", warning=True)

    def _start_container(
        self, pod: dict, run: PodRun, crun: ContainerRun, restored_from: dict | None = None
    ) -> None:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])

        def exited(code: int, reason: str) -> None:
            if self.pods.get(key) is not run or crun.handle is not handle or run.killing:
                return
            self._container_exited(key, pod, run, crun, code, reason)

        if restored_from is None:
            self._event(pod, "Created", f"Created container {crun.name}")
        if handle_is_local := self.runtime.is_local(pod):
            # the program reads its own IP (downward API, listen address) at start
            status = {**(pod.get("status") or {}), "podIP": run.ip, "hostIP": run.host_ip}
            status["podIPs"], status["hostIPs"] = [{"ip": run.ip}], [{"ip": run.host_ip}]
            pod = {**pod, "status": status}
        handle = self.runtime.start(pod, crun.spec, crun.restart_count, exited)
        crun.handle = handle
        if restored_from is None:
            self._event(pod, "Started", f"Started container {crun.name}")
            crun.started_at = now()
        else:
            running = (restored_from.get("state") or {}).get("running") or {}
            crun.started_at = parse_time(running.get("startedAt")) or now()
            crun.image = restored_from.get("image") or crun.image
            crun.image_id = restored_from.get("imageID") or crun.image_id
        crun.phase = RUNNING
        crun.ever_started = True
        crun.next_at = None
        if crun.terminated is not None:
            crun.last_terminated = crun.terminated
        crun.terminated = None
        delay = self.runtime.readiness_delay(pod, crun.spec)
        crun.ready_at = None if delay is None else crun.started_at + delay
        if handle_is_local and handle.process:
            self.local.started(pod, run, crun)

    def _container_exited(
        self,
        key: tuple[str, str],
        pod: dict,
        run: PodRun,
        crun: ContainerRun,
        code: int,
        reason: str,
    ) -> None:
        at = now()
        container_id = crun.handle.container_id if crun.handle is not None else ""
        crun.handle = None
        crun.ready_at = None
        crun.terminated = {
            "containerID": container_id,
            "exitCode": code,
            "reason": reason,
            "startedAt": rfc3339(crun.started_at),
            "finishedAt": rfc3339(at),
        }
        ran_for = at - (crun.started_at or at)
        if ran_for >= self.config.crash_backoff_reset_seconds:
            crun.crash_streak = 0
        policy = pod["spec"].get("restartPolicy") or "Always"
        if crun.init:
            # A failed init container is retried unless the pod never restarts anything.
            restart = code != 0 and policy != "Never"
        else:
            restart = policy == "Always" or (policy == "OnFailure" and code != 0)
        if not restart:
            crun.phase = EXITED
            crun.next_at = None
            if crun.init and code == 0:
                current = self.api.get("pods", *key) or pod
                self._next_step(current, run)
        else:
            delay = (
                0.0
                if crun.crash_streak == 0
                else backoff(
                    crun.crash_streak,
                    self.config.crash_backoff_base_seconds,
                    self.config.crash_backoff_max_seconds,
                )
            )
            crun.crash_streak += 1
            crun.phase = CRASH_BACKOFF
            crun.next_at = at + delay
            if delay > 0:
                current = self.api.get("pods", *key) or pod
                pod_ref = f"{key[1]}_{key[0]}({pod['metadata']['uid']})"
                crun.waiting_reason = "CrashLoopBackOff"
                crun.waiting_message = (
                    f"back-off {_duration(delay)} restarting failed "
                    f"container={crun.name} pod={pod_ref}"
                )
                self._event(
                    current,
                    "BackOff",
                    f"Back-off restarting failed container {crun.name} in pod {pod_ref}",
                    warning=True,
                )
            else:
                crun.waiting_reason, crun.waiting_message = "", ""
        self.enqueue(key)

    # -- termination -------------------------------------------------------------------------

    def _begin_kill(self, pod: dict, run: PodRun) -> None:
        run.killing = True
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        handles = [c.handle for c in run.all_runs() if c.handle is not None]
        waits = [self.runtime.termination_wait(h, float(grace)) for h in handles]
        run.kill_at = now() + max(
            waits
            or [
                min(
                    float(grace),
                    self.config.termination_seconds,
                    self.config.termination_max_seconds,
                )
            ]
        )
        for crun in run.all_runs():
            if crun.handle is not None:
                self._event(pod, "Killing", f"Stopping container {crun.name}")
                self.runtime.stop(crun.handle, float(grace))
                crun.ready_at = None

    def _finish_deletion(self, pod: dict) -> None:
        meta = pod["metadata"]
        try:
            self.api.delete("pods", meta["namespace"], meta["name"], grace_period_seconds=0)
        except Exception as exc:
            if getattr(exc, "code", None) != 404:
                raise
        self._forget((meta["namespace"], meta["name"]), meta.get("uid"))

    def _forget(self, key: tuple[str, str], uid: str | None) -> None:
        run = self.pods.get(key)
        if run is None:
            self.local.waiting.discard(key)
        if run is None or (uid is not None and run.uid != uid):
            return
        del self.pods[key]
        for crun in run.all_runs():
            if crun.handle is not None:
                self.runtime.stop(crun.handle, 0)
                crun.handle = None
        self.ipam.release(run.uid)
        self.local.forget(key, run.uid)
        self.logs.forget(*key)
        blocked = self._config_blocked.get(key[0])
        if blocked is not None:
            blocked.discard(key)
            if not blocked:
                del self._config_blocked[key[0]]

    # -- status ------------------------------------------------------------------------------

    def _publish(self, pod: dict, run: PodRun) -> None:
        status = pod_status(pod, run, now())
        if status["phase"] in ("Succeeded", "Failed"):
            self.local.release_slot((pod["metadata"]["namespace"], pod["metadata"]["name"]))
        if status != pod.get("status"):
            self.api.update_status("pods", {**pod, "status": status})

    def _schedule_next(self, key: tuple[str, str], run: PodRun) -> None:
        at = now()
        times = []
        if run.killing:
            times.append(run.kill_at)
        for crun in run.all_runs():
            if crun.next_at is not None:
                times.append(crun.next_at)
            if crun.phase == RUNNING and crun.ready_at is not None and crun.ready_at > at:
                times.append(crun.ready_at)
        if times:
            self.requeue_after(key, max(min(times) - at, 0.0) + 0.001)

    def _event(self, pod: dict, reason: str, message: str, *, warning: bool = False) -> None:
        self.api.record_event(
            pod,
            reason=reason,
            message=message,
            type="Warning" if warning else "Normal",
            component=COMPONENT,
        )


def run_ns(pod: dict) -> str:
    return pod["metadata"].get("namespace") or ""


def _duration(seconds: float) -> str:
    """Go's time.Duration formatting for the whole and fractional seconds back-offs use."""
    if seconds >= 60:
        minutes, secs = divmod(round(seconds), 60)
        return f"{minutes}m{secs}s"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:g}s"


def _internal_ip(node: dict) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return address.get("address", "")
    return ""
