"""The log viewer pages: one pod (container, previous instance, lines to start with,
timestamps) and a workload's pods together. The page renders the choices; static/js/logs.js
streams the lines over the live websocket."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from controlplane.clusters.selectors import cluster_get
from controlplane.kube.names import validate_object_names
from controlplane.live.snapshot import snapshot_get

from .access import logs_check
from .selectors import pod_containers, workload_pods
from .store import StreamRef, kept_containers, kept_lines, viewer_meta

# Lines the page keeps at most; older ones leave the page (the download has them all).
PAGE_MAX_LINES = 10_000
TAIL_CHOICES = (100, 500, 1000)


def _tail(request) -> int | None:
    raw = request.GET.get("tail", "500")
    if raw == "all":
        return None
    try:
        value = int(raw)
    except ValueError:
        return 500
    return value if value in TAIL_CHOICES else 500


def _checked(cluster_name: str, namespace: str, name: str) -> None:
    try:
        validate_object_names(namespace=namespace, name=name)
    except ValidationError as exc:  # a name Kubernetes would refuse names nothing here
        raise Http404(str(exc)) from None


@login_required
@require_GET
def pod_logs_view(request, cluster, namespace, pod):
    _checked(cluster, namespace, pod)
    cluster_obj = cluster_get(name=cluster, user=request.user)
    logs_check(
        user=request.user,
        cluster=cluster_obj,
        namespace=namespace,
        name=pod,
        verb="get",
        request_id=getattr(request, "request_id", None),
    )
    snapshot = snapshot_get(cluster=cluster_obj, kind="pods", namespace=namespace)
    found = next((p for p in snapshot.objects if p["metadata"]["name"] == pod), None)
    if found is not None:
        names = pod_containers(found)
    else:
        # Gone (or not yet in the cache): the containers whose lines were kept.
        kept = kept_containers(cluster=cluster_obj.name, namespace=namespace, pod=pod)
        names = {"containers": kept, "init_containers": []}
    container = request.GET.get("container") or ""
    every = names["containers"] + names["init_containers"]
    if container not in every:
        container = every[0] if every else container
    gone = None
    if found is None and snapshot.ok:
        # The cluster no longer has it: show what was kept, if anything.
        if container:
            lines, meta = kept_lines(stream=StreamRef(cluster_obj.name, namespace, pod, container))
            gone = {**viewer_meta(meta), "lines": len(lines)}
        else:
            gone = {"state": "ended", "lines": 0, "ended_at": None}
    previous = request.GET.get("previous") == "1"
    timestamps = request.GET.get("timestamps") == "1"
    tail = _tail(request)
    query = {"container": container, "timestamps": "true" if timestamps else "false"}
    if previous:
        query["previous"] = "true"
    download = reverse(
        "api-pod-log", kwargs={"cluster": cluster_obj.name, "namespace": namespace, "name": pod}
    )
    return render(
        request,
        "deployments/logs/viewer.html",
        {
            "cluster": cluster_obj,
            "namespace": namespace,
            "pod": pod,
            "found": found is not None,
            "gone": gone,
            "source": snapshot,
            "containers": names["containers"],
            "init_containers": names["init_containers"],
            "container": container,
            "previous": previous,
            "timestamps": timestamps,
            "tail": tail,
            "tail_choices": TAIL_CHOICES,
            "download_url": download + "?" + "&".join(f"{k}={v}" for k, v in query.items()),
            "max_lines": PAGE_MAX_LINES,
            "buffer_lines": settings.LOGS_BUFFER_LINES,
        },
    )


@login_required
@require_GET
def workload_logs_view(request, cluster, namespace, kind, name):
    if kind not in ("deployment", "job"):
        raise Http404("logs are aggregated for deployments and jobs")
    _checked(cluster, namespace, name)
    cluster_obj = cluster_get(name=cluster, user=request.user)
    logs_check(
        user=request.user,
        cluster=cluster_obj,
        namespace=namespace,
        name=name,
        verb="get",
        request_id=getattr(request, "request_id", None),
    )
    pods = workload_pods(cluster=cluster_obj, namespace=namespace, kind=kind, name=name)
    containers: list[str] = []
    for pod in pods:
        for container in pod_containers(pod)["containers"]:
            if container not in containers:
                containers.append(container)
    return render(
        request,
        "deployments/logs/workload.html",
        {
            "cluster": cluster_obj,
            "namespace": namespace,
            "kind": kind,
            "name": name,
            "pods": [p["metadata"]["name"] for p in pods],
            "containers": containers,
            "tail": _tail(request) or 100,
            "tail_choices": TAIL_CHOICES,
            "max_lines": PAGE_MAX_LINES,
        },
    )
