"""Reads of deployments, role-checked: through the kube layer (API) or the watcher's cache
with the last action on each (pages)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can
from controlplane.audit.selectors import audit_list
from controlplane.kube import resources
from controlplane.kube.objects import object_time
from controlplane.live.snapshot import snapshot_get

from . import rollouts
from .autoscalers import autoscaler_brief
from .serializers import deployment_summarize

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

# Labels and annotations whose key mentions a model are shown as the deployment's model info.
_MODEL_HINT = "model"
# How far back the page looks for each deployment's last action.
_RECENT_ACTIONS = 200


def require_view(*, user, cluster, namespace: str) -> None:
    if not user_can(user=user, permission="view", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You may not view namespace {namespace} on cluster {cluster.name}.")


def deployment_list(*, user: User, cluster: Cluster, namespace: str) -> list[dict]:
    require_view(user=user, cluster=cluster, namespace=namespace)
    return resources.deployment_list(cluster.connection(), namespace=namespace)


def deployment_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> dict:
    require_view(user=user, cluster=cluster, namespace=namespace)
    return resources.deployment_get(cluster.connection(), namespace=namespace, name=name)


def model_info(summary: dict) -> list[tuple[str, str]]:
    pairs = {**summary["annotations"], **summary["labels"]}
    return sorted((k, v) for k, v in pairs.items() if _MODEL_HINT in k.lower())


def deployment_table_get(*, user: User, cluster: Cluster, namespace: str) -> dict:
    """The deployments page's rows: each deployment as the watcher (or a live list) has it,
    with its model labels and its last action, and whether this user may scale them."""
    snapshot = snapshot_get(cluster=cluster, kind="deployments", namespace=namespace)
    latest_action: dict[str, object] = {}
    recent = audit_list(user=user, cluster=cluster.name, namespace=namespace, kind="deployment")
    for action in recent[:_RECENT_ACTIONS]:
        latest_action.setdefault(action.name, action)
    # The HPA managing each deployment, so the scale control can say so (not asked for when
    # the deployments could not be listed: an unreachable cluster would cost a second timeout).
    hpas = (
        snapshot_get(cluster=cluster, kind="horizontalpodautoscalers", namespace=namespace).objects
        if snapshot.ok
        else []
    )
    autoscalers = {
        ref.get("name"): h
        for h in hpas
        if (ref := (h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == "Deployment"
    }
    rows = []
    for obj in snapshot.objects:
        summary = deployment_summarize(deployment=obj)
        where = f"deployment {namespace}/{summary['name']}"
        rows.append(
            {
                **summary,
                "created_at": object_time(summary["created"], where=where),
                "model": model_info(summary),
                "action": latest_action.get(summary["name"]),
                "autoscaler": autoscaler_brief(autoscalers.get(summary["name"])),
                # From the object alone (conditions, paused, observedGeneration): the pods'
                # reasons for a stuck rollout are on the deployment's page.
                "rollout": rollouts.rollout_state(obj, [], [])["state"],
            }
        )
    return {
        "snapshot": snapshot,
        "rows": rows,
        "can_scale": user_can(user=user, permission="scale", cluster=cluster, namespace=namespace),
        "can_autoscale": user_can(
            user=user, permission="autoscale", cluster=cluster, namespace=namespace
        ),
    }
