"""Deployment pages: the live list of a namespace and its scale control."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from controlplane.accounts.selectors import user_can, visible_namespaces
from controlplane.audit.services import describe_invalid
from controlplane.clusters.selectors import cluster_get
from controlplane.dashboard.navigation import SESSION_NAMESPACE, namespace_choices, remember
from controlplane.kube.errors import KubeError, NotFound, Unavailable

from .selectors import deployment_table_get
from .services import deployment_scale


def _require_namespace(request, cluster, namespace: str) -> None:
    if not user_can(user=request.user, permission="view", cluster=cluster, namespace=namespace):
        raise Http404(f"No namespace {namespace!r} visible to you on {cluster.name}")


@login_required
@require_GET
def index(request, cluster):
    """The deployments of the namespace last looked at (or the cluster's default)."""
    cluster_obj = cluster_get(name=cluster, user=request.user)
    names, _note = namespace_choices(user=request.user, cluster=cluster_obj)
    remembered = request.session.get(SESSION_NAMESPACE)
    for candidate in (remembered, cluster_obj.default_namespace):
        if candidate and candidate in names:
            return redirect("deployments:list", cluster=cluster_obj.name, namespace=candidate)
    if names:
        return redirect("deployments:list", cluster=cluster_obj.name, namespace=names[0])
    visible = visible_namespaces(user=request.user, cluster=cluster_obj)
    fallback = sorted(visible)[0] if visible else cluster_obj.default_namespace
    return redirect("deployments:list", cluster=cluster_obj.name, namespace=fallback)


def _table_context(request, cluster, namespace: str, *, name: str = "", error: str = "") -> dict:
    """What the table template needs; `error` (about deployment `name`) shows in its row, or
    on top when that deployment has no row (it is gone, or the list failed)."""
    table = deployment_table_get(user=request.user, cluster=cluster, namespace=namespace)
    placed = False
    for row in table["rows"]:
        row["error"] = error if row["name"] == name else ""
        placed = placed or bool(row["error"])
    return {
        "cluster": cluster,
        "namespace": namespace,
        **table,
        "error_name": name,
        "unplaced_error": "" if placed else error,
    }


@login_required
@require_GET
def deployment_list(request, cluster, namespace):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_namespace(request, cluster_obj, namespace)
    remember(request, cluster=cluster_obj.name, namespace=namespace)
    return render(request, "deployments/list.html", _table_context(request, cluster_obj, namespace))


@login_required
@require_GET
def deployment_rows_view(request, cluster, namespace):
    """The table alone, re-rendered when the page hears that a deployment changed."""
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_namespace(request, cluster_obj, namespace)
    return render(
        request, "deployments/_table.html", _table_context(request, cluster_obj, namespace)
    )


def _replicas_from_form(raw: str):
    # The service validates and audits; a non-number goes through as text so it is refused
    # (and recorded) with the same message an API client gets.
    try:
        return int(raw.strip())
    except (ValueError, AttributeError):
        return raw


@login_required
@require_POST
def deployment_scale_view(request, cluster, namespace, name):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_namespace(request, cluster_obj, namespace)
    replicas = _replicas_from_form(request.POST.get("replicas", ""))
    status, error = 202, ""
    try:
        action = deployment_scale(
            actor=request.user,
            cluster=cluster_obj,
            namespace=namespace,
            name=name,
            replicas=replicas,
            request_id=getattr(request, "request_id", None),
        )
    except ValidationError as exc:
        status, error = 400, describe_invalid(exc)
    except NotFound:
        status, error = 404, f"deployment {namespace}/{name} does not exist (any more)"
    except Unavailable as exc:
        status, error = 503, f"cluster unavailable: {exc}"
    except KubeError as exc:
        # The cluster refused our own credentials or the request: not the user's mistake.
        status, error = 502, f"the cluster answered: {exc}"
    if not request.htmx:
        if error:
            messages.error(request, f"Scaling {namespace}/{name} failed: {error}")
        else:
            messages.info(
                request, f"Scaling {namespace}/{name} to {replicas}: action {action.id} queued."
            )
        return redirect("deployments:list", cluster=cluster_obj.name, namespace=namespace)
    context = _table_context(request, cluster_obj, namespace, name=name, error=error)
    return render(request, "deployments/_table.html", context, status=status)
