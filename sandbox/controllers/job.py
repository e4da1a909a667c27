"""Job controller (batch/v1), after kube-controller-manager's job controller.

Runs pods until `completions` succeed (NonIndexed, or Indexed with one pod per index), at most
`parallelism` at a time; retries failures with exponential back-off until `backoffLimit`; stops
at `activeDeadlineSeconds`. As in 1.31, the terminal condition comes in two steps: first
SuccessCriteriaMet / FailureTarget while remaining pods are stopped, then Complete / Failed,
which is what `kubectl wait --for=condition=complete` waits for.
"""

from __future__ import annotations

import logging
from typing import Any

from sandbox.machinery.backoff import backoff
from sandbox.machinery.base import Controller
from sandbox.machinery.cache import Caches
from sandbox.machinery.util import (
    deepcopy,
    get_condition,
    now,
    owner_reference,
    parse_time,
    pod_is_ready,
    rfc3339,
    set_condition,
)

log = logging.getLogger(__name__)
COMPONENT = "job-controller"
RESOURCE = "jobs.batch"
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"

_FINISH = {
    "BackoffLimitExceeded": "Job has reached the specified backoff limit",
    "DeadlineExceeded": "Job was active longer than specified deadline",
}


class JobController(Controller):
    name = "job"

    def __init__(self, cluster: Any, caches: Caches) -> None:
        super().__init__(cluster)
        self.caches = caches

    def setup(self) -> None:
        self.watch_objects(RESOURCE)
        self.watch_owned("pods", "Job")

    def initial_keys(self):
        return [
            (j["metadata"]["namespace"], j["metadata"]["name"]) for j in self.api.list(RESOURCE)
        ]

    # -- reconcile ---------------------------------------------------------------------------

    def reconcile(self, key: tuple[str, str]) -> None:
        stored = self.api.get(RESOURCE, *key)
        if stored is None or stored["metadata"].get("deletionTimestamp"):
            return
        job = deepcopy(stored)
        spec, status = job["spec"], job.setdefault("status", {})
        pods = self.caches.pods.by("owner", job["metadata"]["uid"])
        if _finished(status):
            self._handle_ttl(job)
            return
        deleting = [p for p in pods if p["metadata"].get("deletionTimestamp")]
        active = [p for p in pods if _active(p)]
        succeeded_pods = [p for p in pods if _phase(p) == "Succeeded"]
        failed_pods = [p for p in pods if _phase(p) == "Failed"]
        verdicts = [(p, pod_failure_verdict(job, p)) for p in failed_pods]
        # podFailurePolicy "Ignore" failures are retried without counting toward backoffLimit.
        counted = [p for p, v in verdicts if v is None or v[0] != "Ignore"]
        fail_job = next((v for _, v in verdicts if v is not None and v[0] == "FailJob"), None)
        status["succeeded"] = max(int(status.get("succeeded") or 0), len(succeeded_pods))
        status["failed"] = max(int(status.get("failed") or 0), len(counted))
        at = now()

        if spec.get("suspend"):
            self._suspend(job, active)
            self._write(job, active, deleting)
            return
        self._resume_if_needed(job)
        if not status.get("startTime"):
            status["startTime"] = rfc3339(at)

        failure = get_condition(status, "FailureTarget")
        success = get_condition(status, "SuccessCriteriaMet")
        if failure is None and success is None:
            reason = self._failure_reason(job, active, at)
            if fail_job is not None:
                set_condition(
                    status,
                    "FailureTarget",
                    "True",
                    "PodFailurePolicy",
                    fail_job[1],
                    probe_times=True,
                )
                failure = get_condition(status, "FailureTarget")
            elif reason:
                set_condition(
                    status, "FailureTarget", "True", reason, _FINISH[reason], probe_times=True
                )
                failure = get_condition(status, "FailureTarget")
            elif self._succeeded(job, succeeded_pods, active):
                set_condition(
                    status,
                    "SuccessCriteriaMet",
                    "True",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    probe_times=True,
                )
                success = get_condition(status, "SuccessCriteriaMet")

        if failure is not None or success is not None:
            for pod in active:
                self._delete_pod(job, pod)
            if failure is not None and active:
                # Pods the controller stops because the Job failed count as failed, as upstream.
                status["failed"] += len(active)
            remaining = [
                p
                for p in self.caches.pods.by("owner", job["metadata"]["uid"])
                if _active(p) or p["metadata"].get("deletionTimestamp")
            ]
            if not remaining:
                self._finish(job, failure, success)
            self._write(job, [], remaining)
            return

        self._manage_pods(job, active, succeeded_pods, counted, at)
        pods = self.caches.pods.by("owner", job["metadata"]["uid"])
        self._write(
            job,
            [p for p in pods if _active(p)],
            [p for p in pods if p["metadata"].get("deletionTimestamp")],
        )
        deadline = spec.get("activeDeadlineSeconds")
        if deadline:
            started = parse_time(status.get("startTime")) or at
            self.requeue_after(key, max(started + deadline - at, 0) + 0.05)

    # -- decisions ---------------------------------------------------------------------------

    def _failure_reason(self, job: dict, active: list[dict], at: float) -> str | None:
        spec, status = job["spec"], job["status"]
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if deadline and started is not None and at >= started + deadline:
            return "DeadlineExceeded"
        limit = spec.get("backoffLimit", 6)
        if status["failed"] > limit:
            return "BackoffLimitExceeded"
        if _restart_policy(job) == "OnFailure":
            # Restarts in place count as failures (pastBackoffLimitOnFailure).
            restarts = sum(
                c.get("restartCount", 0)
                for p in active
                for c in (p.get("status") or {}).get("containerStatuses") or []
            )
            if (restarts > 0) if limit == 0 else (restarts >= limit):
                return "BackoffLimitExceeded"
        return None

    def _succeeded(self, job: dict, succeeded_pods: list[dict], active: list[dict]) -> bool:
        spec, status = job["spec"], job["status"]
        completions = spec.get("completions")
        if _indexed(job):
            return len(_completed_indexes(succeeded_pods, completions or 0)) >= (completions or 0)
        if completions is None:
            # "Work queue" Jobs: done once any pod succeeded and the rest have stopped.
            return status["succeeded"] > 0 and not active
        return status["succeeded"] >= completions

    def _manage_pods(
        self, job: dict, active: list[dict], succeeded: list[dict], failed: list[dict], at: float
    ) -> None:
        spec, status = job["spec"], job["status"]
        parallelism = spec.get("parallelism", 1)
        completions = spec.get("completions")
        if completions is None:
            want = parallelism if status["succeeded"] == 0 else min(len(active), parallelism)
        else:
            want = max(min(completions - status["succeeded"], parallelism), 0)
        if len(active) > want:
            for pod in sorted(active, key=_newest_first)[: len(active) - want]:
                self._delete_pod(job, pod)
            return
        missing = want - len(active)
        if missing <= 0:
            return
        delay = self._backoff_remaining(job, failed, at)
        if delay > 0:
            self.requeue_after((job["metadata"]["namespace"], job["metadata"]["name"]), delay)
            return
        if _indexed(job):
            done = _completed_indexes(succeeded, completions or 0)
            running = {_index(p) for p in active}
            free = [i for i in range(completions or 0) if i not in done and i not in running]
            for index in free[:missing]:
                self._create_pod(job, index)
        else:
            for _ in range(missing):
                self._create_pod(job, None)

    def _backoff_remaining(self, job: dict, failed: list[dict], at: float) -> float:
        failures = job["status"]["failed"]
        if failures == 0 or not failed:
            return 0.0
        last = max((_finished_at(p) for p in failed), default=0.0)
        delay = backoff(
            failures, self.config.job_backoff_base_seconds, self.config.job_backoff_max_seconds
        )
        return max(last + delay - at, 0.0)

    # -- actions -----------------------------------------------------------------------------

    def _create_pod(self, job: dict, index: int | None) -> None:
        template = job["spec"].get("template") or {}
        tmeta = template.get("metadata") or {}
        name = job["metadata"]["name"]
        meta: dict[str, Any] = {
            "generateName": f"{name}-" if index is None else f"{name}-{index}-",
            "namespace": job["metadata"]["namespace"],
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": dict(tmeta.get("annotations") or {}),
            "ownerReferences": [owner_reference(job, api_version="batch/v1", kind="Job")],
        }
        pod_spec = deepcopy(template.get("spec") or {})
        if index is not None:
            meta["annotations"][INDEX_ANNOTATION] = str(index)
            meta["labels"][INDEX_ANNOTATION] = str(index)
            pod_spec.setdefault("hostname", f"{name}-{index}")
        if not meta["annotations"]:
            del meta["annotations"]
        created = self.api.create(
            "pods", {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}
        )
        self.api.record_event(
            job,
            reason="SuccessfulCreate",
            message=f"Created pod: {created['metadata']['name']}",
            component=COMPONENT,
        )

    def _delete_pod(self, job: dict, pod: dict) -> None:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            return
        try:
            self.api.delete("pods", meta["namespace"], meta["name"])
        except Exception as exc:
            if getattr(exc, "code", None) != 404:
                raise
            return
        self.api.record_event(
            job,
            reason="SuccessfulDelete",
            message=f"Deleted pod: {meta['name']}",
            component=COMPONENT,
        )

    def _finish(self, job: dict, failure: dict | None, success: dict | None) -> None:
        status = job["status"]
        if failure is not None:
            reason = failure.get("reason", "BackoffLimitExceeded")
            set_condition(
                status, "Failed", "True", reason, failure.get("message", ""), probe_times=True
            )
            self.api.record_event(
                job,
                reason=reason,
                message=failure.get("message", ""),
                type="Warning",
                component=COMPONENT,
            )
        else:
            status["completionTime"] = rfc3339()
            set_condition(
                status,
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                probe_times=True,
            )
            self.api.record_event(
                job, reason="Completed", message="Job completed", component=COMPONENT
            )

    def _suspend(self, job: dict, active: list[dict]) -> None:
        for pod in active:
            self._delete_pod(job, pod)
        status = job["status"]
        if set_condition(
            status, "Suspended", "True", "JobSuspended", "Job suspended", probe_times=True
        ):
            status.pop("startTime", None)
            self.api.record_event(
                job, reason="Suspended", message="Job suspended", component=COMPONENT
            )

    def _resume_if_needed(self, job: dict) -> None:
        cond = get_condition(job["status"], "Suspended")
        if cond is not None and cond.get("status") == "True":
            set_condition(
                job["status"], "Suspended", "False", "JobResumed", "Job resumed", probe_times=True
            )
            job["status"]["startTime"] = rfc3339()
            self.api.record_event(job, reason="Resumed", message="Job resumed", component=COMPONENT)

    def _handle_ttl(self, job: dict) -> None:
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        finished = max(
            (
                parse_time(c.get("lastTransitionTime")) or 0.0
                for c in job["status"].get("conditions") or []
                if c.get("type") in ("Complete", "Failed")
            ),
            default=0.0,
        )
        remaining = finished + ttl - now()
        if remaining > 0:
            self.requeue_after(
                (job["metadata"]["namespace"], job["metadata"]["name"]), remaining + 0.05
            )
            return
        try:
            self.api.delete(
                RESOURCE,
                job["metadata"]["namespace"],
                job["metadata"]["name"],
                propagation="Background",
            )
        except Exception as exc:
            if getattr(exc, "code", None) != 404:
                raise

    def _write(self, job: dict, active: list[dict], deleting: list[dict]) -> None:
        status = job["status"]
        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if pod_is_ready(p))
        status["terminating"] = len(deleting)
        status["uncountedTerminatedPods"] = {}
        if _indexed(job):
            done = _completed_indexes(
                [
                    p
                    for p in self.caches.pods.by("owner", job["metadata"]["uid"])
                    if _phase(p) == "Succeeded"
                ],
                job["spec"].get("completions") or 0,
            )
            status["completedIndexes"] = _ranges(sorted(done))
        for field in ("active", "succeeded", "failed", "terminating", "completedIndexes"):
            if not status.get(field):
                status.pop(field, None)
        stored = self.api.get(RESOURCE, job["metadata"]["namespace"], job["metadata"]["name"])
        if stored is not None and stored.get("status") != status:
            self.api.update_status(RESOURCE, job)
        if get_condition(status, "Complete") or get_condition(status, "Failed"):
            self._handle_ttl(job)


