"""Server-rendered pages: sign-in, clusters (upload -> preview -> save), tokens, grants, audit."""

import re

import pytest
from django.test import Client

from controlplane.accounts.models import ApiToken, RoleGrant
from controlplane.audit.models import AuditEvent
from controlplane.clusters.crypto import encrypt_json
from controlplane.clusters.models import Cluster

from .test_core_api import SECRET_TOKEN, kubeconfig_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    return Cluster.objects.create(
        name="offline",
        server="https://127.0.0.1:1",
        source="kubeconfig",
        credentials_encrypted=encrypt_json({"token": SECRET_TOKEN}),
    )


def logged_in(user, *, csrf=False) -> Client:
    browser = Client(enforce_csrf_checks=csrf)
    browser.force_login(user)
    return browser


def csrf_token(html: bytes) -> str:
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1).decode()


def test_people_log_in_and_out(make_user):
    make_user("alice", password="s3cure-pass-word")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/")
    assert page.status_code == 200
    response = browser.post(
        "/accounts/login/",
        {
            "username": "alice",
            "password": "s3cure-pass-word",
            "csrfmiddlewaretoken": csrf_token(page.content),
        },
    )
    assert response.status_code == 302
    assert browser.get("/clusters/").status_code == 200
    logout = browser.post(
        "/accounts/logout/", {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    )
    assert logout.status_code == 302
    assert browser.get("/clusters/").status_code == 302


def test_pages_need_a_login(client):
    for url in ("/clusters/", "/audit/", "/accounts/token/", "/accounts/grants/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_forms_without_a_csrf_token_are_rejected(make_user):
    browser = logged_in(make_user(), csrf=True)
    assert browser.post("/accounts/token/", {"action": "create"}).status_code == 403


def test_adding_a_cluster_shows_the_api_server_before_saving(make_user):
    admin = make_user("root", superuser=True)
    browser = logged_in(admin)
    preview = browser.post("/clusters/add/", {"text": kubeconfig_text()})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "https://127.0.0.1:1" in html
    assert SECRET_TOKEN not in html
    assert not Cluster.objects.exists()
    staged = re.search(r'name="staged" value="([^"]+)"', html).group(1)
    saved = browser.post(
        "/clusters/add/save/", {"staged": staged, "name": "prod", "context": "ctx"}
    )
    assert saved.status_code == 302
    assert saved["Location"] == "/clusters/prod/"
    assert Cluster.objects.get(name="prod").connection().token == SECRET_TOKEN


def test_a_refused_kubeconfig_page_names_the_field(make_user):
    browser = logged_in(make_user("root", superuser=True))
    response = browser.post(
        "/clusters/add/", {"text": kubeconfig_text(user={"auth-provider": {"name": "oidc"}})}
    )
    assert response.status_code == 200
    assert "users[0].user.auth-provider" in response.content.decode()
    assert not Cluster.objects.exists()


def test_only_superusers_reach_the_add_page(cluster, make_user):
    browser = logged_in(make_user(role="admin", cluster=cluster))
    assert browser.get("/clusters/add/").status_code == 403


def test_the_cluster_page_hides_what_the_user_may_not_do(cluster, make_user):
    viewer_page = logged_in(make_user(role="viewer", cluster=cluster)).get("/clusters/offline/")
    admin_page = logged_in(make_user(role="admin", cluster=cluster)).get("/clusters/offline/")
    assert viewer_page.status_code == admin_page.status_code == 200
    assert b"Test connection" not in viewer_page.content
    assert b"/clusters/offline/remove/" not in viewer_page.content
    assert b"Test connection" in admin_page.content
    assert b"/clusters/offline/remove/" in admin_page.content


@pytest.mark.parametrize(("role", "status"), [("operator", 403), ("admin", 302)])
def test_editing_a_cluster_on_the_page_needs_admin_and_is_audited(cluster, make_user, role, status):
    browser = logged_in(make_user(role=role, cluster=cluster))
    response = browser.post("/clusters/offline/edit/", {"display_name": "Renamed"})
    assert response.status_code == status
    event = AuditEvent.objects.get(kind="cluster", verb="update")
    assert event.status == ("refused" if status == 403 else "succeeded")


def test_removing_a_cluster_on_the_page(cluster, make_user):
    browser = logged_in(make_user(role="admin", cluster=cluster))
    assert browser.get("/clusters/offline/remove/").status_code == 200
    assert browser.post("/clusters/offline/remove/").status_code == 302
    assert not Cluster.objects.exists()


def test_an_api_token_is_shown_once(make_user):
    user = make_user()
    browser = logged_in(user)
    created = browser.post("/accounts/token/", {"name": "laptop", "lifetime_days": "30"})
    key = re.search(r'id="new-token"[^>]*>([^<]+)<', created.content.decode()).group(1)
    token = ApiToken.objects.get(user=user)
    assert key.startswith(f"cp_{token.prefix}_")
    again = browser.get("/accounts/token/")
    assert key not in again.content.decode()
    assert b"laptop" in again.content
    browser.post(f"/accounts/token/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked is not None


def test_admins_manage_role_grants_on_the_page(cluster, make_user):
    admin = make_user(role="admin", cluster=cluster)
    make_user("bob")
    browser = logged_in(admin)
    assert browser.get("/accounts/grants/").status_code == 200
    response = browser.post(
        "/accounts/grants/offline/", {"user": "bob", "role": "operator", "namespaces": "ml, web"}
    )
    assert response.status_code == 302
    page = browser.get("/accounts/grants/offline/").content.decode()
    assert "bob" in page
    assert "ml, web" in page
    assert browser.post("/accounts/grants/offline/bob/revoke/").status_code == 302
    assert not RoleGrant.objects.filter(user__username="bob").exists()


@pytest.mark.parametrize("role", ["viewer", "operator", "engineer"])
def test_non_admins_cannot_change_grants_and_are_audited(cluster, make_user, role):
    browser = logged_in(make_user(role=role, cluster=cluster))
    make_user("bob")
    assert browser.get("/accounts/grants/offline/").status_code == 403
    response = browser.post("/accounts/grants/offline/", {"user": "bob", "role": "admin"})
    assert response.status_code == 403
    assert AuditEvent.objects.get(kind="rolegrant").status == "refused"


def test_the_audit_page_filters_by_result(cluster, make_user, api_client_for):
    viewer = make_user("vic", role="viewer", cluster=cluster)
    api_client_for(viewer).post(
        "/api/v1/clusters/offline/namespaces/ml/deployments/web/scale/",
        {"replicas": 2},
        format="json",
    )
    admin = make_user("ada", role="admin", cluster=cluster)
    browser = logged_in(admin)
    browser.post("/clusters/offline/edit/", {"display_name": "Renamed"})
    page = browser.get("/audit/?status=refused").content.decode()
    assert "scale deployment web" in page
    assert "update cluster" not in page
    everything = browser.get("/audit/").content.decode()
    assert "update cluster" in everything
    bad = browser.get("/audit/?since=notadate").content.decode()
    assert "since:" in bad


def test_the_audit_page_accepts_the_date_pickers_times_as_utc(cluster, make_user):
    browser = logged_in(make_user(role="admin", cluster=cluster))
    browser.post("/clusters/offline/edit/", {"display_name": "Renamed"})
    assert "update cluster" in browser.get("/audit/?since=2000-01-01T00:00").content.decode()
    assert "update cluster" not in browser.get("/audit/?since=2999-01-01T00:00").content.decode()
    assert "until:" in browser.get("/audit/?until=2026-13-45T99:00").content.decode()


def test_a_kubeconfig_file_upload_is_previewed_and_oversized_files_refused(make_user, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    browser = logged_in(make_user("root", superuser=True))
    upload = SimpleUploadedFile("config", kubeconfig_text().encode())
    preview = browser.post("/clusters/add/", {"file": upload})
    assert "https://127.0.0.1:1" in preview.content.decode()
    settings.KUBECONFIG_MAX_BYTES = 100
    big = SimpleUploadedFile("config", kubeconfig_text().encode())
    refused = browser.post("/clusters/add/", {"file": big}).content.decode()
    assert "the limit is 100" in refused
    assert "Check where this kubeconfig points" not in refused


def test_saving_a_cluster_as_a_non_superuser_is_refused_and_audited(cluster, make_user):
    browser = logged_in(make_user(role="admin", cluster=cluster))
    response = browser.post("/clusters/add/other/", {"source": "sandbox", "name": "mine"})
    assert response.status_code == 403
    event = AuditEvent.objects.get(verb="create")
    assert (event.status, event.name) == ("refused", "mine")


def test_refusals_and_missing_pages_explain_themselves_inside_the_layout(
    cluster, make_user, settings
):
    settings.DEBUG = False
    browser = logged_in(make_user(role="viewer", cluster=cluster))
    refused = browser.get("/clusters/offline/edit/")
    assert refused.status_code == 403
    assert b"Only admins of this cluster may edit it." in refused.content
    assert b'class="mainnav"' in refused.content
    hidden = browser.get("/c/elsewhere/")
    assert hidden.status_code == 404
    assert b"No cluster named &#x27;elsewhere&#x27;" in hidden.content
    nowhere = browser.get("/no/such/page/")
    assert nowhere.status_code == 404
    assert b"There is nothing at this address" in nowhere.content
    assert b"Resolver404" not in nowhere.content


def test_people_without_clusters_are_told_what_to_do(make_user):
    nobody = logged_in(make_user()).get("/").content.decode()
    assert "Ask an administrator to grant you a role on a cluster." in nobody
    root = logged_in(make_user(superuser=True)).get("/").content.decode()
    assert 'href="/clusters/add/">Register a cluster</a>' in root


def test_every_pages_title_is_plain_text(client, make_user, cluster):
    import re

    client.force_login(make_user(superuser=True))
    for url in ("/", "/clusters/", "/audit/", "/accounts/grants/offline/", "/accounts/users/"):
        response = client.get(url, follow=True)
        title = re.search(r"<title>(.*?)</title>", response.content.decode(), re.S)
        assert title is not None, url
        assert "<" not in title.group(1), (url, title.group(1)[:200])
