"""Reads of deployments, role-checked: through the kube layer (API) or the watcher's cache
with the last action on each (pages)."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING

import redis
from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can, visible_namespaces
from controlplane.audit.selectors import audit_list
from controlplane.kube import resources
from controlplane.kube.objects import object_name, object_namespace, object_time
from controlplane.kube.watch import list_objects
from controlplane.live.cache import cached_object, cached_raw
from controlplane.live.snapshot import raw_snapshot_get, snapshot_get

from . import rollouts
from .autoscalers import autoscaler_brief
from .serializers import deployments_summarize

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

# Labels and annotations whose key mentions a model are shown as the deployment's model info.
_MODEL_HINT = "model"
# How far back the page looks for each deployment's last action.
_RECENT_ACTIONS = 200

log = logging.getLogger(__name__)


def require_view(*, user, cluster, namespace: str) -> None:
    if not user_can(user=user, permission="view", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You may not view namespace {namespace} on cluster {cluster.name}.")


def deployment_list(*, user: User, cluster: Cluster, namespace: str) -> list[dict]:
    """The namespace's deployments as list rows (deployment_rows, shared: to read only) from
    the watcher's cache (what the pages show), else listed through the kube layer (which
    raises its typed errors)."""
    require_view(user=user, cluster=cluster, namespace=namespace)
    try:
        raws, _meta = cached_raw(cluster_name=cluster.name, kind="deployments", namespace=namespace)
    except redis.RedisError as exc:
        log.warning("live cache unreachable for %s/deployments: %s", cluster.name, exc)
        raws = None
    if raws is not None:
        return deployment_rows(list(raws.values()), shared=True)
    items = resources.deployment_list(cluster.connection(), namespace=namespace)
    return deployment_rows(items, shared=True)


def deployment_list_all(*, user: User, cluster: Cluster) -> list[dict]:
    """Every deployment of the namespaces this user's grant covers (all of them for a
    cluster-wide grant), as list rows (shared: to read only), by namespace and name; from the
    watcher's cache, else listed through the kube layer (which raises its typed errors)."""
    visible = visible_namespaces(user=user, cluster=cluster)
    if visible is not None and not visible:
        raise PermissionDenied(f"You may not view cluster {cluster.name}.")
    try:
        raws, _meta = cached_raw(cluster_name=cluster.name, kind="deployments")
    except redis.RedisError as exc:
        log.warning("live cache unreachable for %s/deployments: %s", cluster.name, exc)
        raws = None
    if raws is not None:
        items = [
            raw for key, raw in raws.items() if visible is None or key.split("/", 1)[0] in visible
        ]
        return deployment_rows(items, shared=True)
    objects, _rv = list_objects(cluster.connection(), kind="deployments")
    objects = [o for o in objects if visible is None or object_namespace(o) in visible]
    objects.sort(key=lambda o: (object_namespace(o), object_name(o)))
    return deployment_rows(objects, shared=True)


def deployment_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> dict:
    require_view(user=user, cluster=cluster, namespace=namespace)
    return resources.deployment_get(cluster.connection(), namespace=namespace, name=name)


def model_info(summary: dict) -> list[tuple[str, str]]:
    pairs = {**summary["annotations"], **summary["labels"]}
    return sorted((k, v) for k, v in pairs.items() if _MODEL_HINT in k.lower())


# A row depends only on its object, so it is made again only when the object changes: keyed
# by the cached JSON itself (or namespace, name and resourceVersion for a live list), a list of
# 2,000 deployments is neither decoded nor re-summarised on every request.
_ROWS: dict[object, dict] = {}
_ROWS_LOCK = threading.Lock()
_ROWS_MAX = 20_000


def _memo_key(item: dict | str) -> object:
    if isinstance(item, str):
        return item
    meta = item.get("metadata") or {}
    rv = meta.get("resourceVersion")
    return (meta.get("namespace"), meta.get("name"), rv) if rv else None


