"""The deployment page (the hub): summary, rollout, Services, autoscaler, pods, revisions,
events, audit and YAML, live; and its scale / restart / roll back buttons."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from controlplane.audit.services import ActionNotQueued, describe_invalid
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import KubeError, NotFound, Unavailable
from controlplane.live.subscriptions import MAX_SUBSCRIPTIONS

from .selectors_detail import (
    SORT_KEYS,
    deployment_detail_get,
    deployment_table_all_get,
    rows_filter_sort,
)
from .services import deployment_scale
from .services.rollout import deployment_pause_set, deployment_restart, deployment_rollback

# The kinds whose changes re-render the page's live part.
LIVE_KINDS = "deployments replicasets pods events services horizontalpodautoscalers"


def _context(request, cluster, namespace: str, name: str) -> dict:
    try:
        wanted = (request.GET.get("from"), request.GET.get("to"))
        detail = deployment_detail_get(
            user=request.user,
            cluster=cluster,
            namespace=namespace,
            name=name,
            compare=wanted if all(wanted) else None,
        )
    except ValidationError as exc:
        raise Http404(describe_invalid(exc)) from None
    except NotFound as exc:
        raise Http404(str(exc)) from None
    return {
        "cluster": cluster,
        "namespace": namespace,
        "name": name,
        "live_kinds": LIVE_KINDS,
        "max_replicas": settings.DEPLOYMENT_MAX_REPLICAS,
        **detail,
    }


@login_required
@require_GET
def deployment_detail_view(request, cluster, namespace, name):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    return render(
        request, "deployments/detail.html", _context(request, cluster_obj, namespace, name)
    )


@login_required
@require_GET
def deployment_detail_body_view(request, cluster, namespace, name):
    """The page's live part alone, re-rendered when the page hears of a change."""
    cluster_obj = cluster_get(name=cluster, user=request.user)
    return render(
        request, "deployments/_detail_body.html", _context(request, cluster_obj, namespace, name)
    )


def _replicas(raw: str):
    # The service validates and audits: a non-number goes through as text to be refused.
    try:
        return int(raw.strip())
    except (ValueError, AttributeError):
        return raw


def _revision(raw: str | None) -> dict:
    if raw is None or not raw.strip():
        return {}
    # The service refuses (and audits) anything that is not a revision number.
    return {"revision": _replicas(raw)}


_VERBS = {
    "scale": lambda request, **target: deployment_scale(
        **target, replicas=_replicas(request.POST.get("replicas", ""))
    ),
    "restart": lambda request, **target: deployment_restart(**target),
    # No revision: the previous one (the stuck banner's and the `b` key's one-click undo).
    "rollback": lambda request, **target: deployment_rollback(
        **target, **_revision(request.POST.get("revision"))
    ),
    "pause": lambda request, **target: deployment_pause_set(**target, paused=True),
    "resume": lambda request, **target: deployment_pause_set(**target, paused=False),
}


@login_required
@require_POST
def deployment_action_view(request, cluster, namespace, name, verb):
    """Scale, restart, pause, resume or roll back (to the previous revision unless the form
    names one), confirmed on the page; the
    outcome is a message and the pending action in the page's audit section."""
    if verb not in _VERBS:
        raise Http404(f"no action {verb!r}")
    cluster_obj = cluster_get(name=cluster, user=request.user)
    error = ""
    try:
        action = _VERBS[verb](
            request,
            actor=request.user,
            cluster=cluster_obj,
            namespace=namespace,
            name=name,
            request_id=getattr(request, "request_id", None),
        )
    except ValidationError as exc:
        error = describe_invalid(exc)
    except NotFound:
        error = f"deployment {namespace}/{name} does not exist (any more)"
    except ActionNotQueued as exc:
        error = f"the task queue is unavailable, nothing was changed: {exc.reason}"
    except Unavailable as exc:
        error = f"cluster unavailable: {exc}"
    except KubeError as exc:
        error = f"the cluster answered: {exc}"
    if error:
        messages.error(request, f"{verb.capitalize()} {namespace}/{name} failed: {error}")
    else:
        messages.info(
            request, f"{verb.capitalize()} {namespace}/{name}: action {action.id} queued."
        )
    return redirect("deployments:detail", cluster=cluster_obj.name, namespace=namespace, name=name)


# A narrowed grant subscribes per namespace; over the socket's limit the page says to reload.
_ALL_LIVE_KINDS = ("deployments", "horizontalpodautoscalers")


def _all_context(request, cluster) -> dict:
    try:
        table = deployment_table_all_get(user=request.user, cluster=cluster)
    except PermissionDenied:
        raise Http404(f"No deployments visible to you on {cluster.name}") from None
    wanted = {k: request.GET.get(k, "") for k in ("q", "labels", "sort")}
    table.update(
        rows_filter_sort(
            table["rows"], text=wanted["q"], labels=wanted["labels"], sort=wanted["sort"]
        )
    )
    kept = {k: v for k, v in wanted.items() if v}
    namespaces = table["namespaces"]
    live = namespaces is None or len(namespaces) * len(_ALL_LIVE_KINDS) + 1 <= MAX_SUBSCRIPTIONS
    return {
        "cluster": cluster,
        **table,
        "live": live,
        "live_kinds": " ".join(_ALL_LIVE_KINDS),
        "filters": wanted,
        "query": urlencode(kept),
        "sort_links": {
            key: urlencode({**kept, "sort": f"-{key}" if wanted["sort"] == key else key})
            for key in SORT_KEYS
        },
    }


@login_required
@require_GET
def deployment_all_view(request, cluster):
    """The deployments of every namespace this user may see, live."""
    cluster_obj = cluster_get(name=cluster, user=request.user)
    return render(request, "deployments/_detail_all_page.html", _all_context(request, cluster_obj))


@login_required
@require_GET
def deployment_all_table_view(request, cluster):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    return render(request, "deployments/_detail_all_table.html", _all_context(request, cluster_obj))
