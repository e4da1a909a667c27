"""Deployment pages: the live list of a namespace and its scale control."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from controlplane.accounts.selectors import user_can
from controlplane.audit.models import ActionStatus
from controlplane.audit.selectors import audit_list
from controlplane.audit.services import ActionNotQueued, describe_invalid
from controlplane.clusters.selectors import cluster_get
from controlplane.dashboard.navigation import SESSION_NAMESPACE, namespace_to_open, remember
from controlplane.kube.errors import KubeError, NotFound, Unavailable

from .paging import page_number, rows_page
from .selectors import deployment_row_get, deployment_table_get, rows_complete
from .selectors_detail import SORT_KEYS, rows_filter_sort
from .services import deployment_scale


def require_namespace(request, cluster, namespace: str) -> None:
    if not user_can(user=request.user, permission="view", cluster=cluster, namespace=namespace):
        raise Http404(f"No namespace {namespace!r} visible to you on {cluster.name}")


@login_required
@require_GET
def index(request, cluster):
    """The deployments of the namespace last used in this session, else the first namespace
    with deployments (dashboard.navigation.namespace_to_open)."""
    cluster_obj = cluster_get(name=cluster, user=request.user)
    namespace = namespace_to_open(
        user=request.user, cluster=cluster_obj, remembered=request.session.get(SESSION_NAMESPACE)
    )
    return redirect("deployments:list", cluster=cluster_obj.name, namespace=namespace)


_UNSUCCESSFUL = (ActionStatus.FAILED, ActionStatus.REFUSED)


def _someone_elses_failure(action, user) -> bool:
    # The system's own failures (no actor_name) have nobody else to tell: they stay.
    return (
        action is not None
        and action.status in _UNSUCCESSFUL
        and bool(action.actor_name)
        and action.actor_id != user.pk
    )


def _headline_actions(request, cluster, namespace: str, rows: list[dict]) -> None:
    """A person's failed or refused action is news for them (and is in the audit log), not
    the row's headline for everyone: others see the latest action that was not someone
    else's failure (or none)."""
    hidden = {
        row["name"]: row for row in rows if _someone_elses_failure(row["action"], request.user)
    }
    if not hidden:
        return
    for row in hidden.values():
        row["action"] = None
    others_failures = Q(status__in=_UNSUCCESSFUL) & ~Q(actor_name="") & ~Q(actor=request.user)
    actions = (
        audit_list(user=request.user, cluster=cluster.name, namespace=namespace, kind="deployment")
        .filter(name__in=list(hidden))
        .exclude(others_failures)
    )
    for action in actions[:200]:
        row = hidden.get(action.name)
        if row is not None and row["action"] is None:
            row["action"] = action


def _table_context(request, cluster, namespace: str, *, name: str = "", error: str = "") -> dict:
    """What the table template needs; `error` (about deployment `name`) shows in its row, or
    on top when that deployment has no row (it is gone, or the list failed)."""
    table = deployment_table_get(user=request.user, cluster=cluster, namespace=namespace)
    # Filters, sorting and the page are query parameters (they work without JS, and the live
    # refresh and the scale form carry them along).
    wanted = {k: request.GET.get(k, "") for k in ("q", "labels", "sort", "page")}
    rows = table["rows"]
    if wanted["sort"].lstrip("-") == "autoscaler":
        rows = rows_complete(rows, table)  # the order needs every row's autoscaler
    table.update(
        rows_filter_sort(rows, text=wanted["q"], labels=wanted["labels"], sort=wanted["sort"])
    )
    # Filtered and sorted over every deployment, then one page of them is rendered.
    table.update(rows_page(table["rows"], page=page_number(wanted["page"]), query=wanted))
    table["rows"] = rows_complete(table["rows"], table)
    if table["paging"]["page"] > 1:
        wanted["page"] = str(table["paging"]["page"])
    else:
        wanted["page"] = ""
    _headline_actions(request, cluster, namespace, table["rows"])
    placed = False
    for row in table["rows"]:
        row["error"] = error if row["name"] == name else ""
        placed = placed or bool(row["error"])
    return {
        **_row_context(request, cluster, namespace, table, wanted),
        **table,
        "error_name": name,
        "unplaced_error": "" if placed else error,
        "filters": wanted,
        "sort_links": _sort_links(wanted),
        # Rows refresh one by one on a live change while neither the filter nor the order
        # can move them (a status column's order can; static/js/live.js).
        "rows_stable": not (wanted["q"] or wanted["labels"])
        and wanted["sort"].lstrip("-") in ("", "name", "age"),
    }


def _row_context(request, cluster, namespace: str, table: dict, wanted: dict) -> dict:
    """What a row needs besides its deployment (the table and a lone row alike)."""
    return {
        "cluster": cluster,
        "namespace": namespace,
        "list_url": reverse(
            "deployments:list", kwargs={"cluster": cluster.name, "namespace": namespace}
        ),
        "can_scale": table["can_scale"],
        "can_autoscale": table["can_autoscale"],
        "may_deploy": user_can(
            user=request.user, permission="deploy", cluster=cluster, namespace=namespace
        ),
        # The scale input carries the limits deployments.services.validate_replicas enforces.
        "max_replicas": settings.DEPLOYMENT_MAX_REPLICAS,
        "query": urlencode({k: v for k, v in wanted.items() if v}),
    }


def _sort_links(wanted: dict) -> dict:
    """Each column's sort query: ascending, or descending when it is already ascending (back
    to the first page)."""
    links = {}
    kept = {k: v for k, v in wanted.items() if v and k != "page"}
    for key in SORT_KEYS:
        order = f"-{key}" if wanted["sort"] == key else key
        links[key] = urlencode({**kept, "sort": order})
    return links


@login_required
@require_GET
def deployment_list(request, cluster, namespace):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    require_namespace(request, cluster_obj, namespace)
    remember(request, cluster=cluster_obj.name, namespace=namespace)
    return render(request, "deployments/list.html", _table_context(request, cluster_obj, namespace))


@login_required
@require_GET
def deployment_rows_view(request, cluster, namespace):
    """The table alone, re-rendered when the page hears that a deployment changed."""
    cluster_obj = cluster_get(name=cluster, user=request.user)
    require_namespace(request, cluster_obj, namespace)
    return render(
        request, "deployments/_table.html", _table_context(request, cluster_obj, namespace)
    )


@login_required
@require_GET
def deployment_row_view(request, cluster, namespace, name):
    """One row of the table, re-rendered when the page hears that this deployment (or its
    autoscaler, or an action on it) changed; empty when the deployment is gone."""
    cluster_obj = cluster_get(name=cluster, user=request.user)
    require_namespace(request, cluster_obj, namespace)
    found = deployment_row_get(
        user=request.user, cluster=cluster_obj, namespace=namespace, name=name
    )
    if found["row"] is None:
        return HttpResponse("")
    wanted = {k: request.GET.get(k, "") for k in ("q", "labels", "sort", "page")}
    _headline_actions(request, cluster_obj, namespace, [found["row"]])
    context = {**_row_context(request, cluster_obj, namespace, found, wanted), "d": found["row"]}
    return render(request, "deployments/_row.html", context)


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
    require_namespace(request, cluster_obj, namespace)
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
    except ActionNotQueued as exc:
        status, error = 503, f"the task queue is unavailable, nothing was changed: {exc.reason}"
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
