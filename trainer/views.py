"""Training pages: the live list of a namespace's runs, the launch form (also clone and edit),
a run's page, and its cancel / rerun / deploy buttons. They call the same services as the API:
the same validation, role checks and audit."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from controlplane.accounts.selectors import user_can
from controlplane.audit.services import ActionNotQueued, describe_invalid
from controlplane.clusters.selectors import cluster_get, cluster_list
from controlplane.dashboard.navigation import (
    SESSION_CLUSTER,
    SESSION_NAMESPACE,
    namespace_to_open,
    remember,
)
from controlplane.kube.errors import KubeError, NotFound
from controlplane.live.snapshot import snapshot_get
from deployments.deploy_serializers import SERVICE_TYPES

from . import selectors
from .charts import line_chart
from .forms import LaunchForm, deploy_body, initial_from
from .services import run_get, trainingrun_cancel, trainingrun_launch, trainingrun_rerun
from .services.deploy import model_uri_of, trainingrun_deploy

# The kinds whose changes re-render a page's live part.
LIVE_KINDS = "jobs pods events"


def _may(request, cluster, namespace: str, permission: str) -> bool:
    return user_can(user=request.user, permission=permission, cluster=cluster, namespace=namespace)


def _require_view(request, cluster, namespace: str) -> None:
    if not _may(request, cluster, namespace, "view"):
        raise Http404(f"No namespace {namespace!r} visible to you on {cluster.name}")


@login_required
@require_GET
def index(request):
    """The runs of the cluster and namespace this session was last on (the nav's entry)."""
    clusters = list(cluster_list(user=request.user))
    remembered = request.session.get(SESSION_CLUSTER)
    cluster = next((c for c in clusters if c.name == remembered), clusters[0] if clusters else None)
    if cluster is None:
        messages.info(request, "Add a cluster first: training runs live in a cluster.")
        return redirect("cluster-list")
    namespace = namespace_to_open(
        user=request.user, cluster=cluster, remembered=request.session.get(SESSION_NAMESPACE)
    )
    return redirect("trainer:list", cluster=cluster.name, namespace=namespace)


def _list_context(request, cluster, namespace: str) -> dict:
    runs = list(selectors.trainingrun_list(user=request.user, cluster=cluster, namespace=namespace))
    return {
        "cluster": cluster,
        "namespace": namespace,
        "rows": [{**selectors.run_summary(run), "run": run} for run in runs],
        "can_train": _may(request, cluster, namespace, "train"),
        "live_kinds": LIVE_KINDS,
    }


@login_required
@require_GET
def run_list(request, cluster, namespace):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_view(request, cluster_obj, namespace)
    remember(request, cluster=cluster_obj.name, namespace=namespace)
    return render(request, "trainer/list.html", _list_context(request, cluster_obj, namespace))


@login_required
@require_GET
def run_table(request, cluster, namespace):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_view(request, cluster_obj, namespace)
    return render(request, "trainer/_table.html", _list_context(request, cluster_obj, namespace))


def _launch_page(request, cluster, namespace, form, *, parent=None, status=200):
    context = {"cluster": cluster, "namespace": namespace, "form": form, "parent": parent}
    return render(request, "trainer/launch.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def launch_view(request, cluster, namespace):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_view(request, cluster_obj, namespace)
    if request.method == "GET":
        if not _may(request, cluster_obj, namespace, "train"):
            raise PermissionDenied("You may not launch training Jobs in this namespace.")
        parent = None
        initial = {}
        if request.GET.get("from"):
            parent = run_get(cluster=cluster_obj, namespace=namespace, run_id=request.GET["from"])
            initial = {**initial_from(parent.parameters), "parent": parent.id}
        return _launch_page(
            request, cluster_obj, namespace, LaunchForm(initial=initial), parent=parent
        )
    form = LaunchForm(request.POST)
    if not _may(request, cluster_obj, namespace, "train"):
        # The role comes before the input, as in the API: the service refuses and audits it.
        trainingrun_launch(
            actor=request.user,
            cluster=cluster_obj,
            namespace=namespace,
            spec={"name": request.POST.get("name", "")},
        )
    if not form.is_valid():
        return _launch_page(request, cluster_obj, namespace, form, status=400)
    try:
        run, action = trainingrun_launch(
            actor=request.user,
            cluster=cluster_obj,
            namespace=namespace,
            spec=form.spec(),
            request_id=getattr(request, "request_id", None),
        )
    except ValidationError as exc:
        form.add_api_errors(exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages})
        return _launch_page(request, cluster_obj, namespace, form, status=400)
    except ActionNotQueued as exc:
        form.add_error(None, f"The task queue is unavailable, nothing was launched: {exc.reason}")
        return _launch_page(request, cluster_obj, namespace, form, status=503)
    messages.info(request, f"Launching {namespace}/{run.job_name}: action {action.id} queued.")
    return redirect("trainer:detail", cluster=cluster_obj.name, namespace=namespace, run_id=run.id)


def _deployment_names(cluster, namespace: str) -> list[str]:
    snap = snapshot_get(cluster=cluster, kind="deployments", namespace=namespace)
    return sorted((o.get("metadata") or {}).get("name", "") for o in snap.objects)


def _detail_context(request, cluster, namespace: str, run_id: int) -> dict:
    detail = selectors.trainingrun_detail(
        user=request.user, cluster=cluster, namespace=namespace, run_id=run_id
    )
    history = detail["progress"]["history"]
    context = {
        "cluster": cluster,
        "namespace": namespace,
        "live_kinds": LIVE_KINDS,
        "d": detail,
        "loss_chart": line_chart(history, ("loss", "val_loss"), title="Loss"),
        "iou_chart": line_chart(history, ("mean_iou", "val_mean_iou"), title="Mean IoU"),
        "can_train": _may(request, cluster, namespace, "train"),
        "can_deploy": _may(request, cluster, namespace, "deploy"),
        "children": list(detail["run"].children.order_by("id")),
    }
    if context["can_deploy"] and detail["status"] == "succeeded":
        context["deployment_names"] = _deployment_names(cluster, namespace)
        context["service_types"] = SERVICE_TYPES
        context["model_uri"] = model_uri_of(detail["run"])
    return context


@login_required
@require_GET
def run_detail(request, cluster, namespace, run_id):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_view(request, cluster_obj, namespace)
    context = _detail_context(request, cluster_obj, namespace, run_id)
    return render(request, "trainer/detail.html", context)


@login_required
@require_GET
def run_detail_body(request, cluster, namespace, run_id):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_view(request, cluster_obj, namespace)
    context = _detail_context(request, cluster_obj, namespace, run_id)
    return render(request, "trainer/_detail_body.html", context)


@login_required
@require_POST
def run_action(request, cluster, namespace, run_id, verb):
    cluster_obj = cluster_get(name=cluster, user=request.user)
    _require_view(request, cluster_obj, namespace)
    common = {
        "actor": request.user,
        "cluster": cluster_obj,
        "namespace": namespace,
        "run_id": run_id,
        "request_id": getattr(request, "request_id", None),
    }
    target = run_id
    try:
        if verb == "cancel":
            propagation = request.POST.get("propagation") or "Foreground"
            action = trainingrun_cancel(**common, options={"propagation": propagation})
        elif verb == "rerun":
            run, action = trainingrun_rerun(**common, options={"resume": True})
            target = run.id
        elif verb == "deploy":
            action = trainingrun_deploy(**common, body=deploy_body(request.POST))
        else:
            raise Http404(f"no action {verb!r}")
    except ValidationError as exc:
        messages.error(request, f"{verb} refused: {describe_invalid(exc)}")
    except NotFound as exc:
        messages.error(request, f"{verb} refused: {exc}")
    except ActionNotQueued as exc:
        messages.error(request, f"The task queue is unavailable, nothing was changed: {exc.reason}")
    except KubeError as exc:
        messages.error(request, f"The cluster answered: {exc}")
    else:
        messages.info(request, f"{verb}: action {action.id} queued.")
    return redirect("trainer:detail", cluster=cluster_obj.name, namespace=namespace, run_id=target)
