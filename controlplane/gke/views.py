"""GKE pages: credentials per project; a project's clusters in a location; a cluster with its
node pools. Changes go through the same services as the API and show up, with their
operation's progress, in the live operations section."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from controlplane.audit.services import ActionNotQueued
from controlplane.forms import form_add_errors

from . import selectors, services
from .errors import GkeError
from .forms import (
    ClusterCreateForm,
    CredentialForm,
    autoscaling_of,
)


def page_context(request, credential, location: str, **extra) -> dict:
    return {
        "credential": credential,
        "project": credential.project_id,
        "location": location,
        "actions": selectors.gke_action_list(credential=credential),
        **extra,
    }


def action_accepted_say(request, event, what: str) -> None:
    messages.success(request, f"{what}: action {event.id} accepted; its progress shows below.")


@login_required
def index(request):
    credentials = selectors.credential_list(user=request.user)
    project = request.GET.get("project")
    location = request.GET.get("location")
    if project and location:
        return redirect("gke:clusters", project=project, location=location)
    form = CredentialForm(initial={"endpoint": settings.GKE_DEFAULT_ENDPOINT})
    return render(request, "gke/index.html", {"credentials": credentials, "form": form})


@login_required
@require_POST
def credential_add(request):
    selectors.gke_admin_require(user=request.user)
    form = CredentialForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data.get("key_file")
        try:
            credential = services.gke_credential_create(
                actor=request.user,
                project=form.cleaned_data["project"],
                key=upload.read(services.MAX_KEY_BYTES + 1) if upload else None,
                endpoint=form.cleaned_data["endpoint"],
                request_id=getattr(request, "request_id", None),
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Credentials for {credential.project_id} saved (encrypted).")
            return redirect("gke:index")
    credentials = selectors.credential_list(user=request.user)
    return render(request, "gke/index.html", {"credentials": credentials, "form": form}, status=400)


@login_required
@require_POST
def credential_remove(request, project):
    credential = selectors.credential_get(user=request.user, project=project)
    services.gke_credential_delete(actor=request.user, credential=credential)
    messages.success(request, f"Credentials for {project} removed.")
    return redirect("gke:index")


def _clusters_listed(credential, location: str) -> tuple[list[dict], str]:
    try:
        return selectors.gke_clusters_list(credential=credential, location=location), ""
    except GkeError as exc:
        return [], exc.message


@login_required
def clusters_section(request, project, location):
    """The clusters table alone, re-rendered when a GKE action of the project changes."""
    credential = selectors.credential_get(user=request.user, project=project)
    items, error = _clusters_listed(credential, location)
    context = {"project": project, "location": location, "clusters": items, "error": error}
    return render(request, "gke/_clusters.html", context)


@login_required
def clusters(request, project, location):
    credential = selectors.credential_get(user=request.user, project=project)
    items, error = _clusters_listed(credential, location)
    return render(
        request,
        "gke/clusters.html",
        page_context(
            request,
            credential,
            location,
            clusters=items,
            error=error,
            form=ClusterCreateForm(initial={"location": location}),
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def cluster_create(request, project, location):
    credential = selectors.credential_get(user=request.user, project=project)
    form = ClusterCreateForm(request.POST or None, initial={"location": location})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = services.gke_cluster_create(
                actor=request.user,
                credential=credential,
                location=data["location"],
                name=data["name"],
                node_count=data["node_count"],
                machine_type=data["machine_type"],
                release_channel=data["release_channel"],
                autoscaling=autoscaling_of(data),
                workload_identity=data["workload_identity"],
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        except ActionNotQueued as exc:
            form.add_error(None, f"The action could not be queued: {exc.reason}")
        else:
            action_accepted_say(request, event, f"Creating cluster {data['name']}")
            return redirect("gke:clusters", project=project, location=data["location"])
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "gke/cluster_create.html",
        page_context(request, credential, location, form=form),
        status=status,
    )


@login_required
def operations_section(request, project, location):
    credential = selectors.credential_get(user=request.user, project=project)
    return render(request, "gke/_operations.html", page_context(request, credential, location))


def _cluster_context(credential, location: str, name: str) -> dict:
    cluster, error = None, ""
    try:
        cluster = selectors.gke_cluster_get(credential=credential, location=location, name=name)
    except GkeError as exc:
        error = exc.message
    nodes = selectors.registered_pool_nodes(cluster_name=(cluster or {}).get("registered"))
    for pool in (cluster or {}).get("nodePools", []):
        pool["nodes_now"] = nodes.get("pools", {}).get(pool.get("name"), 0) if nodes else None
    return {"name": name, "cluster": cluster, "error": error, "nodes": nodes}


@login_required
def cluster_detail(request, project, location, name):
    credential = selectors.credential_get(user=request.user, project=project)
    context = page_context(
        request, credential, location, **_cluster_context(credential, location, name)
    )
    return render(request, "gke/cluster.html", context)


@login_required
def cluster_section(request, project, location, name):
    """The cluster and its pools alone, re-rendered when a GKE action of the project changes."""
    credential = selectors.credential_get(user=request.user, project=project)
    context = {
        "project": project,
        "location": location,
        **_cluster_context(credential, location, name),
    }
    return render(request, "gke/_cluster.html", context)


@login_required
@require_POST
def cluster_delete(request, project, location, name):
    credential = selectors.credential_get(user=request.user, project=project)
    event = services.gke_cluster_delete(
        actor=request.user, credential=credential, location=location, name=name
    )
    action_accepted_say(request, event, f"Deleting cluster {name}")
    return redirect("gke:clusters", project=project, location=location)
