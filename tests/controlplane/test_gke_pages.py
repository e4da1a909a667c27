"""GKE pages: credentials uploaded and never shown, a cluster created from the form and
followed to DONE in the operations section, a GPU pool form opened from a link, roles."""

from __future__ import annotations

import pytest

from controlplane.audit.models import AuditEvent
from controlplane.clusters.models import Cluster
from controlplane.gke.models import GkeCredential
from tests.controlplane.gke_support import (  # noqa: F401 (fixtures)
    PROJECT,
    ZONE,
    credential_for,
    gke_fixture,
    gke_worker_fixture,
)
from tests.fixtures.controlplane import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def admin(make_user):
    return make_user("gke-page-admin", superuser=True)


@pytest.fixture
def browser(client, admin):
    client.force_login(admin)
    return client


def test_uploading_a_key_saves_it_encrypted_and_the_page_never_shows_it(gke, browser, tmp_path):
    key_file = tmp_path / "key.json"
    key_file.write_text(gke.key_file.read_text())
    with key_file.open("rb") as fh:
        response = browser.post(
            "/gke/credentials/add/", {"project": PROJECT, "endpoint": gke.url, "key_file": fh}
        )
    assert response.status_code == 302
    page = browser.get("/gke/").content.decode()
    assert PROJECT in page
    assert gke.key["client_email"] in page
    assert "PRIVATE KEY" not in page
    assert GkeCredential.objects.get(project_id=PROJECT).kind == "key"


def test_a_cluster_created_from_the_form_is_followed_to_done_and_registered(
    gke, gke_worker, browser
):
    credential_for(gke)
    response = browser.post(
        f"/gke/{PROJECT}/{ZONE}/create/",
        {"name": "ui-demo", "location": ZONE, "node_count": 1, "machine_type": "e2-medium",
         "release_channel": "REGULAR"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[-2000:]
    event = AuditEvent.objects.get(kind="gke-cluster", verb="create", name="ui-demo")

    def section():
        html = browser.get(f"/gke/{PROJECT}/{ZONE}/operations/").content.decode()
        return html if "registered as" in html else None

    html = wait_for(section, timeout=60, what="the operations section to show the registration")
    assert f'data-action-id="{event.id}"' in html
    assert "CREATE_CLUSTER" in html
    assert "1/1 nodes" in html
    assert Cluster.objects.filter(name="ui-demo", source="gke").exists()
    section = browser.get(f"/gke/{PROJECT}/{ZONE}/clusters/").content.decode()
    assert 'id="gke-clusters"' in section
    assert f"/gke/{PROJECT}/{ZONE}/clusters/ui-demo/" in section
    page = browser.get(f"/gke/{PROJECT}/{ZONE}/").content.decode()
    assert 'data-live-kinds="gke-actions"' in page
    assert "/c/ui-demo/" in page
    detail = browser.get(f"/gke/{PROJECT}/{ZONE}/clusters/ui-demo/").content.decode()
    assert "default-pool" in detail
    # The pool's size as counted in the registered cluster, and where that count came from.
    assert '1 <small class="muted">in the cluster (' in detail

    # Resizing from the cluster page's form: the section shows the new size once it is DONE.
    resize = f"/gke/{PROJECT}/{ZONE}/clusters/ui-demo/nodepools/default-pool/size/"
    assert browser.post(resize, {"node_count": 2}).status_code == 302

    def resized():
        html = browser.get(f"/gke/{PROJECT}/{ZONE}/clusters/ui-demo/section/").content.decode()
        return '2 <small class="muted">in the cluster (' in html

    wait_for(resized, timeout=60, what="the pool to show two nodes")


def test_a_failed_create_shows_googles_message_in_the_operations_section(gke, gke_worker, browser):
    credential_for(gke)
    browser.post(
        f"/gke/{PROJECT}/{ZONE}/create/",
        {"name": "zero", "location": ZONE, "node_count": 0, "machine_type": "e2-medium"},
    )

    def section():
        html = browser.get(f"/gke/{PROJECT}/{ZONE}/operations/").content.decode()
        return html if "status-failed" in html else None

    html = wait_for(section, timeout=60, what="the failed action")
    assert "Cluster.initial_node_count must be greater than zero." in html


def test_the_gpu_pool_link_opens_the_form_with_the_accelerator_asked_for(gke, browser, admin):
    from controlplane.clusters.crypto import encrypt_json

    credential = credential_for(gke)
    stored = {
        "ca_data": None,
        "gke_credential": credential.pk,
        "gke": {"project": PROJECT, "location": ZONE, "cluster": "trainer"},
    }
    Cluster.objects.create(
        name="trainer", server="https://127.0.0.1:1", source="gke",
        credentials_encrypted=encrypt_json(stored),
    )  # fmt: skip
    response = browser.get("/gke/for/trainer/nodepools/create/?accelerator=nvidia-l4&count=2")
    assert response.status_code == 302
    assert response["Location"] == (
        f"/gke/{PROJECT}/{ZONE}/clusters/trainer/nodepools/create/?accelerator=nvidia-l4&count=2"
    )
    form = browser.get(response["Location"]).content.decode()
    assert 'value="nvidia-l4"' in form
    assert 'value="gpu-l4"' in form


def test_other_users_get_403_and_the_refusal_is_audited(gke, make_user, client):
    client.force_login(make_user("viewer-only"))
    assert client.get("/gke/").status_code == 403
    assert client.post(f"/gke/{PROJECT}/{ZONE}/create/", {"name": "x"}).status_code == 403
    refused = AuditEvent.objects.filter(actor_name="viewer-only", status="refused", kind="gke")
    assert refused.count() == 2


def test_only_admins_may_follow_a_projects_gke_actions_live(make_user):
    from controlplane.gke.live import KIND
    from controlplane.live.streams import stream_kind_get
    from controlplane.live.subscriptions import SubscriptionRefused

    kind = stream_kind_get(KIND)
    subscription = kind.parse({"cluster": PROJECT, "kind": KIND})
    kind.authorize(
        user=make_user("gke-live-admin", superuser=True), subscription=subscription, audit=True
    )
    viewer = make_user("gke-live-viewer")
    for _ in range(2):
        with pytest.raises(SubscriptionRefused):
            kind.authorize(user=viewer, subscription=subscription, audit=True)
    refused = AuditEvent.objects.filter(actor_name="gke-live-viewer", verb="watch")
    assert refused.count() == 1
    with pytest.raises(ValueError, match=r"subscription\.cluster"):
        kind.parse({"kind": KIND})


def test_a_gke_cluster_keeps_its_google_tokens_instead_of_a_kubeconfig(gke, admin):
    from django.core.exceptions import ValidationError

    from controlplane.clusters.crypto import encrypt_json
    from controlplane.clusters.services import cluster_update

    credential = credential_for(gke)
    stored = {
        "gke_credential": credential.pk,
        "gke": {"project": PROJECT, "location": ZONE, "cluster": "kept"},
    }
    cluster = Cluster.objects.create(
        name="kept",
        server="https://127.0.0.1:1",
        source="gke",
        credentials_encrypted=encrypt_json(stored),
    )
    with pytest.raises(ValidationError) as err:
        cluster_update(actor=admin, cluster=cluster, kubeconfig="apiVersion: v1\nkind: Config\n")
    assert "Google access tokens" in str(err.value)
    cluster.refresh_from_db()
    assert cluster.source == "gke"
