"""The JSON API without a cluster behind it: auth, clusters registry, grants, audit, refusals."""

import logging

import pytest
import yaml
from django.core.management import call_command

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import run_action
from controlplane.clusters.crypto import encrypt_json
from controlplane.clusters.models import Cluster
from deployments.tasks import deployment_scale_task
from tests.fixtures.controlplane import FakeTask

pytestmark = pytest.mark.django_db

SECRET_TOKEN = "sekrit-token-value-4f9a2b7c1d"


def kubeconfig_text(token=SECRET_TOKEN, server="https://127.0.0.1:1", user=None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": user or {"token": token}}],
            "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "ctx",
        }
    )


@pytest.fixture
def cluster():
    # An address nothing listens on: these tests never reach a cluster.
    return Cluster.objects.create(
        name="offline",
        server="https://127.0.0.1:1",
        source="kubeconfig",
        credentials_encrypted=encrypt_json({"token": SECRET_TOKEN}),
    )


@pytest.fixture
def admin(make_user):
    return make_user("root", superuser=True)


def test_it_requires_authentication(client):
    assert client.get("/api/v1/clusters/").status_code in (401, 403)


def test_token_auth_lists_only_clusters_the_user_holds_a_role_on(
    cluster, make_user, api_client_for
):
    Cluster.objects.create(name="other", server="https://10.9.9.9", source="kubeconfig")
    viewer = make_user(role="viewer", cluster=cluster)
    response = api_client_for(viewer).get("/api/v1/clusters/")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()] == ["offline"]
    assert response.json()[0]["role"] == "viewer"


def test_drf_create_token_command_makes_a_working_token(cluster, make_user, capsys):
    user = make_user("cli-user", role="viewer", cluster=cluster)
    call_command("drf_create_token", "cli-user")
    key = capsys.readouterr().out.split()[2]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/clusters/offline/").json()["name"] == "offline"
    from controlplane.accounts.models import ApiToken

    assert ApiToken.objects.get(user=user).prefix in key