def deployment_rows(items: list[dict | str], *, shared: bool = False) -> list[dict]:
    """Each deployment (an object, or its JSON as the cache holds it) as a list row: its
    summary (DeploymentSerializer), when it was created, its model labels and its rollout
    state (from the object alone: the pods' reasons for a stuck rollout are on the
    deployment's page). Callers add what depends on other objects (rows_complete), to copies:
    `shared` rows are the memo's own, to read only (copying thousands of rows per request
    cost more than the rest of the list)."""
    keys = [_memo_key(item) for item in items]
    with _ROWS_LOCK:
        found = [_ROWS.get(key) if key is not None else None for key in keys]
    missing = [i for i, row in enumerate(found) if row is None]
    if missing:
        objects = [json.loads(items[i]) if isinstance(items[i], str) else items[i] for i in missing]
        summaries = deployments_summarize(deployments=objects)
        made = {}
        for i, obj, summary in zip(missing, objects, summaries, strict=True):
            where = f"deployment {summary['namespace']}/{summary['name']}"
            found[i] = {
                **summary,
                "created_at": object_time(summary["created"], where=where),
                "model": model_info(summary),
                "rollout": rollouts.rollout_state(obj, [], [])["state"],
            }
            if keys[i] is not None:
                made[keys[i]] = found[i]
        with _ROWS_LOCK:
            if len(_ROWS) + len(made) > _ROWS_MAX:
                _ROWS.clear()
            _ROWS.update(made)
    return found if shared else [dict(row) for row in found]


def rows_complete(rows: list[dict], table: dict) -> list[dict]:
    """Copies of `rows` with what depends on other objects: the latest action on each (from
    deployment_table_get's "actions") and the autoscaler managing it ("autoscalers")."""
    return [
        {
            **row,
            "action": table["actions"].get(row["name"]),
            "autoscaler": autoscaler_brief(table["autoscalers"].get(row["name"])),
        }
        for row in rows
    ]


def deployment_table_get(*, user: User, cluster: Cluster, namespace: str) -> dict:
    """The deployments page's rows (shared, deployment_rows): each deployment as the watcher
    (or a live list) has it; the latest action and the autoscaler of each by name, for
    rows_complete; and whether this user may scale them."""
    snapshot, raws = raw_snapshot_get(cluster=cluster, kind="deployments", namespace=namespace)
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
    items = list(raws.values()) if raws is not None else snapshot.objects
    return {
        "snapshot": snapshot,
        "rows": deployment_rows(items, shared=True),
        "actions": latest_action,
        "autoscalers": autoscalers,
        "can_scale": user_can(user=user, permission="scale", cluster=cluster, namespace=namespace),
        "can_autoscale": user_can(
            user=user, permission="autoscale", cluster=cluster, namespace=namespace
        ),
    }


def deployment_row_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> dict:
    """One row of the deployments list ("row": None when the deployment is gone), read by key
    from the watcher's cache (a live list when the cache cannot be trusted)."""
    require_view(user=user, cluster=cluster, namespace=namespace)
    obj, trusted = None, False
    try:
        obj, trusted = cached_object(
            cluster_name=cluster.name, kind="deployments", namespace=namespace, name=name
        )
    except redis.RedisError as exc:
        log.warning("live cache unreachable for %s/deployments: %s", cluster.name, exc)
    if obj is None and not trusted:
        listed = snapshot_get(cluster=cluster, kind="deployments", namespace=namespace).objects
        obj = next((d for d in listed if (d.get("metadata") or {}).get("name") == name), None)
    result = {
        "row": None,
        "can_scale": user_can(user=user, permission="scale", cluster=cluster, namespace=namespace),
        "can_autoscale": user_can(
            user=user, permission="autoscale", cluster=cluster, namespace=namespace
        ),
    }
    if obj is None:
        return result
    [row] = deployment_rows([obj])
    hpas = snapshot_get(cluster=cluster, kind="horizontalpodautoscalers", namespace=namespace)
    hpa = next(
        (
            h
            for h in hpas.objects
            if ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == "Deployment"
            and h["spec"]["scaleTargetRef"].get("name") == name
        ),
        None,
    )
    row["autoscaler"] = autoscaler_brief(hpa)
    row["action"] = (
        audit_list(user=user, cluster=cluster.name, namespace=namespace, kind="deployment")
        .filter(name=name)
        .first()
    )
    row["error"] = ""
    result["row"] = row
    return result
