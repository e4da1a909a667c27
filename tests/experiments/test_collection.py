"""Metric collection from scripted load, read through the API server's pod proxy; guardrails
that pause or roll back on what was collected, with the numbers in the audit and timeline."""

import re
import time

import pytest

from controlplane.audit.models import AuditEvent
from experiments.collect import Counters, delta, parse_counters
from experiments.models import Experiment, MetricBucket, PodCounters
from experiments.services.collect import experiment_collect
from experiments.services.guardrails import experiment_guardrails_check
from tests.fixtures.controlplane import kubectl_json, wait_for

from .helpers import base, create_and_start, make_variants

pytestmark = [pytest.mark.django_db(transaction=True)]

M = 'model_name="m",model_version="1"'
TEXT = f"""\
# TYPE inference_requests_total counter
inference_requests_total{{{M},endpoint="predict",code="200"}} 90
inference_requests_total{{{M},endpoint="predict",code="503"}} 10
inference_requests_total{{{M},endpoint="metrics",code="200"}} 7
# TYPE inference_request_duration_seconds histogram
inference_request_duration_seconds_bucket{{{M},endpoint="predict",le="0.1"}} 80
inference_request_duration_seconds_bucket{{{M},endpoint="predict",le="+Inf"}} 100
inference_request_duration_seconds_sum{{{M},endpoint="predict"}} 6.5
inference_request_duration_seconds_count{{{M},endpoint="predict"}} 100
"""


def test_counters_leave_out_the_servers_own_endpoints_and_count_5xx_as_errors():
    counters = parse_counters(TEXT)
    assert counters.requests == 100
    assert counters.errors == 10
    assert counters.latency_sum == 6.5
    assert counters.latency_counts == {"0.1": 80, "+Inf": 100}
    later = Counters(requests=150, errors=12, latency_sum=9.0, latency_counts={"+Inf": 150})
    assert delta(later, counters).requests == 50
    # A counter that went down was reset by a restart: the new value is what was served.
    assert delta(counters, later) == counters


@pytest.fixture
def engineer_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("mle", role="engineer", cluster=sandbox_cluster))


def running_pods(sandbox, namespace) -> bool:
    pods = kubectl_json(sandbox, "-n", namespace, "get", "pods")["items"]
    return len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods)


def collect_a_while(experiment, samples=4) -> None:
    for _ in range(samples):
        experiment_collect(experiment_id=experiment.pk)
        time.sleep(1.1)


def setup_loaded(sandbox, namespace, tmp_path, latency_b=40, errors_b=0.0):
    make_variants(sandbox, namespace, tmp_path)
    for service, latency, errors in (("model-a", 40, 0.0), ("model-b", latency_b, errors_b)):
        sandbox.script(
            f"namespaces/{namespace}/services/{service}/load",
            {"requestsPerSecond": 400, "latencyMilliseconds": latency, "errorRatio": errors},
        )
    wait_for(lambda: running_pods(sandbox, namespace), what="both variants' pods to run")


def test_requests_and_latency_are_collected_per_variant_through_the_pod_proxy(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path, settings
):
    settings.EXPERIMENTS_BUCKET_SECONDS = 1
    setup_loaded(sandbox, kube_namespace, tmp_path, latency_b=120)
    create_and_start(engineer_api, kube_namespace, primary_metric="latency_mean")
    experiment = Experiment.objects.get(name="ab")
    collect_a_while(experiment)
    assert set(PodCounters.objects.values_list("variant", flat=True)) == {"a", "b"}
    served = {
        v: sum(MetricBucket.objects.filter(variant=v).values_list("requests", flat=True))
        for v in ("a", "b")
    }
    # About 400 requests a second for about 3 seconds each; the exact count depends on timing.
    assert all(300 < n < 3000 for n in served.values()), served
    assert MetricBucket.objects.filter(variant="a").count() >= 2
    results = engineer_api.get(f"{base(kube_namespace, 'ab')}results/").json()
    mean = next(r for r in results["comparisons"] if r["metric"] == "latency_mean")
    assert mean["control_value"] == pytest.approx(0.040, rel=0.05)
    assert mean["treatment_value"] == pytest.approx(0.120, rel=0.05)
    assert mean["sentence"].startswith("b raises mean latency by")
    assert Experiment.objects.get(name="ab").collection_error == ""


@pytest.mark.parametrize(("action", "state"), [("pause", "paused"), ("rollback", "aborted")])
def test_a_latency_guardrail_breach_pauses_or_rolls_back_with_its_numbers(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path, settings, action, state
):
    settings.EXPERIMENTS_BUCKET_SECONDS = 1
    setup_loaded(sandbox, kube_namespace, tmp_path, latency_b=200)
    guard = {"metric": "latency_p95", "max_increase": 0.05, "action": action}
    create_and_start(engineer_api, kube_namespace, guardrails=[guard], min_samples=50)
    experiment = Experiment.objects.get(name="ab")
    collect_a_while(experiment)
    event = experiment_guardrails_check(experiment=Experiment.objects.get(name="ab"))
    assert event is not None
    assert event.verb == ("pause" if action == "pause" else "abort")
    assert event.actor_name == ""
    numbers = event.parameters["guardrail"]
    assert numbers["max_increase"] == 0.05
    assert numbers["treatment_value"] > numbers["control_value"] + 0.05
    assert numbers["p_value"] < 0.05
    wait_for(
        lambda: AuditEvent.objects.get(pk=event.pk).status == "succeeded",
        what="the guardrail's action to run",
    )
    experiment = Experiment.objects.get(name="ab")
    assert experiment.state == state
    last = experiment.timeline.last()
    assert last.detail.startswith("guardrail: b breaches the p95 latency guardrail")
    assert last.actor == "system"
    assert last.weights == {"a": 100, "b": 0}
    route = kubectl_json(sandbox, "-n", kube_namespace, "get", "httproute", "ab")
    default = route["spec"]["rules"][-1]["backendRefs"]
    assert {r["name"]: r["weight"] for r in default} == {"model-a": 100, "model-b": 0}
    stored = experiment.guardrail_status["rows"][0]
    assert stored["breached"] is True
    assert "worse by more than the 50.0 ms allowed" in stored["sentence"]


def test_an_error_rate_guardrail_breach_rolls_back_naming_the_rates(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path, settings
):
    settings.EXPERIMENTS_BUCKET_SECONDS = 1
    setup_loaded(sandbox, kube_namespace, tmp_path, errors_b=0.2)
    guard = {"metric": "error_rate", "max_increase": 0.05, "action": "rollback"}
    create_and_start(engineer_api, kube_namespace, guardrails=[guard], min_samples=50)
    collect_a_while(Experiment.objects.get(name="ab"))
    event = experiment_guardrails_check(experiment=Experiment.objects.get(name="ab"))
    assert event is not None
    assert event.verb == "abort"
    numbers = event.parameters["guardrail"]
    assert numbers["control_value"] == 0
    assert numbers["treatment_value"] == pytest.approx(0.2, abs=0.03)
    assert re.search(
        r"b breaches the error rate guardrail: (19|20)\.\d\d% against 0\.00% for a",
        event.parameters["reason"],
    )
    assert "allowed (one-sided p = " in event.parameters["reason"]
    wait_for(
        lambda: Experiment.objects.get(name="ab").state == "aborted",
        what="the rollback to run",
    )