def pod_failure_verdict(job: dict, pod: dict) -> tuple[str, str] | None:
    """(action, message) of the first podFailurePolicy rule matching a failed pod, if any."""
    rules = (job["spec"].get("podFailurePolicy") or {}).get("rules") or []
    status = pod.get("status") or {}
    meta = pod["metadata"]
    containers = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    for index, rule in enumerate(rules):
        action = rule.get("action", "Count")
        on_codes = rule.get("onExitCodes")
        if on_codes:
            wanted = on_codes.get("containerName")
            values = set(on_codes.get("values") or [])
            for c in containers:
                code = ((c.get("state") or {}).get("terminated") or {}).get("exitCode")
                if code in (None, 0) or (wanted and c.get("name") != wanted):
                    continue
                if (code in values) == (on_codes.get("operator", "In") == "In"):
                    return action, (
                        f"Container {c.get('name')} for pod {meta['namespace']}/{meta['name']} "
                        f"failed with exit code {code} matching {action} rule at index {index}"
                    )
        for pattern in rule.get("onPodConditions") or []:
            cond = get_condition(status, pattern.get("type", ""))
            if cond is not None and cond.get("status") == pattern.get("status", "True"):
                return action, (
                    f"Pod {meta['namespace']}/{meta['name']} has condition {pattern.get('type')} "
                    f"matching {action} rule at index {index}"
                )
    return None


