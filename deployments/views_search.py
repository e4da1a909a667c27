"""GET /c/<cluster>/search/?q=: the command palette's JSON (the page's session, not the
public API): workloads to jump to, with the URL of each one's page."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from controlplane.clusters.selectors import cluster_get

from .selectors_search import QUERY_MAX, workload_search


@login_required
@require_GET
def search_view(request, cluster):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    text = request.GET.get("q", "")
    if len(text) > QUERY_MAX:
        return JsonResponse(
            {"errors": {"q": [f"Ensure this value has at most {QUERY_MAX} characters."]}},
            status=400,
        )
    try:
        found = workload_search(user=request.user, cluster=cluster_obj, text=text)
    except PermissionDenied:
        raise Http404(f"No workloads visible to you on {cluster_obj.name}") from None
    for row in found["results"]:
        row["url"] = reverse(
            "deployments:detail",
            kwargs={
                "cluster": cluster_obj.name,
                "namespace": row["namespace"],
                "name": row["name"],
            },
        )
    status = 200 if found["source"] == "cache" else 503
    return JsonResponse({"query": text, **found}, status=status)
