"""Dashboard pages: home, cluster overview (+ its live fragments), switcher, watcher status."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from controlplane.accounts.selectors import user_can
from controlplane.audit.selectors import action_queue_status_get
from controlplane.clusters.selectors import cluster_get, cluster_list

from .navigation import SESSION_CLUSTER, remember
from .selectors import (
    SECTION_KINDS,
    overview_get,
    overview_live_get,
    source_errors,
    watcher_status_get,
)


@login_required
@require_GET
def home(request):
    clusters = list(cluster_list(user=request.user))
    remembered = request.session.get(SESSION_CLUSTER)
    chosen = next((c for c in clusters if c.name == remembered), clusters[0] if clusters else None)
    if chosen is None:
        return render(request, "dashboard/no_clusters.html")
    return redirect("dashboard:overview", cluster=chosen.name)


@login_required
@require_GET
def overview(request, cluster):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    remember(request, cluster=cluster_obj.name)
    data = overview_get(user=request.user, cluster=cluster_obj)
    return render(
        request,
        "dashboard/overview.html",
        {
            "cluster": cluster_obj,
            "overview": data,
            "live": overview_live_get(user=request.user, cluster=cluster_obj),
            "section_kinds": SECTION_KINDS,
            # Shown once on top; the sections say "unavailable, see above".
            "page_errors": source_errors(data.sources.values()),
        },
    )


@login_required
@require_GET
def overview_section(request, cluster, section):
    """One section of the overview, re-rendered when the page hears that its data changed."""
    if section not in SECTION_KINDS:
        raise Http404(f"No overview section {section!r}")
    cluster_obj = cluster_get(name=cluster, user=request.user)
    data = overview_get(user=request.user, cluster=cluster_obj, sections=[section])
    return render(
        request,
        f"dashboard/_{section}.html",
        {"cluster": cluster_obj, "overview": data, "section_kinds": SECTION_KINDS},
    )


@login_required
@require_GET
def switch(request):
    """Cluster/namespace switcher: remember the choice, go to the same page for it."""
    name = request.GET.get("cluster", "")
    namespace = request.GET.get("namespace", "")
    to = request.GET.get("to", "overview")
    cluster = cluster_get(name=name, user=request.user)
    # The namespace select still holds the old cluster's namespace when the cluster changes.
    changed_cluster = request.session.get(SESSION_CLUSTER) != cluster.name
    if changed_cluster:
        namespace = ""
    if namespace and not user_can(
        user=request.user, permission="view", cluster=cluster, namespace=namespace
    ):
        raise PermissionDenied(f"You may not view namespace {namespace!r} of {cluster.name}.")
    remember(request, cluster=cluster.name, namespace=namespace or None)
    if to == "deployments":
        if namespace:
            return redirect("deployments:list", cluster=cluster.name, namespace=namespace)
        return redirect("deployments:index", cluster=cluster.name)
    return redirect(reverse("dashboard:overview", kwargs={"cluster": cluster.name}))


@login_required
@require_GET
def watcher_status(request):
    # Every cluster the user holds a role on (narrowed or not) is one they may view.
    clusters = list(cluster_list(user=request.user))
    context = {
        "status": watcher_status_get(clusters=clusters),
        "queue": action_queue_status_get(user=request.user),
    }
    return render(request, "dashboard/watcher.html", context)
