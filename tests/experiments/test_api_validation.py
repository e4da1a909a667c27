"""Bad bodies are refused with a 400 naming the field, and audited; roles decide who may
change and who may read; deployments and Services are checked against the watcher's cache."""

import uuid

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.live.cache import live_cache
from experiments.models import Experiment

from .helpers import body

pytestmark = [pytest.mark.django_db]

URL = "/api/v1/clusters/offline/namespaces/team/experiments/"


@pytest.fixture
def api_as(offline_cluster, make_user, api_client_for):
    def make(role):
        return api_client_for(make_user(f"u-{role}", role=role, cluster=offline_cluster))

    return make


@pytest.fixture
def synced_cache(settings, offline_cluster):
    """The watcher's cache for the "offline" cluster, synced, holding model-a only."""
    settings.REDIS_PREFIX = f"{settings.REDIS_PREFIX}-x{uuid.uuid4().hex[:8]}"
    cache = live_cache()
    for kind, obj in (
        ("deployments", {"kind": "Deployment", "spec": {}}),
        ("services", {"kind": "Service", "spec": {"ports": [{"port": 8000}]}}),
    ):
        meta = {"name": "model-a", "namespace": "team", "resourceVersion": "1", "uid": kind}
        cache.replace("offline", kind, [{**obj, "metadata": meta}], "1")
    cache.heartbeat(60, {"test": True})
    yield cache
    leftovers = list(cache.client.scan_iter(match=f"{settings.REDIS_PREFIX}:*"))
    if leftovers:
        cache.client.delete(*leftovers)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"weights": (60, 50)}, "variants", "sum to 100 (they sum to 110)"),
        ({"name": "Bad_Name"}, "name", "RFC 1123"),
        ({"name": "x" * 64}, "name", "no more than 63"),
        ({"routing": "random"}, "routing", "fanout, weighted, sticky"),
        ({"primary_metric": "clicks"}, "primary_metric", "conversion"),
        ({"min_samples": -1}, "min_samples", "whole number"),
        ({"guardrails": [{"metric": "cpu"}]}, "guardrails[0].metric", "error_rate"),
        (
            {"guardrails": [{"metric": "error_rate", "max_increase": -1}]},
            "guardrails[0].max_increase",
            "at least 0",
        ),
    ],
)
def test_a_bad_body_is_refused_naming_the_field(api_as, change, field, words):
    api = api_as("engineer")
    weights = change.pop("weights", (50, 50))
    response = api.post(URL, {**body(weights=weights), **change}, format="json")
    assert response.status_code == 400, response.content
    assert words in " ".join(response.json()[field])
    assert not Experiment.objects.exists()
    event = AuditEvent.objects.get(kind="experiment", verb="create")
    assert event.status == "failed"
    assert event.error.startswith("invalid request:")


def test_variants_need_one_control_at_least_two_and_unique_names(api_as):
    api = api_as("engineer")
    payload = body()
    payload["variants"][1]["control"] = True
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert "Exactly one variant must be the control (found 2)." in response.json()["variants"]
    payload = body()
    payload["variants"] = payload["variants"][:1]
    response = api.post(URL, payload, format="json")
    assert "2 to 7 variants (got 1)" in response.json()["variants"][0]
    payload = body()
    payload["variants"][1]["name"] = "a"
    response = api.post(URL, payload, format="json")
    assert "already named 'a'" in response.json()["variants[1].name"][0]
    payload = body()
    payload["variants"][0]["weight"] = "50"
    response = api.post(URL, payload, format="json")
    assert "whole percentage" in response.json()["variants[0].weight"][0]