def test_superusers_add_clusters_from_a_kubeconfig(admin, api_client_for):
    api = api_client_for(admin)
    response = api.post(
        "/api/v1/clusters/",
        {"name": "prod", "kubeconfig": kubeconfig_text(), "display_name": "Prod"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["server"] == "https://127.0.0.1:1"
    stored = Cluster.objects.get(name="prod")
    assert SECRET_TOKEN not in stored.credentials_encrypted
    assert stored.connection().token == SECRET_TOKEN
    assert AuditEvent.objects.get(verb="create", kind="cluster").status == "succeeded"


def test_adding_a_kubeconfig_with_an_exec_plugin_is_refused_naming_the_field(admin, api_client_for):
    text = kubeconfig_text(user={"exec": {"command": "aws"}})
    response = api_client_for(admin).post(
        "/api/v1/clusters/", {"name": "eks", "kubeconfig": text}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "users[0].user.exec"
    assert not Cluster.objects.filter(name="eks").exists()
    event = AuditEvent.objects.get(kind="cluster", verb="create")
    assert event.status == "failed"
    assert "users[0].user.exec" in event.error


def test_the_preview_shows_the_api_server_before_saving(admin, api_client_for):
    response = api_client_for(admin).post(
        "/api/v1/clusters/preview/", {"kubeconfig": kubeconfig_text()}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["contexts"][0]["server"] == "https://127.0.0.1:1"
    assert SECRET_TOKEN not in response.content.decode()
    assert not Cluster.objects.exists()


def test_non_superusers_may_not_add_clusters_and_the_refusal_is_audited(
    cluster, make_user, api_client_for
):
    engineer = make_user(role="admin", cluster=cluster)
    response = api_client_for(engineer).post(
        "/api/v1/clusters/", {"name": "x", "kubeconfig": kubeconfig_text()}, format="json"
    )
    assert response.status_code == 403
    assert AuditEvent.objects.filter(verb="create", status="refused").count() == 1


@pytest.mark.parametrize(("role", "allowed"), [("operator", False), ("admin", True)])
def test_editing_a_cluster_needs_the_admin_role(cluster, make_user, api_client_for, role, allowed):
    user = make_user(role=role, cluster=cluster)
    response = api_client_for(user).patch(
        "/api/v1/clusters/offline/", {"display_name": "Renamed"}, format="json"
    )
    assert response.status_code == (200 if allowed else 403)
    event = AuditEvent.objects.get(verb="update", kind="cluster")
    assert event.status == ("succeeded" if allowed else "refused")
    assert event.actor_name == user.username


def test_a_user_without_a_role_cannot_see_that_a_cluster_exists(cluster, make_user, api_client_for):
    stranger = make_user()
    assert api_client_for(stranger).get("/api/v1/clusters/offline/").status_code == 404


def test_admins_delete_clusters_and_the_audit_log_keeps_the_name(admin, cluster, api_client_for):
    assert api_client_for(admin).delete("/api/v1/clusters/offline/").status_code == 204
    assert not Cluster.objects.filter(name="offline").exists()
    event = AuditEvent.objects.get(verb="delete")
    assert event.cluster_name == "offline"
    assert event.cluster is None


def test_admins_grant_roles_and_others_are_refused(cluster, make_user, api_client_for):
    admin = make_user(role="admin", cluster=cluster)
    engineer = make_user(role="engineer", cluster=cluster)
    newcomer = make_user("newcomer")
    body = {"user": "newcomer", "role": "operator", "namespaces": ["serving"]}
    refused = api_client_for(engineer).post("/api/v1/clusters/offline/grants/", body, format="json")
    assert refused.status_code == 403
    granted = api_client_for(admin).post("/api/v1/clusters/offline/grants/", body, format="json")
    assert granted.status_code == 201, granted.content
    assert newcomer.role_grants.get().namespaces == ["serving"]
    statuses = sorted(AuditEvent.objects.filter(kind="rolegrant").values_list("status", flat=True))
    assert statuses == ["refused", "succeeded"]
    revoked = api_client_for(admin).delete("/api/v1/clusters/offline/grants/newcomer/")
    assert revoked.status_code == 204
    assert not newcomer.role_grants.exists()


def test_granting_an_unknown_role_is_a_400_naming_role(cluster, admin, api_client_for):
    response = api_client_for(admin).post(
        "/api/v1/clusters/offline/grants/", {"user": "root", "role": "god"}, format="json"
    )
    assert response.status_code == 400
    assert "role" in response.json()
    event = AuditEvent.objects.get(kind="rolegrant")
    assert event.status == "failed"
    assert event.error.startswith("invalid request: role: Choose one of")


def test_a_viewer_asking_to_scale_gets_403_and_the_refusal_is_audited(
    cluster, make_user, api_client_for
):
    viewer = make_user(role="viewer", cluster=cluster)
    response = api_client_for(viewer).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": 3},
        format="json",
    )
    assert response.status_code == 403
    event = AuditEvent.objects.get(verb="scale")
    assert (event.status, event.namespace, event.name) == ("refused", "ml", "web")
    assert event.parameters == {"replicas": 3}
    assert "scale" in event.error


def test_an_operator_narrowed_to_a_namespace_is_refused_elsewhere(
    cluster, make_user, api_client_for
):
    operator = make_user(role="operator", cluster=cluster, namespaces=["serving"])
    response = api_client_for(operator).post(
        "/api/v1/clusters/offline/namespaces/training/deployments/web/scale/",
        {"replicas": 1},
        format="json",
    )
    assert response.status_code == 403
    assert AuditEvent.objects.get(verb="scale").status == "refused"


@pytest.mark.parametrize(
    ("replicas", "message"),
    [
        (-1, "Ensure this value is greater than or equal to 0."),
        (1_000_000, "Ensure this value is less than or equal to 1000."),
        ("three", "A valid integer is required."),
        (1.5, "A valid integer is required."),
        (True, "A valid integer is required."),
        (None, "A valid integer is required."),
    ],
)
def test_invalid_replica_counts_get_400_naming_the_field_and_are_audited(
    cluster, make_user, api_client_for, replicas, message
):
    operator = make_user(role="operator", cluster=cluster)
    response = api_client_for(operator).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": replicas},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"replicas": [message]}
    event = AuditEvent.objects.get(verb="scale")
    assert event.status == "failed"
    assert message in event.error


def test_a_scale_request_without_replicas_names_the_field(cluster, make_user, api_client_for):
    operator = make_user(role="operator", cluster=cluster)
    response = api_client_for(operator).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/", {}, format="json"
    )
    assert response.status_code == 400
    assert "replicas" in response.json()


def test_an_unreachable_cluster_is_a_503_not_a_crash(cluster, make_user, api_client_for, settings):
    settings.KUBE_RETRY_ATTEMPTS = 1
    settings.KUBE_CONNECT_TIMEOUT = 0.5
    viewer = make_user(role="viewer", cluster=cluster)
    response = api_client_for(viewer).get("/api/v1/clusters/offline/namespaces/ml/deployments/")
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


def test_the_audit_api_filters_by_actor_status_and_time(cluster, make_user, api_client_for):
    viewer = make_user("vic", role="viewer", cluster=cluster)
    admin = make_user("ada", role="admin", cluster=cluster)
    api_client_for(viewer).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": 1},
        format="json",
    )
    api = api_client_for(admin)
    api.patch("/api/v1/clusters/offline/", {"display_name": "x"}, format="json")
    refused = api.get("/api/v1/audit/?status=refused").json()["results"]
    assert [(e["actor"], e["verb"]) for e in refused] == [("vic", "scale")]
    by_actor = api.get("/api/v1/audit/?actor=ada&cluster=offline").json()["results"]
    assert [e["verb"] for e in by_actor] == ["update"]
    assert api.get("/api/v1/audit/?since=2999-01-01T00:00:00Z").json()["count"] == 0


def test_the_audit_api_names_a_bad_filter(admin, api_client_for):
    response = api_client_for(admin).get("/api/v1/audit/?since=yesterday&status=maybe")
    assert response.status_code == 400
    assert set(response.json()) == {"since", "status"}


def test_users_only_see_actions_on_their_clusters(cluster, make_user, api_client_for):
    other = Cluster.objects.create(name="other", server="https://10.9.9.9", source="kubeconfig")
    outsider = make_user(role="admin", cluster=other)
    viewer = make_user(role="viewer", cluster=cluster)
    api_client_for(viewer).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": 1},
        format="json",
    )
    event = AuditEvent.objects.get(verb="scale")
    outsider_api = api_client_for(outsider)
    assert outsider_api.get(f"/api/v1/actions/{event.id}/").status_code == 404
    assert outsider_api.get("/api/v1/audit/").json()["count"] == 0
    mine = api_client_for(viewer).get(f"/api/v1/actions/{event.id}/").json()
    assert mine["status"] == "refused"


