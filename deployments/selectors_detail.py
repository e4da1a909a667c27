"""The deployment page's reads, role-checked: one deployment with its ReplicaSets, pods,
Services, autoscaler, events and audit, from the watcher's cache where the kind is watched
(else a live list through the kube layer), each part with the Snapshot saying where it came
from and how old it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml
from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can, visible_namespaces
from controlplane.audit.selectors import audit_list
from controlplane.kube.errors import NotFound
from controlplane.kube.names import validate_object_names
from controlplane.kube.objects import object_time
from controlplane.live.snapshot import snapshot_get

from . import rollouts
from .autoscalers import autoscaler_brief
from .progress import revision_compare, rollout_progress
from .selectors import model_info
from .selectors_rollout import actions_by_digest
from .serializers import deployment_summarize

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

# How many of the newest events and audited actions the page shows.
EVENTS_SHOWN = 50
ACTIONS_SHOWN = 30


def _controlled_by(items: list[dict], uids: set[str]) -> list[dict]:
    return [
        item
        for item in items
        if any(
            ref.get("controller") and ref.get("uid") in uids
            for ref in (item.get("metadata") or {}).get("ownerReferences") or []
        )
    ]


def _selects(selector: dict | None, labels: dict) -> bool:
    """Whether a Service's (map) selector picks pods with `labels`; an empty one picks none."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _service_rows(services: list[dict], template_labels: dict, pods: list[dict]) -> list[dict]:
    rows = []
    for svc in services:
        spec = svc.get("spec") or {}
        selector = spec.get("selector") or {}
        if not _selects(selector, template_labels):
            continue
        chosen = [
            p for p in pods if _selects(selector, (p.get("metadata") or {}).get("labels") or {})
        ]
        ready = sum(
            1
            for p in chosen
            if not (p.get("metadata") or {}).get("deletionTimestamp")
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        external = [
            i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")
        ]
        external += list(spec.get("externalIPs") or [])
        rows.append(
            {
                "name": (svc.get("metadata") or {}).get("name", ""),
                "type": spec.get("type", "ClusterIP"),
                "cluster_ip": spec.get("clusterIP", ""),
                "external": external,
                "ports": [
                    {
                        "name": p.get("name", ""),
                        "port": p.get("port"),
                        "target": p.get("targetPort"),
                        "node_port": p.get("nodePort"),
                        "protocol": p.get("protocol", "TCP"),
                    }
                    for p in spec.get("ports") or []
                ],
                "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
                "ready_endpoints": ready,
                "selected_pods": len(chosen),
            }
        )
    return rows


def _pod_rows(state_pods: list[dict], pods: list[dict], where: str) -> list[dict]:
    by_name = {(p.get("metadata") or {}).get("name"): p for p in pods}
    rows = []
    for summary in state_pods:
        pod = by_name.get(summary["name"]) or {}
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        containers = (pod.get("spec") or {}).get("containers") or []
        rows.append(
            {
                **summary,
                "node": (pod.get("spec") or {}).get("nodeName", ""),
                "ready_count": sum(1 for cs in statuses if cs.get("ready")),
                "container_count": len(containers),
                "created_at": object_time(summary["created"], where=f"{where} pod"),
            }
        )
    return rows


def _event_rows(events: list[dict], names: set[tuple[str, str]], where: str) -> list[dict]:
    rows = []
    for event in events:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if (involved.get("kind"), involved.get("name")) not in names:
            continue
        last = (
            event.get("lastTimestamp")
            or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp")
        )
        rows.append(
            {
                "type": event.get("type", ""),
                "reason": event.get("reason", ""),
                "message": event.get("message") or event.get("note") or "",
                "object": f"{involved.get('kind')}/{involved.get('name')}",
                "count": event.get("count") or 1,
                "last": last or "",
                "last_at": object_time(last, where=f"{where} event"),
            }
        )
    rows.sort(key=lambda r: r["last"], reverse=True)
    return rows[:EVENTS_SHOWN]


def deployment_yaml(deployment: dict) -> str:
    """The object as YAML without managedFields (they are the API server's bookkeeping)."""
    metadata = dict(deployment.get("metadata") or {})
    metadata.pop("managedFields", None)
    return yaml.safe_dump({**deployment, "metadata": metadata}, sort_keys=False)


def deployment_detail_get(
    *,
    user: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    compare: tuple[object, object] | None = None,
) -> dict:
    """Everything the deployment page shows. PermissionDenied without the view role,
    NotFound when the deployment does not exist (in the cache or a live list). `compare`:
    the two revisions whose difference the page shows (default: the latest change)."""
    validate_object_names(namespace=namespace, name=name)
    if not user_can(user=user, permission="view", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You may not view namespace {namespace} on cluster {cluster.name}.")
    where = f"deployment {namespace}/{name}"
    snaps = {
        kind: snapshot_get(cluster=cluster, kind=kind, namespace=namespace)
        for kind in (
            "deployments",
            "replicasets",
            "pods",
            "services",
            "horizontalpodautoscalers",
            "events",
        )
    }
    deployments = snaps["deployments"]
    if not deployments.ok:
        return {"snapshots": snaps, "error": deployments.error, "note": deployments.note}
    deployment = next(
        (d for d in deployments.objects if (d.get("metadata") or {}).get("name") == name), None
    )
    if deployment is None:
        raise NotFound(f"deployment {namespace}/{name} does not exist")
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    replicasets = _controlled_by(snaps["replicasets"].objects, {meta.get("uid")})
    namespace_pods = snaps["pods"].objects
    pods = _controlled_by(
        namespace_pods, {(rs.get("metadata") or {}).get("uid") for rs in replicasets}
    )
    state = rollouts.rollout_state(deployment, replicasets, pods)
    revisions = rollouts.revision_list(
        deployment,
        replicasets,
        actions_by_digest(cluster=cluster, namespace=namespace, name=name),
    )
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    hpa = next(
        (
            h
            for h in snaps["horizontalpodautoscalers"].objects
            if ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == "Deployment"
            and (h.get("spec") or {}).get("scaleTargetRef", {}).get("name") == name
        ),
        None,
    )
    involved = {("Deployment", name)}
    involved |= {("ReplicaSet", (rs.get("metadata") or {}).get("name")) for rs in replicasets}
    involved |= {("Pod", (p.get("metadata") or {}).get("name")) for p in pods}
    if hpa is not None:
        involved.add(("HorizontalPodAutoscaler", (hpa.get("metadata") or {}).get("name")))
    summary = deployment_summarize(deployment=deployment)
    actions = audit_list(
        user=user, cluster=cluster.name, namespace=namespace, kind="deployment"
    ).filter(name=name)[:ACTIONS_SHOWN]
    selector = spec.get("selector") or {}
    return {
        "snapshots": snaps,
        "error": "",
        "deployment": deployment,
        "summary": summary,
        "created_at": object_time(summary["created"], where=where),
        "model": model_info(summary),
        "selector": {
            "match_labels": sorted((selector.get("matchLabels") or {}).items()),
            "expressions": selector.get("matchExpressions") or [],
        },
        "state": state,
        "progress": rollout_progress(deployment, state),
        "new_replicaset": (state["new_replicaset"] or {}).get("name", ""),
        "pods": _pod_rows(state["pods"], pods, where),
        "replicasets": sorted(
            (rollouts._replicaset_summary(rs) for rs in replicasets),
            key=lambda r: -r["revision"],
        ),
        "revisions": revisions,
        "compare": revision_compare(replicasets, [r["revision"] for r in revisions], compare),
        "previous_revision": rollouts.previous_revision(deployment, replicasets),
        "services": _service_rows(snaps["services"].objects, template_labels, namespace_pods),
        "autoscaler": autoscaler_brief(hpa),
        "autoscaler_name": (hpa.get("metadata") or {}).get("name") if hpa else "",
        "events": _event_rows(snaps["events"].objects, involved, where),
        "actions": list(actions),
        "yaml": deployment_yaml(deployment),
        "can_scale": user_can(user=user, permission="scale", cluster=cluster, namespace=namespace),
        "can_restart": user_can(
            user=user, permission="restart", cluster=cluster, namespace=namespace
        ),
        "can_rollback": user_can(
            user=user, permission="rollback", cluster=cluster, namespace=namespace
        ),
        "can_autoscale": user_can(
            user=user, permission="autoscale", cluster=cluster, namespace=namespace
        ),
        "can_rollout": user_can(
            user=user, permission="rollout", cluster=cluster, namespace=namespace
        ),
    }


# The deployments list: rollout state per row, filters and sorting --------------------------

SORT_KEYS = {
    "name": lambda r: r["name"],
    "namespace": lambda r: (r["namespace"], r["name"]),
    "ready": lambda r: (r["status"]["ready_replicas"] or 0, r["replicas"] or 0),
    "desired": lambda r: r["replicas"] or 0,
    "updated": lambda r: r["status"]["updated_replicas"] or 0,
    "available": lambda r: r["status"]["available_replicas"] or 0,
    "images": lambda r: ",".join(r["images"]),
    "model": lambda r: ",".join(f"{k}={v}" for k, v in r["model"]),
    "rollout": lambda r: r["rollout"],
    # Oldest first, as "age" ascending reads: smallest age is the newest.
    "age": lambda r: -(r["created_at"].timestamp() if r["created_at"] else 0),
    "autoscaler": lambda r: (r["autoscaler"] or {}).get("max_replicas") or 0,
}


def label_selector_parse(text: str) -> list[tuple[str, str | None]] | None:
    """`key=value,key2,key3!=v` as (key, value) pairs (value None: the key exists; a leading
    "!" on the value: must differ); None when malformed."""
    terms = []
    for raw in (t.strip() for t in text.split(",")):
        if not raw:
            continue
        if "!=" in raw:
            key, value = raw.split("!=", 1)
            value = "!" + value.strip()
        elif "==" in raw or "=" in raw:
            key, value = raw.replace("==", "=").split("=", 1)
            value = value.strip()
        else:
            key, value = raw, None
        key = key.strip()
        if not key or " " in key:
            return None
        terms.append((key, value))
    return terms


def _matches_labels(labels: dict, terms: list[tuple[str, str | None]]) -> bool:
    for key, value in terms:
        if value is None:
            if key not in labels:
                return False
        elif value.startswith("!"):
            if labels.get(key) == value[1:]:
                return False
        elif labels.get(key) != value:
            return False
    return True


def rows_filter_sort(rows: list[dict], *, text: str = "", labels: str = "", sort: str = "") -> dict:
    """The table's rows narrowed by a text (name, image, model label) and a label selector,
    sorted by `sort` (a SORT_KEYS name, "-" in front for descending)."""
    error = ""
    text = text.strip().lower()
    if text:
        rows = [
            r
            for r in rows
            if text in r["name"].lower()
            or any(text in (i or "").lower() for i in r["images"])
            or any(text in f"{k}={v}".lower() for k, v in r["model"])
        ]
    if labels.strip():
        terms = label_selector_parse(labels)
        if terms is None:
            error = f"{labels!r} is not a label selector (key=value,key!=value,key)"
        else:
            rows = [r for r in rows if _matches_labels(r["labels"] or {}, terms)]
    key = sort.lstrip("-")
    if key in SORT_KEYS:
        rows = sorted(rows, key=SORT_KEYS[key], reverse=sort.startswith("-"))
    else:
        sort = ""
    return {"rows": rows, "filter_error": error, "sort": sort}


def deployment_table_all_get(*, user: User, cluster: Cluster) -> dict:
    """Every deployment of the cluster this user may see (all namespaces for a cluster-wide
    grant, else those the grant names), as rows of the deployments list, read-only."""
    visible = visible_namespaces(user=user, cluster=cluster)
    if visible is not None and not visible:
        raise PermissionDenied(f"You may not view cluster {cluster.name}.")
    snapshot = snapshot_get(cluster=cluster, kind="deployments")
    hpas = (
        snapshot_get(cluster=cluster, kind="horizontalpodautoscalers").objects
        if snapshot.ok
        else []
    )
    autoscalers = {
        ((h.get("metadata") or {}).get("namespace"), ref.get("name")): h
        for h in hpas
        if (ref := (h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == "Deployment"
    }
    rows = []
    for obj in snapshot.objects:
        summary = deployment_summarize(deployment=obj)
        if visible is not None and summary["namespace"] not in visible:
            continue
        where = f"deployment {summary['namespace']}/{summary['name']}"
        rows.append(
            {
                **summary,
                "created_at": object_time(summary["created"], where=where),
                "model": model_info(summary),
                "autoscaler": autoscaler_brief(
                    autoscalers.get((summary["namespace"], summary["name"]))
                ),
                "rollout": rollouts.rollout_state(obj, [], [])["state"],
            }
        )
    return {
        "snapshot": snapshot,
        "rows": rows,
        "namespaces": None if visible is None else sorted(visible),
    }
