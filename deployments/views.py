"""Deployment pages: the live list of a namespace and its scale control."""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from controlplane.accounts.selectors import user_can, visible_namespaces
from controlplane.audit.selectors import audit_list
from controlplane.dashboard.navigation import SESSION_NAMESPACE, namespace_choices, remember
from controlplane.dashboard.views import cluster_for_view
from controlplane.kube.errors import KubeError, NotFound, Unavailable
from controlplane.live.snapshot import snapshot_get

from .selectors import deployment_summary
from .services import deployment_scale

# Labels and annotations whose key mentions a model are shown as the deployment's model info.
_MODEL_HINT = "model"


def _require_namespace(request, cluster, namespace: str) -> None:
    if not user_can(user=request.user, permission="view", cluster=cluster, namespace=namespace):
        raise Http404(f"No namespace {namespace!r} visible to you on {cluster.name}")


def _created(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _model_info(summary: dict) -> list[tuple[str, str]]:
    pairs = {**summary["annotations"], **summary["labels"]}
    return sorted((k, v) for k, v in pairs.items() if _MODEL_HINT in k.lower())


def deployment_rows(*, user, cluster, namespace: str) -> dict:
    snapshot = snapshot_get(cluster=cluster, kind="deployments", namespace=namespace)
    latest_action: dict[str, object] = {}
    for action in audit_list(
        user=user, cluster=cluster.name, namespace=namespace, kind="deployment"
    )[:200]:
        latest_action.setdefault(action.name, action)
    rows = []
    for obj in snapshot.objects:
        summary = deployment_summary(obj)
        rows.append(
            {
                **summary,
                "created_at": _created(summary["created"]),
                "model": _model_info(summary),
                "action": latest_action.get(summary["name"]),
            }
        )
    return {
        "snapshot": snapshot,
        "rows": rows,
        "can_scale": user_can(user=user, permission="scale", cluster=cluster, namespace=namespace),
    }


@login_required
@require_GET
def index(request, cluster):
    """The deployments of the namespace last looked at (or the cluster's default)."""
    cluster_obj = cluster_for_view(request, cluster)
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


@login_required
@require_GET
def deployment_list(request, cluster, namespace):
    cluster_obj = cluster_for_view(request, cluster)
    _require_namespace(request, cluster_obj, namespace)
    remember(request, cluster=cluster_obj.name, namespace=namespace)
    context = {
        "cluster": cluster_obj,
        "namespace": namespace,
        **deployment_rows(user=request.user, cluster=cluster_obj, namespace=namespace),
    }
    return render(request, "deployments/list.html", context)


@login_required
@require_GET
def deployment_rows_view(request, cluster, namespace):
    """The table body alone, re-rendered when the page hears that a deployment changed."""
    cluster_obj = cluster_for_view(request, cluster)
    _require_namespace(request, cluster_obj, namespace)
    context = {
        "cluster": cluster_obj,
        "namespace": namespace,
        **deployment_rows(user=request.user, cluster=cluster_obj, namespace=namespace),
    }
    return render(request, "deployments/_table.html", context)


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
    cluster_obj = cluster_for_view(request, cluster)
    _require_namespace(request, cluster_obj, namespace)
    replicas = _replicas_from_form(request.POST.get("replicas", ""))
    status = 202
    errors: dict[str, str] = {}
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
        status = 400
        errors[name] = "; ".join(
            f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
        )
    except NotFound:
        status = 404
        errors[name] = f"deployment {namespace}/{name} does not exist (any more)"
    except Unavailable as exc:
        status = 503
        errors[name] = f"cluster unavailable: {exc}"
    except KubeError as exc:
        # The cluster refused our own credentials or the request: not the user's mistake.
        status = 502
        errors[name] = f"the cluster answered: {exc}"
    else:
        if not request.htmx:
            messages.info(
                request, f"Scaling {namespace}/{name} to {replicas}: action {action.id} queued."
            )
    if not request.htmx:
        for message in errors.values():
            messages.error(request, f"Scaling {namespace}/{name} failed: {message}")
        return redirect("deployments:list", cluster=cluster_obj.name, namespace=namespace)
    context = {
        "cluster": cluster_obj,
        "namespace": namespace,
        **deployment_rows(user=request.user, cluster=cluster_obj, namespace=namespace),
    }
    # An error shows in its deployment's row; one about a deployment that has no row (gone, or
    # the list failed) shows on top.
    for row in context["rows"]:
        row["error"] = errors.get(row["name"], "")
    shown = {row["name"] for row in context["rows"]} if context["snapshot"].ok else set()
    context["unplaced_errors"] = {k: v for k, v in errors.items() if k not in shown}
    return render(request, "deployments/_table.html", context, status=status)