def test_credentials_never_appear_in_responses_pages_or_logs(
    cluster, admin, api_client_for, client, caplog, settings
):
    settings.KUBE_RETRY_ATTEMPTS = 1
    settings.KUBE_CONNECT_TIMEOUT = 0.5
    caplog.set_level(logging.DEBUG)
    api = api_client_for(admin)
    created = api.post(
        "/api/v1/clusters/", {"name": "second", "kubeconfig": kubeconfig_text()}, format="json"
    )
    bodies = [created.content]
    for url in ("/api/v1/clusters/", "/api/v1/clusters/second/", "/api/v1/audit/"):
        bodies.append(api.get(url).content)
    bodies.append(api.post("/api/v1/clusters/second/test/").content)
    bodies.append(
        api.patch(
            "/api/v1/clusters/second/", {"kubeconfig": kubeconfig_text()}, format="json"
        ).content
    )
    client.force_login(admin)
    for url in ("/clusters/", "/clusters/second/", "/clusters/second/edit/", "/audit/"):
        bodies.append(client.get(url).content)
    bodies.append(client.post("/clusters/second/test/").content)
    for body in bodies:
        assert SECRET_TOKEN.encode() not in body
    assert SECRET_TOKEN not in caplog.text
    for event in AuditEvent.objects.all():
        assert SECRET_TOKEN not in str(event.parameters) + event.error + str(event.result)


