"""The "metrics" subscription kind of the live websocket.

    {"subscribe": {"cluster": C, "kind": "metrics", "namespace": NS, "deployment": NAME}}
    {"subscribe": {"cluster": C, "kind": "metrics", "namespace": NS, "pod": NAME}}
    {"subscribe": {"cluster": C, "kind": "metrics", "node": NAME}}

After every sampling cycle that stored a sample of the subscribed series, the socket receives
{"type": "metrics.sample", "cluster", "series", "t", "values": {...}} (a deployment's also
carries "pods": {pod: [cpu cores, memory bytes]}). History comes from the HTTP API first.
The sampler broadcasts only to series with subscribers, counted in Redis on join and leave.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async

from controlplane.audit.services import refusal_record
from controlplane.clusters.models import Cluster
from controlplane.kube.names import dns1123_label_problem, dns1123_subdomain_problem
from controlplane.live.streams import StreamKind, stream_kind_register
from controlplane.live.subscriptions import SubscriptionRefused

from .access import metrics_may_view
from .sampling import metrics_group, store_for

TARGETS = ("deployment", "pod", "node")


def series_of(subscription: dict) -> str:
    if "node" in subscription:
        return f"n/{subscription['node']}"
    prefix = "d" if "deployment" in subscription else "p"
    name = subscription.get("deployment") or subscription.get("pod")
    return f"{prefix}/{subscription['namespace']}/{name}"


def parse(request) -> dict:
    cluster = request.get("cluster")
    if not isinstance(cluster, str) or not cluster:
        raise ValueError("subscription.cluster: a cluster name is required")
    given = [t for t in TARGETS if t in request]
    if len(given) != 1:
        raise ValueError("subscription.deployment: give exactly one of deployment, pod or node")
    target = given[0]
    name = request[target]
    problem = dns1123_subdomain_problem(name)
    if problem:
        raise ValueError(f"subscription.{target}: {problem}")
    out = {"cluster": cluster, "kind": "metrics", target: name}
    if target != "node":
        namespace = request.get("namespace")
        problem = dns1123_label_problem(namespace)
        if problem:
            raise ValueError(f"subscription.namespace: {problem}")
        out["namespace"] = namespace
    elif "namespace" in request:
        raise ValueError("subscription.namespace: nodes belong to no namespace")
    return out


def authorize(*, user, subscription: dict, audit: bool) -> None:
    cluster = Cluster.objects.filter(name=subscription["cluster"]).first()
    if cluster is None:
        raise SubscriptionRefused(f"no cluster named {subscription['cluster']!r}")
    namespace = subscription.get("namespace")
    if metrics_may_view(user=user, cluster=cluster, namespace=namespace):
        return
    if audit:
        refusal_record(
            actor=user,
            cluster=cluster,
            namespace=namespace or "",
            kind="metrics",
            name=series_of(subscription),
            verb="watch",
            permission="view",
        )
    where = f"namespace {namespace}" if namespace else "the nodes"
    raise SubscriptionRefused(f"you may not view metrics of {where} on cluster {cluster.name}")


def group(subscription: dict) -> str:
    return metrics_group(cluster=subscription["cluster"], series=series_of(subscription))


def _count(subscription: dict, delta: int) -> None:
    store_for(subscription["cluster"]).watch_change(series_of(subscription), delta)


async def joined(*, subscription: dict, channel_name: str, send) -> None:
    await sync_to_async(_count)(subscription, 1)


async def left(*, subscription: dict, channel_name: str) -> None:
    await sync_to_async(_count)(subscription, -1)


def register() -> None:
    stream_kind_register(
        StreamKind(
            name="metrics",
            parse=parse,
            authorize=authorize,
            group=group,
            joined=joined,
            left=left,
        )
    )
