"""GKE node pool pages: the create form (a GPU pool when a link asks for an accelerator),
resize, autoscaling and delete from the cluster page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from controlplane.audit.services import ActionNotQueued
from controlplane.clusters.selectors import cluster_get
from controlplane.forms import form_add_errors

from . import selectors, services
from .forms import AutoscalingForm, NodePoolCreateForm, ResizeForm, autoscaling_of
from .views import action_accepted_say, page_context


def _pool_initial(request) -> dict:
    """A link may ask for a GPU pool: ?accelerator=nvidia-tesla-t4&count=1."""
    initial = {}
    accelerator = request.GET.get("accelerator", "")
    if accelerator:
        initial["accelerator_type"] = accelerator
        initial["name"] = f"gpu-{accelerator.removeprefix('nvidia-').removeprefix('tesla-')}"[:40]
    count = request.GET.get("count", "")
    if count.isdigit():
        initial["accelerator_count"] = int(count)
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def nodepool_create(request, project, location, name):
    credential = selectors.credential_get(user=request.user, project=project)
    form = NodePoolCreateForm(request.POST or None, initial=_pool_initial(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = services.gke_nodepool_create(
                actor=request.user,
                credential=credential,
                location=location,
                cluster=name,
                name=data["name"],
                node_count=data["node_count"],
                machine_type=data["machine_type"],
                accelerator_type=data["accelerator_type"],
                accelerator_count=data["accelerator_count"],
                gpu_driver=data["gpu_driver"],
                autoscaling=autoscaling_of(data),
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        except ActionNotQueued as exc:
            form.add_error(None, f"The action could not be queued: {exc.reason}")
        else:
            action_accepted_say(request, event, f"Creating node pool {data['name']}")
            return redirect("gke:cluster", project=project, location=location, name=name)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "gke/nodepool_create.html",
        page_context(request, credential, location, name=name, form=form),
        status=status,
    )


@login_required
def nodepool_create_for(request, cluster):
    """The pool form of the GKE cluster behind a registered cluster, query string kept."""
    selectors.gke_admin_require(user=request.user)
    identity = selectors.gke_identity(cluster=cluster_get(name=cluster, user=request.user))
    if identity is None:
        raise Http404(f"{cluster} was not created through GKE here")
    url = reverse(
        "gke:nodepool_create",
        kwargs={
            "project": identity["project"],
            "location": identity["location"],
            "name": identity["cluster"],
        },
    )
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


def _pool_action(request, project, location, name, pool, form_class, submit, what):
    credential = selectors.credential_get(user=request.user, project=project)
    form = form_class(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    else:
        try:
            event = submit(credential, form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                messages.error(request, f"{field}: {' '.join(errors)}")
        else:
            action_accepted_say(request, event, f"{what} {pool}")
    return redirect("gke:cluster", project=project, location=location, name=name)


@login_required
@require_POST
def nodepool_resize(request, project, location, name, pool):
    def submit(credential, data):
        return services.gke_nodepool_resize(
            actor=request.user,
            credential=credential,
            location=location,
            cluster=name,
            pool=pool,
            node_count=data["node_count"],
        )

    return _pool_action(
        request, project, location, name, pool, ResizeForm, submit, "Resizing node pool"
    )


@login_required
@require_POST
def nodepool_autoscaling(request, project, location, name, pool):
    def submit(credential, data):
        return services.gke_nodepool_autoscale(
            actor=request.user,
            credential=credential,
            location=location,
            cluster=name,
            pool=pool,
            enabled=data["enabled"],
            min_node_count=data.get("min_node_count") or 0,
            max_node_count=data.get("max_node_count") or services.MISSING,
        )

    return _pool_action(
        request, project, location, name, pool, AutoscalingForm, submit, "Autoscaling node pool"
    )


@login_required
@require_POST
def nodepool_delete(request, project, location, name, pool):
    credential = selectors.credential_get(user=request.user, project=project)
    event = services.gke_nodepool_delete(
        actor=request.user, credential=credential, location=location, cluster=name, pool=pool
    )
    action_accepted_say(request, event, f"Deleting node pool {pool}")
    return redirect("gke:cluster", project=project, location=location, name=name)
