"""Autoscalers end to end: API -> action -> real Celery worker -> sandbox HPA (autoscaling/v2),
with kubectl as the witness; the sandbox's HPA controller scales under scripted load; bad input
changes nothing; PUT and DELETE are one ordered state; the role matrix."""

import json

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import run_action
from controlplane.live.cache import live_cache
from deployments.autoscalers import autoscaler_describe, autoscaler_request_validate
from tests.fixtures.controlplane import FakeTask, kubectl_json, make_deployment, wait_for

from .test_core_scale import scale_url, wait_until_finished

pytestmark = [pytest.mark.django_db(transaction=True)]

CPU_50 = {
    "min_replicas": 1,
    "max_replicas": 3,
    "metrics": [{"type": "cpu", "target_utilization": 50}],
}
UTILIZATION_50 = {"type": "Utilization", "averageUtilization": 50}


def autoscaler_url(namespace, name="web"):
    return f"/api/v1/clusters/sandbox/namespaces/{namespace}/deployments/{name}/autoscaler/"


def serving_deployment(sandbox, namespace, tmp_path, *, cpu_request="100m", name="web"):
    """A deployment whose containers request `cpu_request` (None: no requests at all)."""
    resources = {"requests": {"cpu": cpu_request, "memory": "64Mi"}} if cpu_request else {}
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, "model": "m1"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "model", "image": "example/model:1", "resources": resources}
                    ]
                },
            },
        },
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(manifest))
    result = sandbox.kubectl("create", "--validate=false", "-f", str(path))
    assert result.returncode == 0, result.stderr
    result = sandbox.kubectl(
        "-n", namespace, "rollout", "status", f"deployment/{name}", "--timeout=30s"
    )
    assert result.returncode == 0, result.stderr
    return name


def hpa_in_cluster(sandbox, namespace, name="web"):
    result = sandbox.kubectl("-n", namespace, "get", "hpa", name, "-o", "json")
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    return json.loads(result.stdout)


@pytest.fixture
def operator_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("oncall", role="operator", cluster=sandbox_cluster))


def put_and_finish(api, namespace, body, name="web"):
    response = api.put(autoscaler_url(namespace, name), body, format="json")
    assert response.status_code == 202, response.content
    finished = wait_until_finished(api, response["Location"])
    assert finished["status"] == "succeeded", finished["error"]
    return response.json(), finished


# Create, change, delete -----------------------------------------------------------------------


def test_an_operator_creates_changes_and_deletes_an_autoscaler_and_kubectl_sees_the_v2_spec(
    celery_worker, sandbox, kube_namespace, operator_api, tmp_path
):
    serving_deployment(sandbox, kube_namespace, tmp_path)
    body = {
        "min_replicas": 2,
        "max_replicas": 10,
        "metrics": [
            {"type": "cpu", "target_utilization": 50},
            {"type": "memory", "target_average_value": "512Mi"},
            {"type": "pods", "name": "requests_per_second", "target_average_value": "10"},
        ],
        "scale_down_stabilization_seconds": 120,
    }
    accepted, finished = put_and_finish(operator_api, kube_namespace, body)
    assert accepted["warnings"] == []
    assert finished["result"]["created"] is True
    hpa = hpa_in_cluster(sandbox, kube_namespace)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["labels"] == {"app": "web", "model": "m1"}
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50},
            },
        },
        {
            "type": "Resource",
            "resource": {
                "name": "memory",
                "target": {"type": "AverageValue", "averageValue": "512Mi"},
            },
        },
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "requests_per_second"},
                "target": {"type": "AverageValue", "averageValue": "10"},
            },
        },
    ]
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    event = AuditEvent.objects.get(verb="autoscale")
    assert event.parameters["max_replicas"] == 10
    assert event.parameters["metrics"][2]["name"] == "requests_per_second"

    _, changed = put_and_finish(
        operator_api,
        kube_namespace,
        {
            "min_replicas": 1,
            "max_replicas": 4,
            "metrics": [{"type": "cpu", "target_utilization": 70}],
        },
    )
    assert changed["result"]["created"] is False
    spec = hpa_in_cluster(sandbox, kube_namespace)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 4)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert (
        "behavior" not in spec
        or "scaleDown" not in spec["behavior"]
        or (spec["behavior"]["scaleDown"].get("stabilizationWindowSeconds") != 120)
    )

    described = operator_api.get(autoscaler_url(kube_namespace))
    assert described.status_code == 200, described.content
    assert described.json()["spec"]["max_replicas"] == 4

    response = operator_api.delete(autoscaler_url(kube_namespace))
    assert response.status_code == 202, response.content
    deleted = wait_until_finished(operator_api, response["Location"])
    assert deleted["status"] == "succeeded", deleted["error"]
    assert deleted["result"] == {"deleted": True}
    assert hpa_in_cluster(sandbox, kube_namespace) is None
    assert operator_api.get(autoscaler_url(kube_namespace)).status_code == 404


