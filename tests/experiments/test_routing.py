"""Each routing mode generates the right object, witnessed with kubectl against the sandbox;
pause, abort and weight changes rewrite it; DELETE removes it."""

import pytest

from controlplane.audit.models import AuditEvent
from experiments.models import Experiment, TimelineEntry
from experiments.routing import EXPERIMENT_LABEL
from tests.fixtures.controlplane import kubectl_json, wait_for

from .helpers import base, create_and_start, finished, make_variants, route

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def engineer_api(sandbox_cluster, make_user, api_client_for):
    return api_client_for(make_user("mle", role="engineer", cluster=sandbox_cluster))


def weights_of(rule) -> dict:
    return {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}


def test_fanout_makes_an_ingress_with_one_prefix_path_per_variant(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_variants(sandbox, kube_namespace, tmp_path)
    create_and_start(engineer_api, kube_namespace, routing="fanout")
    ingress = route(sandbox, kube_namespace, "ingress")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["metadata"]["labels"][EXPERIMENT_LABEL] == "ab"
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert paths == [
        {
            "path": "/a",
            "pathType": "Prefix",
            "backend": {"service": {"name": "model-a", "port": {"number": 80}}},
        },
        {
            "path": "/b",
            "pathType": "Prefix",
            "backend": {"service": {"name": "model-b", "port": {"number": 80}}},
        },
    ]
    listed = sandbox.kubectl("-n", kube_namespace, "get", "ingress", "-l", f"{EXPERIMENT_LABEL}=ab")
    assert "ab" in listed.stdout


def test_weighted_makes_an_httproute_with_weighted_backends_and_a_pin_header_per_variant(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path, settings
):
    make_variants(sandbox, kube_namespace, tmp_path)
    create_and_start(engineer_api, kube_namespace, routing="weighted", weights=(80, 20))
    obj = route(sandbox, kube_namespace, "httproute")
    assert obj["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert obj["metadata"]["labels"][EXPERIMENT_LABEL] == "ab"
    assert obj["spec"]["parentRefs"][0]["name"] == settings.EXPERIMENTS_GATEWAY_NAME
    *pins, default = obj["spec"]["rules"]
    assert weights_of(default) == {"model-a": 80, "model-b": 20}
    assert [ref["port"] for ref in default["backendRefs"]] == [80, 80]
    pinned = {
        rule["matches"][0]["headers"][0]["value"]: rule["backendRefs"][0]["name"] for rule in pins
    }
    assert pinned == {"a": "model-a", "b": "model-b"}
    assert all(rule["matches"][0]["headers"][0]["name"] == "x-variant" for rule in pins)


def test_sticky_adds_cookie_matches_and_sets_the_cookie_from_each_weighted_backend(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_variants(sandbox, kube_namespace, tmp_path)
    create_and_start(engineer_api, kube_namespace, routing="sticky")
    rules = route(sandbox, kube_namespace, "httproute")["spec"]["rules"]
    cookie_rules = [
        r for r in rules if r["matches"][0].get("headers", [{}])[0].get("name") == "Cookie"
    ]
    assert [r["backendRefs"][0]["name"] for r in cookie_rules] == ["model-a", "model-b"]
    assert "mlcp-exp-ab=b" in cookie_rules[1]["matches"][0]["headers"][0]["value"]
    default = rules[-1]
    assert weights_of(default) == {"model-a": 50, "model-b": 50}
    set_cookie = default["backendRefs"][1]["filters"][0]["responseHeaderModifier"]["add"][0]
    assert set_cookie["name"] == "Set-Cookie"
    assert set_cookie["value"].startswith("mlcp-exp-ab=b;")


def test_pause_resume_weights_and_abort_rewrite_the_route_and_are_on_the_timeline(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_variants(sandbox, kube_namespace, tmp_path)
    create_and_start(engineer_api, kube_namespace)
    one = base(kube_namespace, "ab")
    finished(engineer_api, engineer_api.post(f"{one}pause/"))
    rule = route(sandbox, kube_namespace, "httproute")["spec"]["rules"][-1]
    assert weights_of(rule) == {"model-a": 100, "model-b": 0}
    assert engineer_api.get(one).json()["state"] == "paused"
    resumed = finished(engineer_api, engineer_api.post(f"{one}start/"))
    assert resumed["verb"] == "resume"
    patch = engineer_api.patch(one, {"weights": {"a": 70, "b": 30}}, format="json")
    finished(engineer_api, patch)
    rule = route(sandbox, kube_namespace, "httproute")["spec"]["rules"][-1]
    assert weights_of(rule) == {"model-a": 70, "model-b": 30}
    finished(engineer_api, engineer_api.post(f"{one}abort/"))
    rule = route(sandbox, kube_namespace, "httproute")["spec"]["rules"][-1]
    assert weights_of(rule) == {"model-a": 100, "model-b": 0}
    detail = engineer_api.get(one).json()
    assert [t["kind"] for t in detail["timeline"]] == [
        "created",
        "start",
        "pause",
        "resume",
        "weights",
        "abort",
    ]
    assert detail["timeline"][4]["weights"] == {"a": 70, "b": 30}
    assert detail["state"] == "aborted"
    verbs = list(
        AuditEvent.objects.filter(kind="experiment", name="ab")
        .order_by("created")
        .values_list("verb", "status", "actor_name")
    )
    assert [v for v, _, _ in verbs] == [
        "create",
        "start",
        "pause",
        "resume",
        "set_weights",
        "abort",
    ]
    assert {(s, a) for _, s, a in verbs} == {("succeeded", "mle")}
    weights_event = AuditEvent.objects.get(kind="experiment", verb="set_weights")
    assert weights_event.state_key.endswith(f"/{kube_namespace}/ab/weights")
    # A step that no longer applies is refused with the state it found, and audited.
    again = engineer_api.post(f"{one}pause/")
    assert again.status_code == 409
    assert "aborted" in again.json()["detail"]


def test_conclude_sends_all_traffic_to_the_winner_and_delete_removes_the_route(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_variants(sandbox, kube_namespace, tmp_path)
    create_and_start(engineer_api, kube_namespace, routing="fanout")
    one = base(kube_namespace, "ab")
    finished(engineer_api, engineer_api.post(f"{one}conclude/", {"winner": "b"}, format="json"))
    paths = route(sandbox, kube_namespace, "ingress")["spec"]["rules"][0]["http"]["paths"]
    assert {p["backend"]["service"]["name"] for p in paths} == {"model-b"}
    assert engineer_api.get(one).json()["winner"] == "b"
    finished(engineer_api, engineer_api.delete(one))
    gone = sandbox.kubectl("-n", kube_namespace, "get", "ingress", "ab")
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr
    assert not Experiment.objects.filter(name="ab").exists()
    assert not TimelineEntry.objects.exists()
    assert engineer_api.get(one).status_code == 404


def test_concluding_by_rollout_rolls_the_winners_image_out_to_the_control_deployment(
    celery_worker, sandbox, kube_namespace, engineer_api, tmp_path
):
    make_variants(sandbox, kube_namespace, tmp_path)
    sandbox.kubectl(
        "-n", kube_namespace, "set", "image", "deployment/model-b", "model=example/model:2"
    )
    create_and_start(engineer_api, kube_namespace)
    one = base(kube_namespace, "ab")
    body = {"winner": "b", "promotion": "rollout"}
    done = finished(engineer_api, engineer_api.post(f"{one}conclude/", body, format="json"))
    rollout = AuditEvent.objects.get(id=done["parameters"]["rollout_action"])
    assert rollout.kind == "deployment"
    assert rollout.verb == "rollout"
    assert rollout.name == "model-a"
    wait_for(
        lambda: AuditEvent.objects.get(pk=rollout.pk).status == "succeeded",
        what="the promotion's rollout",
    )
    deployment = kubectl_json(sandbox, "-n", kube_namespace, "get", "deployment", "model-a")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "example/model:2"
    cause = deployment["metadata"]["annotations"]["kubernetes.io/change-cause"]
    assert cause == "experiment ab: promote b"
    # The control's deployment now serves the winner's model, so traffic stays on it.
    rule = route(sandbox, kube_namespace, "httproute")["spec"]["rules"][-1]
    assert weights_of(rule) == {"model-a": 100, "model-b": 0}
