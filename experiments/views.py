"""Pages: every experiment the user may see, a namespace's experiments with the create form,
and one experiment's results (its permalink) with the controls for engineers. Writes call the
same services as the API: the same role check, validation and audit."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from controlplane.accounts.selectors import user_can
from controlplane.audit.serializers import action_url
from controlplane.audit.services import ActionNotQueued, describe_invalid
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import KubeError, NotFound

from . import selectors, services
from .forms import ExperimentForm
from .models import Experiment
from .page import results_context
from .services.feedback import experiment_feedback_csv
from .validation import MISSING


def _cluster(request, cluster: str, namespace: str):
    obj = cluster_get(name=cluster, user=request.user)
    if not user_can(user=request.user, permission="view", cluster=obj, namespace=namespace):
        raise Http404(f"No namespace {namespace!r} visible to you on {obj.name}")
    return obj


@login_required
@require_GET
def index(request):
    visible = [
        e
        for e in Experiment.objects.select_related("cluster").prefetch_related("variants")
        if user_can(user=request.user, permission="view", cluster=e.cluster, namespace=e.namespace)
    ]
    return render(request, "experiments/index.html", {"experiments": visible})


@login_required
@require_http_methods(["GET", "POST"])
def experiment_list(request, cluster, namespace):
    obj = _cluster(request, cluster, namespace)
    can_change = user_can(
        user=request.user, permission="experiment", cluster=obj, namespace=namespace
    )
    form = ExperimentForm(request.POST or None)
    problems: list[str] = []
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied("You may not change experiments here.")
        if form.is_valid():
            try:
                event = services.experiment_create(
                    actor=request.user, cluster=obj, namespace=namespace, body=form.body()
                )
            except ValidationError as exc:
                problems = describe_invalid(exc).split("; ")
            except (KubeError, ActionNotQueued) as exc:
                problems = [str(exc)]
            else:
                messages.info(request, f"Creating experiment {form.body()['name']}.")
                return redirect(_detail_url(obj.name, namespace, form.body()["name"], event))
    rows = selectors.experiment_list(user=request.user, cluster=obj, namespace=namespace)
    return render(
        request,
        "experiments/list.html",
        {
            "cluster": obj,
            "namespace": namespace,
            "experiments": rows,
            "form": form,
            "problems": problems,
            "can_change": can_change,
        },
        status=400 if problems or form.errors else 200,
    )


def _detail_url(cluster: str, namespace: str, name: str, event=None) -> str:
    url = reverse(
        "experiments:detail", kwargs={"cluster": cluster, "namespace": namespace, "name": name}
    )
    return f"{url}?action={event.id}" if event is not None else url


@login_required
@require_GET
def experiment_detail(request, cluster, namespace, name):
    obj = _cluster(request, cluster, namespace)
    try:
        experiment = selectors.experiment_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
    except NotFound:
        if request.GET.get("action"):
            # Just created: the worker has not written it yet.
            return render(
                request,
                "experiments/pending.html",
                {"cluster": obj, "namespace": namespace, "name": name},
            )
        raise Http404(f"No experiment {name!r} in {namespace}") from None
    from .results import experiment_results  # scipy and statsmodels: only when shown

    context = results_context(experiment, experiment_results(experiment))
    context["can_change"] = user_can(
        user=request.user, permission="experiment", cluster=obj, namespace=namespace
    )
    context["cluster"] = obj
    return render(request, "experiments/detail.html", context)


STEPS = {
    "start": services.experiment_start,
    "pause": services.experiment_pause,
    "abort": services.experiment_abort,
}


@login_required
@require_POST
def experiment_step(request, cluster, namespace, name, step):
    obj = _cluster(request, cluster, namespace)
    kwargs = {"actor": request.user, "cluster": obj, "namespace": namespace, "name": name}
    try:
        if step in STEPS:
            event = STEPS[step](**kwargs)
        elif step == "conclude":
            event = services.experiment_conclude(
                **kwargs,
                winner=request.POST.get("winner", MISSING),
                promotion=request.POST.get("promotion", MISSING),
            )
        elif step == "weights":
            weights = {
                key[len("weight-") :]: _int(value)
                for key, value in request.POST.items()
                if key.startswith("weight-")
            }
            event = services.experiment_weights_set(**kwargs, weights=weights)
        elif step == "feedback":
            upload = request.FILES.get("file")
            text = upload.read().decode("utf-8-sig", errors="replace") if upload else MISSING
            event = experiment_feedback_csv(**kwargs, text=text)
        else:
            raise Http404(f"No step {step!r}")
    except ValidationError as exc:
        messages.error(request, f"Not done: {describe_invalid(exc)}")
        return redirect(_detail_url(obj.name, namespace, name))
    except (KubeError, ActionNotQueued) as exc:
        messages.error(request, f"Not done: {exc}")
        return redirect(_detail_url(obj.name, namespace, name))
    messages.info(request, f"{step.title()} requested: action {event.id} ({action_url(event)}).")
    return redirect(_detail_url(obj.name, namespace, name, event))


def _int(value: str) -> object:
    try:
        return int(value)
    except ValueError:
        return value


@login_required
@require_GET
def results_csv(request, cluster, namespace, name):
    obj = _cluster(request, cluster, namespace)
    try:
        experiment = selectors.experiment_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
    except NotFound:
        raise Http404(f"No experiment {name!r} in {namespace}") from None
    from .results import experiment_results  # scipy and statsmodels: only when shown

    results = experiment_results(experiment)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-results.csv"'
    writer = csv.writer(response)
    columns = [
        "metric",
        "treatment",
        "control",
        "n_control",
        "n_treatment",
        "control_value",
        "treatment_value",
        "abs_lift",
        "abs_ci_low",
        "abs_ci_high",
        "rel_lift",
        "rel_ci_low",
        "rel_ci_high",
        "p_value",
        "p_adjusted",
        "sequential_p",
        "significant",
        "enough_data",
        "sentence",
    ]
    writer.writerow(columns)
    for row in results["comparisons"]:
        abs_ci = row["abs_ci"] or [None, None]
        rel_ci = row["rel_ci"] or [None, None]
        flat = {
            **row,
            "abs_ci_low": abs_ci[0],
            "abs_ci_high": abs_ci[1],
            "rel_ci_low": rel_ci[0],
            "rel_ci_high": rel_ci[1],
        }
        writer.writerow(["" if flat[c] is None else flat[c] for c in columns])
    return response
