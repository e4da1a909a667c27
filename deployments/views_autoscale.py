"""The autoscaler page of one deployment: current against target per metric, replicas,
conditions, recent rescales and what is wrong in plain words; and the editor (operator+)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from controlplane.accounts.selectors import user_can
from controlplane.audit.services import ActionNotQueued
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import KubeError, NotFound

from .autoscalers import MAX_STABILIZATION_SECONDS
from .selectors_autoscale import autoscaler_get
from .services.autoscale import deployment_autoscaler_delete, deployment_autoscaler_set
from .views import require_namespace

_DEFAULTS = {"min_replicas": "1", "max_replicas": "4", "cpu": "70"}


def _number(raw: str):
    # A non-number goes through as text so the service refuses it with the API's message.
    try:
        return int(raw.strip())
    except (ValueError, AttributeError):
        return raw


def _data_from_form(post) -> dict:
    """The API's request body from the editor's fields (empty metric fields are left out)."""
    data: dict = {
        "min_replicas": _number(post.get("min_replicas", "")),
        "max_replicas": _number(post.get("max_replicas", "")),
        "metrics": [],
    }
    if post.get("cpu", "").strip():
        data["metrics"].append({"type": "cpu", "target_utilization": _number(post["cpu"])})
    if post.get("memory", "").strip():
        data["metrics"].append({"type": "memory", "target_utilization": _number(post["memory"])})
    if post.get("pods_name", "").strip() or post.get("pods_target", "").strip():
        data["metrics"].append(
            {
                "type": "pods",
                "name": post.get("pods_name", "").strip(),
                "target_average_value": post.get("pods_target", "").strip(),
            }
        )
    if post.get("scale_down_stabilization_seconds", "").strip():
        data["scale_down_stabilization_seconds"] = _number(post["scale_down_stabilization_seconds"])
    return data


def _form_from_spec(spec: dict) -> dict:
    form = {
        "min_replicas": str(spec.get("min_replicas") or 1),
        "max_replicas": str(spec.get("max_replicas") or ""),
        "scale_down_stabilization_seconds": (
            ""
            if spec.get("scale_down_stabilization_seconds") is None
            else str(spec["scale_down_stabilization_seconds"])
        ),
    }
    for metric in spec.get("metrics") or []:
        if metric["type"] in ("cpu", "memory") and metric.get("target_utilization") is not None:
            form[metric["type"]] = str(metric["target_utilization"])
        elif metric["type"] == "pods":
            form["pods_name"] = metric.get("name") or ""
            form["pods_target"] = metric.get("target_average_value") or ""
    return form


@login_required
@require_http_methods(["GET", "POST"])
def deployment_autoscaler_view(request, cluster, namespace, name):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    require_namespace(request, cluster_obj, namespace)
    status, errors, error = 200, {}, ""
    form = None
    if request.method == "POST":
        request_id = getattr(request, "request_id", None)
        target = {"actor": request.user, "cluster": cluster_obj, "namespace": namespace}
        try:
            if request.POST.get("action") == "delete":
                event = deployment_autoscaler_delete(**target, name=name, request_id=request_id)
                messages.info(request, f"Removing the autoscaler: action {event.id} queued.")
            else:
                form = {key: request.POST.get(key, "") for key in request.POST}
                event, warnings = deployment_autoscaler_set(
                    **target, name=name, data=_data_from_form(request.POST), request_id=request_id
                )
                messages.info(request, f"Setting the autoscaler: action {event.id} queued.")
                for warning in warnings:
                    messages.warning(request, warning)
            return redirect(
                "deployments:autoscaler", cluster=cluster_obj.name, namespace=namespace, name=name
            )
        except ValidationError as exc:
            status = 400
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        except NotFound:
            status, error = 404, f"deployment {namespace}/{name} does not exist (any more)"
        except ActionNotQueued as exc:
            status, error = 503, f"the task queue is unavailable, nothing was changed: {exc.reason}"
    described, read_error = None, ""
    try:
        described = autoscaler_get(
            user=request.user, cluster=cluster_obj, namespace=namespace, name=name
        )
    except NotFound:
        pass
    except KubeError as exc:
        read_error = str(exc)
    if form is None:
        form = _form_from_spec(described["spec"]) if described else dict(_DEFAULTS)
    context = {
        "cluster": cluster_obj,
        "namespace": namespace,
        "name": name,
        "autoscaler": described,
        "read_error": read_error,
        "form": form,
        "errors": errors,
        "error": error,
        "max_stabilization": MAX_STABILIZATION_SECONDS,
        "can_autoscale": user_can(
            user=request.user, permission="autoscale", cluster=cluster_obj, namespace=namespace
        ),
    }
    # The status alone, re-rendered when the watcher reports a change (the page's live root).
    partial = request.method == "GET" and request.GET.get("section") == "status"
    template = "deployments/_autoscaler_status.html" if partial else "deployments/autoscaler.html"
    return render(request, template, context, status=status)
