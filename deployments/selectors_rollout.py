"""Reads of rollouts, role-checked, straight from the cluster: where a rollout stands, the
revision history (joined to the actions that made revisions here) and revision diffs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can
from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.kube import rollouts as kube
from controlplane.kube.errors import NotFound
from controlplane.kube.names import validate_object_names

from . import rollouts

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

# The verbs whose successful actions wrote a pod template (joined to revisions by digest).
TEMPLATE_VERBS = ("rollout", "rollback", "restart")
_HISTORY_ACTIONS = 500


def require_view(*, user: User, cluster: Cluster, namespace: str) -> None:
    if not user_can(user=user, permission="view", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You may not view namespace {namespace} on cluster {cluster.name}.")


def _read_tree(
    *, user: User, cluster: Cluster, namespace: str, name: str, with_pods: bool = False
) -> dict:
    validate_object_names(namespace=namespace, name=name)
    require_view(user=user, cluster=cluster, namespace=namespace)
    return kube.deployment_tree(
        cluster.connection(), namespace=namespace, name=name, with_pods=with_pods
    )


def rollout_status_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> dict:
    """Where the rollout stands (see rollouts.rollout_state), read from the cluster now."""
    tree = _read_tree(user=user, cluster=cluster, namespace=namespace, name=name, with_pods=True)
    return {
        "name": name,
        "namespace": namespace,
        **rollouts.rollout_state(tree["deployment"], tree["replicasets"], tree["pods"]),
    }


def actions_by_digest(*, cluster: Cluster, namespace: str, name: str) -> dict[str, dict]:
    events = AuditEvent.objects.filter(
        cluster_name=cluster.name,
        namespace=namespace,
        kind="deployment",
        name=name,
        verb__in=TEMPLATE_VERBS,
        status=ActionStatus.SUCCEEDED,
    ).order_by("-created")[:_HISTORY_ACTIONS]
    found: dict[str, dict] = {}
    # Newest first: the latest action that wrote a template is the one that made it current.
    for event in events:
        digest = (event.result or {}).get("template_digest")
        if digest and digest not in found:
            found[digest] = {
                "id": str(event.id),
                "actor": event.actor_name,
                "verb": event.verb,
                "finished": event.finished.isoformat() if event.finished else None,
            }
    return found


def revision_list_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> list[dict]:
    """The kept revisions, newest first, with who made each one here when it was done here."""
    tree = _read_tree(user=user, cluster=cluster, namespace=namespace, name=name)
    return rollouts.revision_list(
        tree["deployment"],
        tree["replicasets"],
        actions_by_digest(cluster=cluster, namespace=namespace, name=name),
    )


def revision_diff_get(
    *, user: User, cluster: Cluster, namespace: str, name: str, left: int, right: int
) -> dict:
    """The changes from revision `left`'s pod template to revision `right`'s."""
    tree = _read_tree(user=user, cluster=cluster, namespace=namespace, name=name)
    templates = {}
    for number in (left, right):
        rs = rollouts.replicaset_for_revision(tree["replicasets"], number)
        if rs is None:
            raise NotFound(f"revision {number} of deployment {name} is not in the history")
        templates[number] = rs["spec"]["template"]
    return {
        "from_revision": left,
        "to_revision": right,
        "changes": rollouts.template_diff(templates[left], templates[right]),
    }


def rollout_form_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> dict:
    """What the roll-out page starts from, read from the cluster now: each container with
    its current image, the current revision and its change-cause, whether it is paused."""
    tree = _read_tree(user=user, cluster=cluster, namespace=namespace, name=name)
    deployment = tree["deployment"]
    spec = deployment.get("spec") or {}
    template = spec.get("template") or {}
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    return {
        "containers": [
            {"name": c.get("name", ""), "image": c.get("image", "")}
            for c in (template.get("spec") or {}).get("containers") or []
        ],
        "revision": rollouts.revision_of(deployment),
        "change_cause": annotations.get(rollouts.CHANGE_CAUSE, ""),
        "paused": bool(spec.get("paused")),
    }
