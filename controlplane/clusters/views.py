"""Cluster pages: list, add (upload -> preview -> save, or in-cluster/sandbox), detail with
"Test connection", edit, remove. Credentials are never rendered back."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from controlplane.accounts.selectors import role_for, user_can
from controlplane.audit.services import action_refuse
from controlplane.forms import form_add_errors

from . import services
from .forms import ClusterEditForm, KubeconfigSaveForm, KubeconfigUploadForm, OtherSourceForm
from .kubeconfig import KubeconfigError, parse_kubeconfig
from .models import ClusterSource
from .selectors import cluster_get, cluster_list, in_cluster_available, sandbox_available


@login_required
def cluster_index(request):
    clusters = [
        {
            "cluster": cluster,
            "role": role_for(user=request.user, cluster=cluster),
            "can_manage": user_can(user=request.user, permission="manage_cluster", cluster=cluster),
        }
        for cluster in cluster_list(user=request.user)
    ]
    return render(
        request,
        "clusters/index.html",
        {"rows": clusters, "can_add": request.user.is_superuser},
    )


def _require_superuser(request):
    if not request.user.is_superuser:
        raise PermissionDenied("Only superusers may add clusters.")


@login_required
@require_http_methods(["GET", "POST"])
def cluster_add(request):
    _require_superuser(request)
    upload = KubeconfigUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and upload.is_valid():
        try:
            config = parse_kubeconfig(upload.cleaned_data["raw"])
            staged = services.kubeconfig_stage(raw=upload.cleaned_data["raw"])
        except KubeconfigError as exc:
            upload.add_error(None, f"Refused: {exc}")
        else:
            chosen = config.current_context or config.contexts[0].name
            form = KubeconfigSaveForm(
                initial={"staged": staged, "context": chosen}, contexts=config.contexts
            )
            return render(
                request,
                "clusters/preview.html",
                {"form": form, "contexts": config.contexts, "current": chosen},
            )
    return render(
        request,
        "clusters/add.html",
        {
            "upload": upload,
            "in_cluster": in_cluster_available(),
            "sandbox": sandbox_available(),
        },
    )


@login_required
@require_POST
def cluster_add_save(request):
    services.cluster_add_check(actor=request.user, name=request.POST.get("name", ""))
    try:
        raw = services.kubeconfig_unstage(staged=request.POST.get("staged", ""))
        config = parse_kubeconfig(raw)
    except KubeconfigError as exc:
        messages.error(request, str(exc))
        return redirect("cluster-add")
    form = KubeconfigSaveForm(request.POST, contexts=config.contexts)
    if form.is_valid():
        try:
            cluster = services.cluster_create_from_kubeconfig(
                actor=request.user,
                name=form.cleaned_data["name"],
                display_name=form.cleaned_data["display_name"],
                kubeconfig=raw,
                context=form.cleaned_data["context"],
                request_id=request.request_id,
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        except KubeconfigError as exc:
            form.add_error(None, f"Refused: {exc}")
        else:
            messages.success(request, f"Cluster {cluster.name} added.")
            return redirect("cluster-detail", cluster=cluster.name)
    return render(
        request,
        "clusters/preview.html",
        {"form": form, "contexts": config.contexts, "current": form.data.get("context")},
    )


@login_required
@require_POST
def cluster_add_other(request):
    services.cluster_add_check(actor=request.user, name=request.POST.get("name", ""))
    form = OtherSourceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("cluster-add")
    data = form.cleaned_data
    try:
        if data["source"] == ClusterSource.IN_CLUSTER:
            cluster = services.cluster_create_in_cluster(
                actor=request.user,
                name=data["name"],
                display_name=data["display_name"],
                request_id=request.request_id,
            )
        else:
            cluster = services.cluster_register_sandbox(
                actor=request.user, name=data["name"], display_name=data["display_name"]
            )
    except (ValidationError, KubeconfigError, OSError) as exc:
        text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, f"Could not add the cluster: {text}")
        return redirect("cluster-add")
    messages.success(request, f"Cluster {cluster.name} added.")
    return redirect("cluster-detail", cluster=cluster.name)


@login_required
def cluster_detail(request, cluster):
    obj = cluster_get(name=cluster, user=request.user)
    return render(
        request,
        "clusters/detail.html",
        {
            "cluster": obj,
            "role": role_for(user=request.user, cluster=obj),
            "can_manage": user_can(user=request.user, permission="manage_cluster", cluster=obj),
            "can_manage_roles": user_can(user=request.user, permission="manage_roles", cluster=obj),
        },
    )


@login_required
@require_POST
def cluster_test(request, cluster):
    obj = cluster_get(name=cluster, user=request.user)
    report = services.cluster_test(actor=request.user, cluster=obj)
    template = "clusters/_test_result.html" if request.htmx else "clusters/detail.html"
    return render(
        request,
        template,
        {
            "cluster": obj,
            "report": report,
            "role": role_for(user=request.user, cluster=obj),
            "can_manage": True,
            "can_manage_roles": user_can(user=request.user, permission="manage_roles", cluster=obj),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def cluster_edit(request, cluster):
    obj = cluster_get(name=cluster, user=request.user)
    if not user_can(user=request.user, permission="manage_cluster", cluster=obj):
        if request.method == "POST":
            raise action_refuse(
                actor=request.user,
                cluster=obj,
                namespace=None,
                kind="cluster",
                name=obj.name,
                verb="update",
                permission="manage_cluster",
                parameters={},
                request_id=request.request_id,
            )
        raise PermissionDenied("Only admins of this cluster may edit it.")
    form = ClusterEditForm(
        request.POST or None,
        request.FILES or None,
        initial={"display_name": obj.display_name, "logs_for_viewers": obj.logs_for_viewers},
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        try:
            services.cluster_update(
                actor=request.user,
                cluster=obj,
                display_name=form.cleaned_data["display_name"],
                logs_for_viewers=form.cleaned_data["logs_for_viewers"],
                kubeconfig=upload.read() if upload else None,
                context=form.cleaned_data["context"] or None,
                request_id=request.request_id,
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        except KubeconfigError as exc:
            form.add_error("file", f"Refused: {exc}")
        else:
            messages.success(request, f"Cluster {obj.name} saved.")
            return redirect("cluster-detail", cluster=obj.name)
    return render(request, "clusters/edit.html", {"cluster": obj, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def cluster_remove(request, cluster):
    obj = cluster_get(name=cluster, user=request.user)
    if request.method == "POST":
        services.cluster_delete(actor=request.user, cluster=obj, request_id=request.request_id)
        messages.success(request, f"Cluster {obj.name} removed.")
        return redirect("cluster-list")
    if not user_can(user=request.user, permission="manage_cluster", cluster=obj):
        raise PermissionDenied("Only admins of this cluster may remove it.")
    return render(request, "clusters/remove.html", {"cluster": obj})