def test_the_in_cluster_source_reads_the_mounted_service_account(
    admin, api_client_for, settings, tmp_path, monkeypatch
):
    token_file = tmp_path / "token"
    ca_file = tmp_path / "ca.crt"
    token_file.write_text("first-token-abcdef")
    ca_file.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    settings.IN_CLUSTER_TOKEN_PATH = token_file
    settings.IN_CLUSTER_CA_PATH = ca_file
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    response = api_client_for(admin).post(
        "/api/v1/clusters/", {"name": "home", "source": "in_cluster"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["server"] == "https://10.96.0.1:443"
    cluster = Cluster.objects.get(name="home")
    first = cluster.connection()
    assert first.token == "first-token-abcdef"
    # Projected tokens rotate: the next connection uses the new one, under a new cache key.
    token_file.write_text("second-token-ghijkl")
    second = cluster.connection()
    assert second.token == "second-token-ghijkl"
    assert second.key != first.key


def test_the_in_cluster_source_is_refused_outside_a_pod(admin, api_client_for, settings, tmp_path):
    settings.IN_CLUSTER_TOKEN_PATH = tmp_path / "missing"
    response = api_client_for(admin).post(
        "/api/v1/clusters/", {"name": "home", "source": "in_cluster"}, format="json"
    )
    assert response.status_code == 400
    assert "source" in response.json()


def test_credentials_are_encrypted_with_rotatable_keys(cluster, settings):
    from cryptography.fernet import Fernet

    from controlplane.clusters.crypto import rotate

    old_key = settings.CREDENTIALS_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [new_key, old_key]
    assert cluster.connection().token == SECRET_TOKEN
    cluster.credentials_encrypted = rotate(cluster.credentials_encrypted)
    settings.CREDENTIALS_KEYS = [new_key]
    assert cluster.connection().token == SECRET_TOKEN


def test_scaling_an_unreachable_cluster_is_accepted_and_the_worker_records_why(
    cluster, make_user, api_client_for, settings
):
    # The request makes no cluster call (the worker does), so it answers at once.
    settings.KUBE_RETRY_ATTEMPTS = 1
    settings.KUBE_CONNECT_TIMEOUT = 0.5
    operator = make_user(role="operator", cluster=cluster)
    response = api_client_for(operator).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": 2},
        format="json",
    )
    assert response.status_code == 202
    event = AuditEvent.objects.get(verb="scale")
    assert event.status == "pending"
    last_try = FakeTask(retries=FakeTask.max_retries)
    assert run_action(last_try, str(event.id), deployment_scale_task.perform) == "failed"
    event.refresh_from_db()
    assert event.error.startswith("Unavailable")
    assert "gave up after 3 attempts" in event.error


def test_an_action_records_the_callers_request_id(cluster, make_user, api_client_for):
    viewer = make_user(role="viewer", cluster=cluster)
    response = api_client_for(viewer).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": 1},
        format="json",
        HTTP_X_REQUEST_ID="req-123.abc",
    )
    assert response["X-Request-ID"] == "req-123.abc"
    assert AuditEvent.objects.get(verb="scale").request_id == "req-123.abc"


def test_choosing_a_context_that_does_not_exist_names_the_context_field(admin, api_client_for):
    response = api_client_for(admin).post(
        "/api/v1/clusters/",
        {"name": "prod", "kubeconfig": kubeconfig_text(), "context": "staging"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"context": ["no context named 'staging' in the kubeconfig"]}
