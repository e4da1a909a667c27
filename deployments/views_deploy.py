"""The "Deploy a model" page: check (warnings and a preview, nothing created), then deploy.

The page goes through the same services as the API: the same validation, role check and
audit; a deploy is an action whose outcome the deployments page shows live.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from controlplane.accounts.selectors import user_can
from controlplane.audit.services import ActionNotQueued
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import KubeError

from .forms import DeployForm
from .services.deploy import deploy_validate, deployment_create, deployment_preview
from .views import _require_namespace
from .warnings import deploy_warnings


def _render(request, cluster, namespace, form, *, status=200, preview=None, warnings=None):
    context = {
        "cluster": cluster,
        "namespace": namespace,
        "form": form,
        "preview": preview,
        "warnings": warnings,
    }
    return render(request, "deployments/deploy.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def deploy_view(request, cluster, namespace):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_namespace(request, cluster_obj, namespace)
    if request.method == "GET":
        if not user_can(
            user=request.user, permission="deploy", cluster=cluster_obj, namespace=namespace
        ):
            raise PermissionDenied("You may not deploy in this namespace.")
        return _render(request, cluster_obj, namespace, DeployForm())
    form = DeployForm(request.POST)
    if not form.is_valid():
        return _render(request, cluster_obj, namespace, form, status=400)
    spec = form.spec()
    try:
        if "check" in request.POST:
            deployment, service = deployment_preview(
                actor=request.user, cluster=cluster_obj, namespace=namespace, spec=spec
            )
            warnings, _source = deploy_warnings(
                cluster=cluster_obj, namespace=namespace, spec=deploy_validate(spec=spec), live=True
            )
            preview = {"deployment": deployment, "service": service}
            return _render(
                request, cluster_obj, namespace, form, preview=preview, warnings=warnings
            )
        action = deployment_create(
            actor=request.user,
            cluster=cluster_obj,
            namespace=namespace,
            spec=spec,
            request_id=getattr(request, "request_id", None),
        )
    except ValidationError as exc:
        form.add_api_errors(exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages})
        return _render(request, cluster_obj, namespace, form, status=400)
    except ActionNotQueued as exc:
        form.add_error(None, f"The task queue is unavailable, nothing was changed: {exc.reason}")
        return _render(request, cluster_obj, namespace, form, status=503)
    except KubeError as exc:
        form.add_error(None, f"The cluster answered: {exc}")
        return _render(request, cluster_obj, namespace, form, status=502)
    warnings, _source = deploy_warnings(
        cluster=cluster_obj, namespace=namespace, spec=action.parameters, live=False
    )
    messages.info(request, f"Deploying {namespace}/{spec['name']}: action {action.id} queued.")
    for warning in warnings:
        messages.warning(request, warning)
    return redirect("deployments:list", cluster=cluster_obj.name, namespace=namespace)