def _finished(status: dict) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase", "Pending")


def _active(pod: dict) -> bool:
    return _phase(pod) not in ("Succeeded", "Failed") and not pod["metadata"].get(
        "deletionTimestamp"
    )


def _restart_policy(job: dict) -> str:
    return ((job["spec"].get("template") or {}).get("spec") or {}).get("restartPolicy") or "Never"


def _indexed(job: dict) -> bool:
    return job["spec"].get("completionMode") == "Indexed"


def _index(pod: dict) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(INDEX_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _completed_indexes(pods: list[dict], completions: int) -> set[int]:
    return {i for i in (_index(p) for p in pods) if i is not None and 0 <= i < completions}


def _ranges(indexes: list[int]) -> str:
    """completedIndexes text form: "0-3,5"."""
    parts: list[str] = []
    start = prev = None
    for i in indexes:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            parts.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = i
    if start is not None:
        parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(parts)


def _finished_at(pod: dict) -> float:
    latest = 0.0
    for c in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (c.get("state") or {}).get("terminated") or {}
        latest = max(latest, parse_time(term.get("finishedAt")) or 0.0)
    return latest or (parse_time(pod["metadata"].get("creationTimestamp")) or 0.0)


def _newest_first(pod: dict) -> float:
    return -(parse_time(pod["metadata"].get("creationTimestamp")) or 0.0)