def test_deployments_and_services_the_synced_cache_lacks_are_refused_naming_them(
    api_as, synced_cache
):
    api = api_as("engineer")
    response = api.post(URL, body(), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert errors["variants[1].deployment"] == ["No deployment 'model-b' in namespace team."]
    assert errors["variants[1].service"] == ["No Service 'model-b' in namespace team."]
    assert "variants[0].deployment" not in errors
    payload = body()
    payload["variants"][0]["port"] = 9999
    errors = api.post(URL, payload, format="json").json()
    assert errors["variants[0].port"] == ["The Service has no port 9999 (it has: 8000)."]


def test_viewers_and_operators_may_not_create_and_the_refusal_is_audited(api_as):
    for role in ("viewer", "operator"):
        response = api_as(role).post(URL, body(), format="json")
        assert response.status_code == 403
        assert "'experiment' permission" in response.json()["detail"]
    refused = AuditEvent.objects.filter(kind="experiment", status="refused")
    assert sorted(refused.values_list("actor_name", flat=True)) == ["u-operator", "u-viewer"]


def test_an_engineer_creates_and_a_viewer_reads(api_as, offline_cluster):
    engineer, viewer = api_as("engineer"), api_as("viewer")
    response = engineer.post(URL, body(), format="json")
    assert response.status_code == 202, response.content
    event = AuditEvent.objects.get(kind="experiment", verb="create")
    assert event.status == "pending"
    assert event.parameters["variants"][0]["port"] == 80
    # The worker's service, run here without a worker.
    from experiments.services.apply import experiment_record

    experiment_record(event)
    listed = viewer.get(URL)
    assert listed.status_code == 200
    assert [e["name"] for e in listed.json()] == ["ab"]
    detail = viewer.get(f"{URL}ab/").json()
    assert detail["state"] == "draft"
    assert detail["traffic"] == {"a": 50, "b": 50}
    assert detail["routing_object"] == "HTTPRoute/ab"
    for method, path, payload in (
        ("post", "ab/start/", None),
        ("post", "ab/pause/", None),
        ("post", "ab/abort/", None),
        ("post", "ab/conclude/", {"winner": "b"}),
        ("patch", "ab/", {"weights": {"a": 10, "b": 90}}),
        ("delete", "ab/", None),
        ("post", "ab/feedback/", {"request_id": "r1", "variant": "a", "converted": True}),
    ):
        response = getattr(viewer, method)(f"{URL}{path}", payload, format="json")
        assert response.status_code == 403, (method, path)
    # A name already taken is a conflict.
    again = engineer.post(URL, body(), format="json")
    assert again.status_code == 409


def test_weights_conclude_and_feedback_bodies_are_checked(api_as):
    engineer = api_as("engineer")
    engineer.post(URL, body(), format="json")
    from experiments.services.apply import experiment_record

    experiment_record(AuditEvent.objects.get(kind="experiment", verb="create"))
    one = f"{URL}ab/"
    errors = engineer.patch(one, {"weights": {"a": 10, "c": 90}}, format="json").json()
    assert "No such variant: c." in errors["weights"]
    errors = engineer.patch(one, {"weights": {"a": 10, "b": 10}}, format="json").json()
    assert errors["weights"] == ["The weights must sum to 100 (they sum to 20)."]
    errors = engineer.post(f"{one}conclude/", {"winner": "z"}, format="json").json()
    assert errors["winner"] == ["Choose one of the variants: a, b."]
    # Feedback on a draft is refused: it has served nobody yet.
    draft = engineer.post(
        f"{one}feedback/", {"request_id": "r", "variant": "a", "converted": True}, format="json"
    )
    assert draft.status_code == 409
    Experiment.objects.update(state="running")
    errors = engineer.post(
        f"{one}feedback/", {"request_id": "r", "variant": "a"}, format="json"
    ).json()
    assert errors["converted"] == ["Send exactly one of converted (true/false) or value."]
    errors = engineer.post(
        f"{one}feedback/", {"request_id": "", "variant": "q", "value": 1}, format="json"
    ).json()
    assert set(errors) == {"request_id", "variant"}
    assert engineer.post(f"{URL}nope/start/").status_code == 404
