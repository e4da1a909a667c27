"""GKE from the control plane's API, against the local GKE endpoint with the official client
and google-auth unmodified: clusters and node pools through actions followed to DONE, the
cluster registered, Google's errors verbatim, tokens refreshed or refused, and the roles."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.clusters.models import Cluster, ClusterSource
from controlplane.gke.models import GkeCredential, GkeOperation
from sandbox import kubeconfig
from sandbox.testing import KUBECTL
from tests.controlplane.gke_support import (  # noqa: F401 (fixtures)
    BASE,
    PROJECT,
    ZONE,
    action_done,
    credential_for,
    gke_fixture,
    gke_worker_fixture,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def admin(make_user):
    return make_user("gke-admin", superuser=True)


@pytest.fixture
def api(admin, api_client_for):
    return api_client_for(admin)


def _create(api, name: str, **body) -> dict:
    response = api.post(f"{BASE}/clusters/", {"name": name, **body}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def _kubectl_nodes(cluster: Cluster, tmp_path, *selector: str) -> list[dict]:
    """kubectl as a witness, with the registered cluster's endpoint, CA and current token."""
    conn = cluster.connection()
    path = tmp_path / f"kubeconfig-{cluster.name}"
    ca = base64.b64decode(conn.ca_data).decode()
    kubeconfig.write(path, conn.server, conn.token, ca_pem=ca)
    done = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(path), "get", "nodes", *selector, "-o", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)["items"]


