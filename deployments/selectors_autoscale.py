"""Reading a deployment's autoscaler, role-checked, through the kube layer: the HPA, its
events and the deployment (whose containers' requests explain an <unknown> metric)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.kube import autoscalers, resources
from controlplane.kube.errors import NotFound

from .autoscalers import autoscaler_describe
from .selectors import require_view

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

HPA_KIND = "HorizontalPodAutoscaler"


def autoscaler_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> dict:
    """The described HPA of deployment `name` (NotFound when it has none)."""
    require_view(user=user, cluster=cluster, namespace=namespace)
    conn = cluster.connection()
    hpa = autoscalers.hpa_get(conn, namespace=namespace, name=name)
    events = [
        e
        for e in autoscalers.events_about(conn, namespace=namespace, kind=HPA_KIND, name=name)
        if (e.get("involvedObject") or {}).get("kind") == HPA_KIND
        and (e.get("involvedObject") or {}).get("name") == name
    ]
    try:
        deployment = resources.deployment_get(conn, namespace=namespace, name=name)
    except NotFound:
        deployment = None
    return autoscaler_describe(hpa=hpa, events=events, deployment=deployment)
