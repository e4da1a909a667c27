"""The "Deploy a model" page: check (warnings and a preview, nothing created), then deploy;
and the page that deletes a deployment once its name is typed.

The page goes through the same services as the API: the same validation, role check and
audit; a deploy is an action whose outcome the deployments page shows live.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from controlplane.accounts.selectors import user_can
from controlplane.audit.services import ActionNotQueued, describe_invalid
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import KubeError, NotFound

from .forms import DeleteForm, DeployForm
from .services.deploy import (
    deploy_validate,
    deployment_create,
    deployment_delete,
    deployment_preview,
)
from .views import require_namespace
from .warnings import deploy_warnings


def _may_deploy(request, cluster, namespace: str) -> bool:
    return user_can(user=request.user, permission="deploy", cluster=cluster, namespace=namespace)


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
    require_namespace(request, cluster_obj, namespace)
    if request.method == "GET":
        if not _may_deploy(request, cluster_obj, namespace):
            raise PermissionDenied("You may not deploy in this namespace.")
        return _render(request, cluster_obj, namespace, DeployForm())
    if not _may_deploy(request, cluster_obj, namespace):
        # The role comes before the input, as in the API: the service refuses and audits it.
        refused = {"name": request.POST.get("name", "")}
        deployment_create(
            actor=request.user, cluster=cluster_obj, namespace=namespace, spec=refused
        )
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


@login_required
@require_http_methods(["GET", "POST"])
def delete_view(request, cluster, namespace, name):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    require_namespace(request, cluster_obj, namespace)
    context = {"cluster": cluster_obj, "namespace": namespace, "name": name}
    if request.method == "GET":
        if not _may_deploy(request, cluster_obj, namespace):
            raise PermissionDenied("You may not delete deployments in this namespace.")
        form = DeleteForm(name=name)
        return render(request, "deployments/delete.html", {**context, "form": form})
    if not _may_deploy(request, cluster_obj, namespace):
        deployment_delete(actor=request.user, cluster=cluster_obj, namespace=namespace, name=name)
    form = DeleteForm(request.POST, name=name)
    if not form.is_valid():
        return render(request, "deployments/delete.html", {**context, "form": form}, status=400)
    try:
        action = deployment_delete(
            actor=request.user,
            cluster=cluster_obj,
            namespace=namespace,
            name=name,
            options=form.options(),
            request_id=getattr(request, "request_id", None),
        )
    except ValidationError as exc:
        form.add_error(None, describe_invalid(exc))
        status = 400
    except NotFound:
        form.add_error(None, f"deployment {namespace}/{name} does not exist (any more)")
        status = 404
    except ActionNotQueued as exc:
        form.add_error(None, f"The task queue is unavailable, nothing was changed: {exc.reason}")
        status = 503
    else:
        messages.info(request, f"Deleting {namespace}/{name}: action {action.id} queued.")
        return redirect("deployments:list", cluster=cluster_obj.name, namespace=namespace)
    return render(request, "deployments/delete.html", {**context, "form": form}, status=status)