def test_saving_credentials_keeps_the_key_encrypted_and_never_shows_it(gke, api):
    response = api.post(
        "/api/v1/gke/credentials/",
        {"project": PROJECT, "key": gke.key, "endpoint": gke.url},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["client_email"] == gke.key["client_email"]
    assert "private_key" not in response.content.decode()
    stored = GkeCredential.objects.get(project_id=PROJECT)
    assert gke.key["private_key_id"] not in stored.key_encrypted
    assert stored.key()["private_key_id"] == gke.key["private_key_id"]
    listed = api.get("/api/v1/gke/credentials/").content.decode()
    assert "BEGIN PRIVATE KEY" not in listed
    event = AuditEvent.objects.get(kind="gke-credential", verb="create")
    assert "BEGIN PRIVATE KEY" not in json.dumps(event.parameters)


def test_a_key_of_another_project_is_refused_naming_the_field(gke, api):
    response = api.post(
        "/api/v1/gke/credentials/", {"project": "other-project", "key": gke.key}, format="json"
    )
    assert response.status_code == 400
    assert "belongs to project 'sandbox-project'" in response.json()["key"][0]
    assert not GkeCredential.objects.exists()


def test_a_cluster_created_from_the_api_registers_and_its_overview_shows_its_nodes(
    gke, gke_worker, admin, api, client
):
    credential_for(gke)
    accepted = _create(
        api, "api-demo", node_count=2, release_channel="STABLE", workload_identity=True
    )
    action = action_done(api, accepted["url"])
    assert action["status"] == "succeeded", action
    assert action["result"]["registered_as"] == "api-demo"
    operation = GkeOperation.objects.get(action_id=action["id"])
    assert operation.status == "DONE"
    assert operation.operation_type == "CREATE_CLUSTER"
    assert operation.nodes == (2, 2)

    cluster = Cluster.objects.get(name="api-demo")
    assert cluster.source == ClusterSource.GKE
    listed = api.get(f"{BASE}/clusters/").json()
    assert [(c["name"], c["status"], c["registered"]) for c in listed] == [
        ("api-demo", "RUNNING", "api-demo")
    ]
    assert listed[0]["release_channel"] == "STABLE"
    assert listed[0]["workload_pool"] == f"{PROJECT}.svc.id.goog"

    client.force_login(admin)
    page = client.get("/c/api-demo/").content.decode()
    assert "gke-api-demo-default-pool" in page


def test_a_gpu_pool_adds_gpu_nodes_with_the_taint_then_resizes_autoscales_and_goes(
    gke, gke_worker, api, tmp_path
):
    credential_for(gke)
    assert action_done(api, _create(api, "gpu-demo", node_count=1)["url"])["status"] == "succeeded"
    cluster = Cluster.objects.get(name="gpu-demo")
    pools = f"{BASE}/clusters/gpu-demo/nodepools/"
    accepted = api.post(
        pools,
        {"name": "t4", "node_count": 1, "machine_type": "n1-standard-8",
         "accelerator_type": "nvidia-tesla-t4", "accelerator_count": 1, "gpu_driver": "LATEST"},
        format="json",
    ).json()  # fmt: skip
    assert action_done(api, accepted["url"])["status"] == "succeeded"
    gpu = _kubectl_nodes(
        cluster, tmp_path, "-l", "cloud.google.com/gke-accelerator=nvidia-tesla-t4"
    )
    assert len(gpu) == 1
    assert gpu[0]["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    assert gpu[0]["metadata"]["labels"]["cloud.google.com/gke-nodepool"] == "t4"

    accepted = api.post(f"{pools}t4/size/", {"node_count": 3}, format="json").json()
    assert action_done(api, accepted["url"])["status"] == "succeeded"
    assert len(_kubectl_nodes(cluster, tmp_path, "-l", "cloud.google.com/gke-nodepool=t4")) == 3

    body = {"enabled": True, "min_node_count": 0, "max_node_count": 2}
    accepted = api.post(f"{pools}t4/autoscaling/", body, format="json").json()
    assert action_done(api, accepted["url"])["status"] == "succeeded"
    pool = api.get(f"{pools}t4/").json()
    assert pool["autoscaling"] == {"enabled": True, "maxNodeCount": 2, "locationPolicy": "BALANCED"}

    accepted = api.delete(f"{pools}t4/").json()
    assert action_done(api, accepted["url"])["status"] == "succeeded"
    assert [p["name"] for p in api.get(pools).json()] == ["default-pool"]
    assert not _kubectl_nodes(cluster, tmp_path, "-l", "cloud.google.com/gke-nodepool=t4")

    accepted = api.delete(f"{BASE}/clusters/gpu-demo/").json()
    action = action_done(api, accepted["url"])
    assert action["result"]["unregistered"] == "gpu-demo"
    assert not Cluster.objects.filter(name="gpu-demo").exists()
    assert api.get(f"{BASE}/clusters/gpu-demo/").status_code == 404


def test_googles_refusals_fail_the_action_with_its_message(gke, gke_worker, api):
    credential_for(gke)
    assert action_done(api, _create(api, "taken", node_count=1)["url"])["status"] == "succeeded"
    duplicate = action_done(api, _create(api, "taken", node_count=1)["url"])
    assert duplicate["status"] == "failed"
    assert duplicate["error"].endswith(
        f"Already exists: projects/{PROJECT}/locations/{ZONE}/clusters/taken."
    )
    response = api.post(
        f"/api/v1/gke/projects/{PROJECT}/locations/us-central1-z/clusters/",
        {"name": "nowhere", "node_count": 1},
        format="json",
    )
    unknown_zone = action_done(api, response.json()["url"])
    assert unknown_zone["error"].endswith('Location "us-central1-z" does not exist.')
    zero = action_done(api, _create(api, "empty", node_count=0)["url"])
    assert zero["error"].endswith("Cluster.initial_node_count must be greater than zero.")


def test_bad_input_is_400_naming_the_field_and_audited(gke, api):
    credential_for(gke)
    response = api.post(f"{BASE}/clusters/", {"name": "x", "node_count": -1}, format="json")
    assert response.status_code == 400
    assert "node_count" in response.json()
    response = api.post(f"{BASE}/clusters/", {"name": "Bad_Name"}, format="json")
    assert "name" in response.json()
    event = AuditEvent.objects.filter(kind="gke-cluster", status="failed").first()
    assert event.error.startswith("invalid request:")


def test_an_expired_token_is_refreshed_and_a_revoked_key_is_reported(
    gke, gke_worker, api, tmp_path
):
    from controlplane.gke import google
    from controlplane.kube.errors import Unauthorized

    key = gke.make_key()
    credential_for(gke, key=key)
    assert action_done(api, _create(api, "tokens", node_count=1)["url"])["status"] == "succeeded"
    cluster = Cluster.objects.get(name="tokens")
    first = cluster.connection().token
    assert len(_kubectl_nodes(cluster, tmp_path)) == 1

    # The cached credentials' token runs out: the next connection gets a new one from Google.
    credential = GkeCredential.objects.get(project_id=PROJECT)
    cached = google._token_credentials[credential.pk][1]
    cached.expiry = cached.expiry.replace(year=2000)
    second = cluster.connection().token
    assert second != first
    assert len(_kubectl_nodes(cluster, tmp_path)) == 1

    gke.revoke_key(key["private_key_id"])
    google.access_tokens_forget()
    with pytest.raises(Unauthorized) as err:
        cluster.connection()
    assert "invalid_grant: Invalid JWT Signature." in str(err.value)
    credential.refresh_from_db()
    assert "Invalid JWT Signature" in credential.last_error
    listed = api.get(f"{BASE}/clusters/")
    assert listed.status_code == 502
    assert listed.json()["detail"].startswith("Request had invalid authentication credentials.")


def test_only_admins_manage_gke_and_refusals_are_audited(
    gke, admin, make_user, api_client_for, offline_cluster
):
    credential_for(gke)
    cluster_admin = make_user("cluster-admin", role="admin", cluster=offline_cluster)
    other = api_client_for(cluster_admin)
    assert other.get("/api/v1/gke/credentials/").status_code == 403
    assert other.post(f"{BASE}/clusters/", {"name": "nope"}, format="json").status_code == 403
    assert other.delete(f"/api/v1/gke/credentials/{PROJECT}/").status_code == 403
    refused = AuditEvent.objects.filter(actor_name="cluster-admin", status="refused")
    assert sorted(refused.values_list("verb", flat=True)) == ["change", "delete", "list"]
    assert {e.error for e in refused} == {"cluster-admin is not an admin: only admins manage GKE"}
    assert not AuditEvent.objects.filter(kind="gke-cluster", status="pending").exists()


def test_an_unreachable_api_is_retried_then_given_up_with_why(admin):
    from controlplane.audit.services import action_record
    from controlplane.clusters.crypto import encrypt_json
    from controlplane.gke.models import CredentialKind
    from controlplane.gke.tasks import run_gke_action
    from sandbox.testing import free_port
    from tests.fixtures.controlplane import FakeTask

    closed = f"http://127.0.0.1:{free_port()}"
    GkeCredential.objects.create(
        project_id=PROJECT,
        kind=CredentialKind.SERVICE_ACCOUNT_KEY,
        endpoint=closed,
        key_encrypted=encrypt_json(_offline_key()),
    )
    parameters = {"project": PROJECT, "location": ZONE, "cluster": "away", "node_count": 1,
                  "machine_type": "e2-medium", "release_channel": "", "autoscaling": None,
                  "workload_identity": False}  # fmt: skip
    event = action_record(
        actor=admin, cluster=None, kind="gke-cluster", name="away", verb="create",
        parameters=parameters, status="pending",
    )  # fmt: skip
    task = FakeTask()
    with pytest.raises(RuntimeError, match="retry requested"):
        run_gke_action(task, str(event.id))
    assert task.retried == [1]
    AuditEvent.objects.filter(id=event.id).update(
        created=event.created.replace(year=event.created.year - 1)
    )
    assert run_gke_action(FakeTask(retries=3), str(event.id)) == "failed"
    event.refresh_from_db()
    assert "could not be reached" in event.error
    assert "gave up after" in event.error


def _offline_key() -> dict:
    """A well-formed key for an endpoint that is not there (it never signs anything)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account", "project_id": PROJECT, "private_key_id": "0" * 40,
        "private_key": pem, "client_email": f"away@{PROJECT}.iam.gserviceaccount.com",
        "token_uri": "http://127.0.0.1:9/token",
    }  # fmt: skip