def test_deleting_an_autoscaler_that_does_not_exist_succeeds_and_says_so(
    celery_worker, sandbox, kube_namespace, operator_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    response = operator_api.delete(autoscaler_url(kube_namespace))
    assert response.status_code == 202
    finished = wait_until_finished(operator_api, response["Location"])
    assert finished["status"] == "succeeded", finished["error"]
    assert finished["result"] == {"deleted": False, "note": "deployment web had no autoscaler"}


def test_an_autoscaler_for_a_missing_deployment_fails_in_the_worker_and_creates_nothing(
    celery_worker, sandbox, sandbox_cluster, kube_namespace, operator_api
):
    cache = live_cache()
    cache.forget(sandbox_cluster.name, "deployments")
    response = operator_api.put(autoscaler_url(kube_namespace, "ghost"), CPU_50, format="json")
    assert response.status_code == 202
    finished = wait_until_finished(operator_api, response["Location"])
    assert finished["status"] == "failed"
    assert finished["error"].startswith("NotFound (404)")
    assert hpa_in_cluster(sandbox, kube_namespace, "ghost") is None


# The HPA at work --------------------------------------------------------------------------------


def test_the_autoscaler_scales_up_under_scripted_cpu_load_and_get_shows_it(
    celery_worker, sandbox, kube_namespace, operator_api, tmp_path
):
    serving_deployment(sandbox, kube_namespace, tmp_path, cpu_request="100m")
    rule = sandbox.script(
        "usage", {"match": {"namespace": kube_namespace, "labels": {"app": "web"}}, "cpu": "90m"}
    )
    try:
        put_and_finish(
            operator_api, kube_namespace, {**CPU_50, "scale_down_stabilization_seconds": 0}
        )
        wait_for(
            lambda: (
                kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")["spec"][
                    "replicas"
                ]
                == 3
            ),
            timeout=60,
            what="the HPA to scale the deployment to its maximum",
        )

        def described():
            body = operator_api.get(autoscaler_url(kube_namespace)).json()
            rescaled = any(e["reason"] == "SuccessfulRescale" for e in body["status"]["events"])
            cpu = body["status"]["metrics"][0]
            return rescaled and cpu["current_utilization"] is not None and body

        body = wait_for(described, timeout=30, what="GET to show the metric and the rescale")
    finally:
        sandbox.script(f"usage/{rule['id']}", method="DELETE")
    cpu = body["status"]["metrics"][0]
    assert cpu["type"] == "cpu"
    assert cpu["target"] == "50%"
    assert cpu["current_utilization"] > 50
    assert cpu["current"] == f"{cpu['current_utilization']}%"
    assert cpu["unknown"] is False
    assert body["status"]["desired_replicas"] == 3
    assert body["status"]["current_replicas"] >= 1
    conditions = {c["type"]: c for c in body["status"]["conditions"]}
    assert conditions["ScalingActive"]["reason"] == "ValidMetricFound"
    assert conditions["AbleToScale"]["status"] == "True"
    assert "ScalingLimited" in conditions
    rescale = next(e for e in body["status"]["events"] if e["reason"] == "SuccessfulRescale")
    assert rescale["message"].startswith("New size: ")
    assert "above target" in rescale["message"]


