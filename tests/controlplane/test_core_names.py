"""Names are checked as Kubernetes checks them before anything else, and every way of adding a
cluster goes through the same name checks."""

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.clusters.models import Cluster
from controlplane.kube.names import dns1123_label_problem, dns1123_subdomain_problem

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", [".", "..", "Upper", "a_b", "-a", "a-", "a" * 254, ""])
def test_it_refuses_what_kubernetes_refuses_as_an_object_name(name):
    assert dns1123_subdomain_problem(name) is not None


@pytest.mark.parametrize("name", ["a", "model-v2", "a.b.c", "a" * 253])
def test_it_accepts_what_kubernetes_accepts_as_an_object_name(name):
    assert dns1123_subdomain_problem(name) is None


def test_a_namespace_name_is_a_label_of_at_most_63_characters():
    assert dns1123_label_problem("n" * 63) is None
    assert "63" in dns1123_label_problem("n" * 64)
    assert dns1123_label_problem("a.b") is not None


@pytest.mark.parametrize("name", [".", "..", "Web", "web_1"])
def test_a_deployment_name_that_kubernetes_refuses_is_a_400_before_anything_happens(
    offline_cluster, make_user, api_client_for, name
):
    api = api_client_for(make_user(role="operator", cluster=offline_cluster))
    # The raw path, as a client that does not normalise dot segments sends it.
    response = api.post(
        f"/api/v1/clusters/offline/namespaces/ml/deployments/{name}/scale/",
        {"replicas": 2},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert not AuditEvent.objects.filter(verb="scale").exists()


def test_an_unauthenticated_request_with_a_bad_name_is_still_a_401(client):
    response = client.post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/./scale/",
        {"replicas": 2},
        content_type="application/json",
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("name", "message"),
    [("preview", "reserved"), ("add", "reserved"), ("Upper_Case", "RFC 1123"), ("a" * 64, "63")],
)
def test_adding_the_sandbox_checks_the_name_like_any_other_source(
    make_user, api_client_for, name, message
):
    root = make_user(superuser=True)
    response = api_client_for(root).post(
        "/api/v1/clusters/", {"name": name, "source": "sandbox"}, format="json"
    )
    assert response.status_code == 400
    assert message in str(response.json()["name"])
    assert not Cluster.objects.filter(name=name).exists()


def test_adding_a_cluster_under_an_existing_name_is_a_conflict_not_a_replacement(
    offline_cluster, make_user, api_client_for, tmp_path, settings
):
    settings.SANDBOX_KUBECONFIG = tmp_path / "absent.kubeconfig"
    root = make_user(superuser=True)
    before = Cluster.objects.get(name="offline").credentials_encrypted
    response = api_client_for(root).post(
        "/api/v1/clusters/", {"name": "offline", "source": "sandbox"}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {"name": ["A cluster named 'offline' already exists."]}
    assert Cluster.objects.get(name="offline").credentials_encrypted == before
    assert AuditEvent.objects.get(kind="cluster", name="offline").status == "failed"


def test_a_scale_request_looks_the_users_grant_up_once(offline_cluster, make_user, api_client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = api_client_for(make_user(role="operator", cluster=offline_cluster))
    with CaptureQueriesContext(connection) as queries:
        response = api.post(
            "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
            {"replicas": 2},
            format="json",
        )
    assert response.status_code == 202
    grant_reads = [q for q in queries.captured_queries if "accounts_rolegrant" in q["sql"]]
    assert len(grant_reads) == 1, [q["sql"] for q in grant_reads]


def test_a_scale_without_replicas_says_the_field_is_required(
    offline_cluster, make_user, api_client_for
):
    api = api_client_for(make_user(role="operator", cluster=offline_cluster))
    response = api.post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/", {}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"replicas": ["This field is required."]}


@pytest.mark.parametrize("sent", [None, "3", 2.5, [1], {"n": 1}])
def test_the_audit_records_refused_parameters_as_they_were_sent(
    offline_cluster, make_user, api_client_for, sent
):
    api = api_client_for(make_user(role="operator", cluster=offline_cluster))
    response = api.post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": sent},
        format="json",
    )
    assert response.status_code == 400
    event = AuditEvent.objects.get(verb="scale")
    assert event.status == "failed"
    assert event.parameters == {"replicas": sent}


def test_a_nul_character_in_a_refused_request_is_audited_not_a_500(
    offline_cluster, make_user, api_client_for
):
    # PostgreSQL refuses NUL in text and jsonb: the audit row must still be written.
    viewer = make_user(role="viewer", cluster=offline_cluster)
    response = api_client_for(viewer).post(
        "/api/v1/clusters/offline/group-mappings/",
        {"group": "ml\x00team", "role": "admin"},
        format="json",
    )
    assert response.status_code == 403
    event = AuditEvent.objects.get(actor=viewer, status="refused")
    assert event.parameters["group"] == "ml\\x00team"
    assert "\x00" not in event.name
