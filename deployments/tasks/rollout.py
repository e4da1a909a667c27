"""Celery tasks of rollouts: set images, roll back, pause/resume, restart.

Each is idempotent for a redelivered message: images and a revision's template are absolute,
pause is an absolute flag, and a restart carries the restartedAt time chosen when it was
requested, so running it twice writes the same template. Changes that depend on what they
read go through `deployment_update` (re-read on 409), never over someone else's change.
"""

import time

from django.conf import settings

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import action_task
from controlplane.kube import rollouts as kube
from controlplane.kube.errors import KubeError

from .. import rollouts

# How long a task waits for the controller to number the revision its write made.
REVISION_WAIT = 5.0


class RolloutRefused(KubeError):
    """The deployment changed since the request so that the action no longer applies."""


def _paused_refusal(what: str) -> RolloutRefused:
    return RolloutRefused(
        f"cannot {what} a paused deployment; resume it first (as kubectl refuses to)"
    )


def _revision_after(event: AuditEvent, written: dict) -> int | None:
    """The revision the controller gave the written template, once it observed the write."""
    generation = int(written["metadata"].get("generation") or 0)
    wait = getattr(settings, "ROLLOUT_REVISION_WAIT", REVISION_WAIT)
    deadline = time.monotonic() + wait
    while True:
        tree = kube.deployment_tree(
            event.cluster.connection(),
            namespace=event.namespace,
            name=event.name,
            with_pods=False,
        )
        deployment = tree["deployment"]
        observed = int((deployment.get("status") or {}).get("observedGeneration") or 0)
        if observed >= generation:
            rs = rollouts.new_replicaset(deployment, tree["replicasets"])
            if rs is not None:
                return rollouts.revision_of(rs)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def _template_result(event: AuditEvent, written: dict) -> dict:
    template = written["spec"]["template"]
    return {
        "revision": _revision_after(event, written),
        "template_digest": rollouts.template_digest(template),
        "images": rollouts.template_images(template),
        "generation": int(written["metadata"].get("generation") or 0),
    }


@action_task
def deployment_rollout_task(event: AuditEvent) -> dict:
    images = {c["name"]: c["image"] for c in event.parameters["containers"]}
    change_cause = event.parameters.get("change_cause") or ""

    def change(current: dict) -> dict:
        try:
            return rollouts.images_set(current, images=images, change_cause=change_cause)
        except KeyError as exc:
            raise RolloutRefused(
                f"the deployment no longer has a container named {exc.args[0]!r}"
            ) from None

    written = kube.deployment_update(
        event.cluster.connection(), namespace=event.namespace, name=event.name, change=change
    )
    return {**_template_result(event, written), "change_cause": change_cause}


@action_task
def deployment_rollback_task(event: AuditEvent) -> dict:
    revision = int(event.parameters["revision"])
    conn = event.cluster.connection()
    outcome: dict = {}

    def change(current: dict) -> dict:
        if (current.get("spec") or {}).get("paused"):
            raise _paused_refusal("roll back")
        # The ReplicaSets are read with each attempt, so a 409 sees the history afresh.
        tree = kube.deployment_tree(
            conn, namespace=event.namespace, name=event.name, with_pods=False
        )
        rs = rollouts.replicaset_for_revision(tree["replicasets"], revision)
        if rs is None:
            raise RolloutRefused(f"unable to find the specified revision {revision} in history")
        restored = rollouts.revision_restore(current, rs)
        outcome["skipped"] = rollouts.template_normal(
            current["spec"]["template"]
        ) == rollouts.template_normal(restored["spec"]["template"])
        return restored

    written = kube.deployment_update(
        conn, namespace=event.namespace, name=event.name, change=change
    )
    result = {**_template_result(event, written), "rolled_back_to": revision}
    if outcome.get("skipped"):
        result["skipped"] = f"the current template already matches revision {revision}"
    return result


@action_task
def deployment_pause_task(event: AuditEvent) -> dict:
    paused = bool(event.parameters["paused"])
    written = kube.deployment_patch(
        event.cluster.connection(),
        namespace=event.namespace,
        name=event.name,
        patch={"spec": {"paused": paused}},
    )
    return {"paused": bool((written.get("spec") or {}).get("paused"))}


@action_task
def deployment_restart_task(event: AuditEvent) -> dict:
    restarted_at = event.parameters["restarted_at"]

    def change(current: dict) -> dict:
        if (current.get("spec") or {}).get("paused"):
            raise _paused_refusal("restart")
        template = current["spec"]["template"]
        meta = template.setdefault("metadata", {})
        annotations = meta.get("annotations") or {}
        annotations[rollouts.RESTARTED_AT] = restarted_at
        meta["annotations"] = annotations
        return current

    written = kube.deployment_update(
        event.cluster.connection(), namespace=event.namespace, name=event.name, change=change
    )
    return {**_template_result(event, written), "restarted_at": restarted_at}