def test_an_unknown_cpu_metric_is_explained_when_containers_have_no_cpu_request(
    celery_worker, sandbox, kube_namespace, operator_api, tmp_path
):
    serving_deployment(sandbox, kube_namespace, tmp_path, cpu_request=None)
    put_and_finish(operator_api, kube_namespace, CPU_50)

    def explained():
        body = operator_api.get(autoscaler_url(kube_namespace)).json()
        active = {c["type"]: c for c in body["status"]["conditions"]}.get("ScalingActive")
        return active and active["reason"] == "FailedGetResourceMetric" and body

    body = wait_for(explained, timeout=30, what="the HPA to fail getting the CPU metric")
    cpu = body["status"]["metrics"][0]
    assert cpu["unknown"] is True
    assert cpu["current"] is None
    [explanation] = body["explanations"]
    assert explanation.startswith(
        "CPU utilization is <unknown> because container model of pod web-"
    )
    assert "has no cpu request" in explanation
    assert "resources.requests.cpu" in explanation
    assert any(e["reason"] == "FailedGetResourceMetric" for e in body["status"]["events"])


def test_a_cpu_target_on_containers_without_cpu_requests_is_accepted_with_a_warning(
    sandbox, sandbox_cluster, kube_namespace, operator_api, tmp_path
):
    serving_deployment(sandbox, kube_namespace, tmp_path, cpu_request=None)
    deployment = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "web")
    cache = live_cache()
    cache.replace(sandbox_cluster.name, "deployments", [deployment], "1")
    try:
        response = operator_api.put(autoscaler_url(kube_namespace), CPU_50, format="json")
    finally:
        cache.forget(sandbox_cluster.name, "deployments")
    assert response.status_code == 202, response.content
    [warning] = response.json()["warnings"]
    assert "container model requests no cpu" in warning
    assert "<unknown>" in warning


# Bad input --------------------------------------------------------------------------------------

