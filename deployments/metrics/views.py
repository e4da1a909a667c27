"""The metrics pages of a deployment, a pod and a node: charts of the stored series that the
page's script keeps appending to from the live websocket."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET
from rest_framework.exceptions import ValidationError

from controlplane.clusters.selectors import cluster_get
from controlplane.kube.names import validate_object_names

from .selectors import (
    DEFAULT_WINDOW,
    metrics_deployment_get,
    metrics_node_get,
    metrics_pod_get,
)

WINDOWS = ("15m", "1h", "6h", "24h")


def validate_names_or_404(**names: str | None) -> None:
    try:
        validate_object_names(**names)
    except ValidationError as exc:
        raise Http404(f"not a Kubernetes name: {exc.detail}") from None


def _render(request, *, cluster, read, subscription: dict, target: dict, title: str):
    window = request.GET.get("window") or DEFAULT_WINDOW
    window_error = ""
    try:
        data = read(window=window)
    except ValidationError as exc:  # only the window can be wrong here
        window_error = f"window: {' '.join(exc.detail['window'])}"
        window = DEFAULT_WINDOW
        data = read(window=window)
    charts = ["cpu", "memory"]
    if data["kind"] == "deployment":
        charts.append("replicas")
        if any(s["name"] == "autoscaler" and s["label"] == "current" for s in data["series"]):
            charts.append("autoscaler")
    status = 400 if window_error else 200
    newest = max((s["newest_sample_at"] or 0 for s in data["series"]), default=0) or None
    context = {
        "cluster": cluster,
        "data": data,
        "target": target,
        "title": title,
        "charts": charts,
        "windows": WINDOWS,
        "window": window,
        "window_error": window_error,
        "newest": newest,
        "pods": sorted(
            {s["label"] for s in data["series"] if s["name"] == "cpu" and s["label"] != "total"}
        )
        if data["kind"] == "deployment"
        else [],
        "subscription": {"cluster": cluster.name, "kind": "metrics", **subscription},
    }
    return render(request, "metrics/page.html", context, status=status)


@login_required
@require_GET
def deployment_metrics_view(request, cluster, namespace, name):
    validate_names_or_404(namespace=namespace, name=name)
    obj = cluster_get(name=cluster, user=request.user)
    return _render(
        request,
        cluster=obj,
        read=lambda window: metrics_deployment_get(
            user=request.user, cluster=obj, namespace=namespace, name=name, window=window
        ),
        subscription={"namespace": namespace, "deployment": name},
        target={"namespace": namespace, "name": name, "kind": "deployment"},
        title=f"Metrics · {namespace}/{name}",
    )


@login_required
@require_GET
def pod_metrics_view(request, cluster, namespace, name):
    validate_names_or_404(namespace=namespace, name=name)
    obj = cluster_get(name=cluster, user=request.user)
    return _render(
        request,
        cluster=obj,
        read=lambda window: metrics_pod_get(
            user=request.user, cluster=obj, namespace=namespace, name=name, window=window
        ),
        subscription={"namespace": namespace, "pod": name},
        target={"namespace": namespace, "name": name, "kind": "pod"},
        title=f"Metrics · pod {namespace}/{name}",
    )


@login_required
@require_GET
def node_metrics_view(request, cluster, name):
    validate_names_or_404(name=name)
    obj = cluster_get(name=cluster, user=request.user)
    return _render(
        request,
        cluster=obj,
        read=lambda window: metrics_node_get(
            user=request.user, cluster=obj, name=name, window=window
        ),
        subscription={"node": name},
        target={"name": name, "kind": "node"},
        title=f"Metrics · node {name}",
    )