BAD = [
    ({**CPU_50, "min_replicas": 5, "max_replicas": 2}, "min_replicas"),
    ({**CPU_50, "min_replicas": 0}, "min_replicas"),
    ({**CPU_50, "max_replicas": 1_000_000}, "max_replicas"),
    ({"min_replicas": 1, "metrics": CPU_50["metrics"]}, "max_replicas"),
    ({**CPU_50, "max_replicas": "ten"}, "max_replicas"),
    ({**CPU_50, "metrics": [{"type": "gpu", "target_utilization": 50}]}, "metrics[0].type"),
    ({**CPU_50, "metrics": []}, "metrics"),
    (
        {**CPU_50, "metrics": [{"type": "memory", "target_average_value": "lots"}]},
        "metrics[0].target_average_value",
    ),
    (
        {**CPU_50, "metrics": [{"type": "pods", "name": "rps", "target_average_value": "-3"}]},
        "metrics[0].target_average_value",
    ),
    (
        {**CPU_50, "metrics": [{"type": "pods", "name": "rps", "target_average_value": "1e99"}]},
        "metrics[0].target_average_value",
    ),
    (
        {**CPU_50, "metrics": [{"type": "pods", "target_average_value": "10"}]},
        "metrics[0].name",
    ),
    (
        {**CPU_50, "metrics": [{"type": "cpu", "target_utilization": 0}]},
        "metrics[0].target_utilization",
    ),
    ({**CPU_50, "scale_down_stabilization_seconds": 86400}, "scale_down_stabilization_seconds"),
    ({**CPU_50, "replicas": 3}, "replicas"),
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[field for _, field in BAD])
def test_bad_input_is_refused_naming_the_field_changes_nothing_and_is_audited(
    sandbox, sandbox_cluster, kube_namespace, operator_api, tmp_path, body, field
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    response = operator_api.put(autoscaler_url(kube_namespace), body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert hpa_in_cluster(sandbox, kube_namespace) is None
    event = AuditEvent.objects.get(verb="autoscale")
    assert event.status == "failed"
    assert event.error.startswith(f"invalid request: {field}:")
    assert event.parameters == body


def test_scale_to_zero_is_refused_saying_it_is_not_supported():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        autoscaler_request_validate({**CPU_50, "min_replicas": 0})
    assert "Scaling to zero is not supported" in refused.value.message_dict["min_replicas"][0]


def test_a_request_defaults_min_replicas_to_one():
    request = autoscaler_request_validate({"max_replicas": 3, "metrics": CPU_50["metrics"]})
    assert request["min_replicas"] == 1


def test_a_scaled_to_zero_deployment_is_explained():
    hpa = {
        "metadata": {"name": "web", "namespace": "ml"},
        "spec": {"maxReplicas": 3, "metrics": []},
        "status": {
            "conditions": [
                {"type": "ScalingActive", "status": "False", "reason": "ScalingDisabled"}
            ]
        },
    }
    described = autoscaler_describe(hpa=hpa, events=[])
    assert described["explanations"][0].startswith("Autoscaling is paused")


# Scale while autoscaled --------------------------------------------------------------------------


def test_a_scale_request_on_an_autoscaled_deployment_answers_with_the_note(
    celery_worker, sandbox, sandbox_cluster, kube_namespace, operator_api, tmp_path
):
    serving_deployment(sandbox, kube_namespace, tmp_path)
    put_and_finish(operator_api, kube_namespace, {**CPU_50, "min_replicas": 2, "max_replicas": 10})
    hpa = hpa_in_cluster(sandbox, kube_namespace)
    # The watcher's cache as a synced watcher leaves it: requests never ask the cluster.
    cache = live_cache()
    cache.replace(sandbox_cluster.name, "horizontalpodautoscalers", [hpa], "1")
    try:
        response = operator_api.post(
            scale_url(kube_namespace, "web"), {"replicas": 5}, format="json"
        )
    finally:
        cache.forget(sandbox_cluster.name, "horizontalpodautoscalers")
    assert response.status_code == 202, response.content
    assert response.json()["warnings"] == [
        "managed by an autoscaler (min 2, max 10): it will override this replica count; "
        "change its limits instead"
    ]
    plain = operator_api.post(scale_url(kube_namespace, "web"), {"replicas": 5}, format="json")
    assert plain.json()["warnings"] == []


# Ordering ---------------------------------------------------------------------------------------


def _autoscaler_event(cluster, verb, parameters):
    return AuditEvent.objects.create(
        actor_name="op",
        cluster=cluster,
        cluster_name=cluster.name,
        namespace="ml",
        kind="deployment",
        name="web",
        verb=verb,
        parameters=parameters,
        status="pending",
        state_key="deployment/offline/ml/web/autoscaler",
        task="deployments.tasks.autoscale.deployment_autoscaler_set_task",
    )


def test_an_older_put_arriving_after_a_newer_delete_is_superseded_and_not_applied(
    offline_cluster,
):
    older_put = _autoscaler_event(offline_cluster, "autoscale", CPU_50)
    newer_delete = _autoscaler_event(offline_cluster, "delete_autoscaler", {})
    applied = []

    def perform(event):
        applied.append(event.verb)
        return {}

    assert run_action(FakeTask(), str(newer_delete.id), perform) == "succeeded"
    assert run_action(FakeTask(), str(older_put.id), perform) == "superseded"
    assert applied == ["delete_autoscaler"]
    older_put.refresh_from_db()
    assert older_put.result == {"superseded_by": str(newer_delete.id)}


def test_an_older_delete_arriving_after_a_newer_put_is_superseded_and_not_applied(
    offline_cluster,
):
    older_delete = _autoscaler_event(offline_cluster, "delete_autoscaler", {})
    newer_put = _autoscaler_event(offline_cluster, "autoscale", CPU_50)
    applied = []

    def perform(event):
        applied.append(event.verb)
        return {}

    assert run_action(FakeTask(), str(newer_put.id), perform) == "succeeded"
    assert run_action(FakeTask(), str(older_delete.id), perform) == "superseded"
    assert applied == ["autoscale"]


def test_put_and_delete_set_one_ordered_state(
    sandbox, sandbox_cluster, kube_namespace, operator_api, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    put = operator_api.put(autoscaler_url(kube_namespace), CPU_50, format="json")
    delete = operator_api.delete(autoscaler_url(kube_namespace))
    assert put.status_code == delete.status_code == 202
    keys = set(AuditEvent.objects.filter(name="web").values_list("state_key", flat=True))
    assert keys == {f"deployment/sandbox/{kube_namespace}/web/autoscaler"}


# Roles --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator", "engineer", "admin"])
def test_only_operators_and_up_may_autoscale_and_refusals_are_audited(
    sandbox, sandbox_cluster, kube_namespace, make_user, api_client_for, tmp_path, role
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    api = api_client_for(make_user(role=role, cluster=sandbox_cluster))
    # Reading is for every role: the deployment has no autoscaler yet.
    assert api.get(autoscaler_url(kube_namespace)).status_code == 404
    put = api.put(autoscaler_url(kube_namespace), CPU_50, format="json")
    delete = api.delete(autoscaler_url(kube_namespace))
    if role == "viewer":
        assert put.status_code == delete.status_code == 403
        refused = AuditEvent.objects.filter(status="refused").order_by("created")
        assert [(e.verb, e.status) for e in refused] == [
            ("autoscale", "refused"),
            ("delete_autoscaler", "refused"),
        ]
        assert refused[0].parameters == CPU_50
        assert "'autoscale'" in refused[0].error
    else:
        assert put.status_code == delete.status_code == 202


# Pages --------------------------------------------------------------------------------------------


def kubectl_hpa(sandbox, namespace, tmp_path, *, min_replicas=2, max_replicas=10):
    manifest = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": UTILIZATION_50}}
            ],
        },
    }
    path = tmp_path / "hpa.json"
    path.write_text(json.dumps(manifest))
    result = sandbox.kubectl("create", "-f", str(path))
    assert result.returncode == 0, result.stderr


@pytest.fixture
def browser_for(make_user, sandbox_cluster):
    from django.test import Client

    def make(role):
        browser = Client()
        browser.force_login(make_user(role=role, cluster=sandbox_cluster))
        return browser

    return make


def test_the_scale_control_says_an_autoscaler_manages_the_deployment_and_links_to_it(
    sandbox, sandbox_cluster, kube_namespace, tmp_path, browser_for
):
    serving_deployment(sandbox, kube_namespace, tmp_path)
    kubectl_hpa(sandbox, kube_namespace, tmp_path)
    live_cache().forget(sandbox_cluster.name, "horizontalpodautoscalers")
    html = browser_for("operator").get(f"/c/sandbox/ns/{kube_namespace}/deployments/")
    html = html.content.decode()
    assert "managed by an autoscaler (min 2, max 10" in html
    assert "change its limits instead" in html
    assert f'href="/c/sandbox/ns/{kube_namespace}/deployments/web/autoscaler/"' in html
    assert 'data-live-kinds="deployments horizontalpodautoscalers"' in html


def test_the_autoscaler_page_shows_the_hpa_and_its_editor_refuses_bad_input(
    sandbox, sandbox_cluster, kube_namespace, tmp_path, browser_for
):
    serving_deployment(sandbox, kube_namespace, tmp_path, cpu_request=None)
    kubectl_hpa(sandbox, kube_namespace, tmp_path)
    page = f"/c/sandbox/ns/{kube_namespace}/deployments/web/autoscaler/"
    operator = browser_for("operator")
    html = wait_for(
        lambda: "has no cpu request" in (text := operator.get(page).content.decode()) and text,
        what="the page to explain the unknown CPU metric",
    )
    assert "&lt;unknown&gt;" in html
    assert "min 2, max 10" in html
    assert 'data-live-kinds="horizontalpodautoscalers events deployments"' in html
    section = operator.get(f"{page}?section=status").content.decode()
    assert section.startswith('<section id="autoscaler-status"')
    assert "has no cpu request" in section
    assert 'name="max_replicas" min="1" step="1" value="10"' in html
    refused = operator.post(page, {"min_replicas": "5", "max_replicas": "2", "cpu": "50"})
    assert refused.status_code == 400
    assert "min_replicas: Ensure this value is not greater than max_replicas (2)." in (
        refused.content.decode()
    )
    assert AuditEvent.objects.get(verb="autoscale").status == "failed"
    accepted = operator.post(
        page, {"min_replicas": "1", "max_replicas": "4", "cpu": "60", "pods_name": ""}
    )
    assert accepted.status_code == 302
    queued = AuditEvent.objects.get(verb="autoscale", status="pending")
    assert queued.parameters == {
        "min_replicas": 1,
        "max_replicas": 4,
        "metrics": [{"type": "cpu", "target_utilization": 60}],
    }
    viewer = browser_for("viewer")
    assert "autoscaler-editor" not in viewer.get(page).content.decode()
    assert viewer.post(page, {"action": "delete"}).status_code == 403
    assert AuditEvent.objects.get(verb="delete_autoscaler").status == "refused"
