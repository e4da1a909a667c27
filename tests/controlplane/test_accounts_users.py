"""Users: created and deactivated by superusers and cluster admins (pages, API, manage.py),
with a one-time link to set the password; every change audited, no secret in the audit."""

import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from controlplane.accounts.models import RoleGrant
from controlplane.accounts.signals import user_deactivated
from controlplane.audit.models import AuditEvent
from controlplane.clusters.models import Cluster

pytestmark = pytest.mark.django_db

PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture
def cluster():
    return Cluster.objects.create(name="offline", server="https://127.0.0.1:1", source="kubeconfig")


@pytest.fixture
def other_cluster():
    return Cluster.objects.create(name="other", server="https://127.0.0.1:2", source="kubeconfig")


@pytest.fixture
def root(make_user):
    return make_user("root", superuser=True)


def session_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def link_path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def audit_text() -> str:
    rows = AuditEvent.objects.values("parameters", "error", "result", "name")
    return json.dumps(list(rows), default=str)


def test_a_superuser_creates_a_user_with_a_role_over_the_api(root, cluster):
    response = session_for(root).post(
        "/api/v1/users/",
        {
            "username": "dana",
            "email": "dana@example.com",
            "cluster": "offline",
            "role": "operator",
            "namespaces": ["ml"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "dana"
    assert body["roles"] == [{"cluster": "offline", "role": "operator", "namespaces": ["ml"]}]
    assert body["password_link"].startswith("http://testserver/accounts/set-password/")
    user = get_user_model().objects.get(username="dana")
    assert not user.has_usable_password()
    assert RoleGrant.objects.get(user=user).role == "operator"
    created = AuditEvent.objects.get(kind="user", verb="create")
    assert (created.status, created.actor, created.name) == ("succeeded", root, "dana")
    assert AuditEvent.objects.get(kind="rolegrant", verb="grant").cluster == cluster
    token = body["password_link"].rstrip("/").rsplit("/", 1)[1]
    assert token not in audit_text()


def test_the_one_time_link_sets_the_password_once_and_then_the_user_logs_in(root):
    url = (
        session_for(root)
        .post("/api/v1/users/", {"username": "erin"}, format="json")
        .json()["password_link"]
    )
    browser = Client()
    redirect = browser.get(link_path(url))
    assert redirect.status_code == 302  # the token moves into the session, out of the URL
    form_url = redirect["Location"]
    assert "set-password" in form_url
    assert b"Set your password" in browser.get(form_url).content
    done = browser.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/login/"
    assert Client().login(username="erin", password=PASSWORD)
    assert AuditEvent.objects.get(kind="user", verb="set_password").actor.username == "erin"
    again = Client().get(link_path(url), follow=True)
    assert b"This link no longer works" in again.content


def test_a_link_for_a_deactivated_user_does_not_work(root, make_user):
    url = (
        session_for(root)
        .post("/api/v1/users/", {"username": "fay"}, format="json")
        .json()["password_link"]
    )
    get_user_model().objects.filter(username="fay").update(is_active=False)
    assert b"This link no longer works" in Client().get(link_path(url), follow=True).content


def test_a_cluster_admin_creates_users_only_with_roles_on_clusters_they_administer(
    make_user, cluster, other_cluster
):
    admin = make_user("ada", role="admin", cluster=cluster)
    api = session_for(admin)
    ok = api.post(
        "/api/v1/users/", {"username": "gus", "cluster": "offline", "role": "viewer"}, format="json"
    )
    assert ok.status_code == 201, ok.content
    make_user("watcher", role="viewer", cluster=other_cluster)
    refused = api.post(
        "/api/v1/users/", {"username": "hal", "cluster": "other", "role": "viewer"}, format="json"
    )
    assert refused.status_code == 400  # a cluster the admin cannot see is "no such cluster"
    assert refused.json()["cluster"]
    RoleGrant.objects.create(user=admin, cluster=other_cluster, role="viewer")
    refused = api.post(
        "/api/v1/users/", {"username": "hal", "cluster": "other", "role": "viewer"}, format="json"
    )
    assert refused.status_code == 403
    assert not get_user_model().objects.filter(username="hal").exists()
    event = AuditEvent.objects.get(kind="user", name="hal")
    assert event.status == "refused"


@pytest.mark.parametrize("role", ["viewer", "operator", "engineer"])
def test_people_who_administer_no_cluster_cannot_see_or_create_users(make_user, cluster, role):
    api = session_for(make_user(role=role, cluster=cluster))
    assert api.get("/api/v1/users/").status_code == 403
    assert api.post("/api/v1/users/", {"username": "ivy"}, format="json").status_code == 403
    assert AuditEvent.objects.get(kind="user", verb="create").status == "refused"
    assert Client().get("/accounts/users/").status_code == 302  # anonymous: to the login page


def test_a_namespace_narrowed_admin_does_not_manage_users(make_user, cluster):
    api = session_for(make_user(role="admin", cluster=cluster, namespaces=["ml"]))
    assert api.get("/api/v1/users/").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "root"}, "username"),
        ({"username": "ROOT"}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"username": ""}, "username"),
        ({"username": "jo", "email": "not-an-email"}, "email"),
        ({"username": "jo", "cluster": "offline"}, "role"),
        ({"username": "jo", "role": "viewer"}, "cluster"),
        ({"username": "jo", "cluster": "offline", "role": "owner"}, "role"),
        (
            {"username": "jo", "cluster": "offline", "role": "viewer", "namespaces": ["Bad_NS"]},
            "namespaces",
        ),
    ],
)
def test_invalid_new_users_are_refused_with_400_naming_the_field(root, cluster, body, field):
    response = session_for(root).post("/api/v1/users/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert get_user_model().objects.count() == 1


def test_deactivating_ends_sessions_and_tokens_and_tells_subscribers(
    root, make_user, api_client_for, cluster, django_capture_on_commit_callbacks
):
    kim = make_user("kim", role="viewer", cluster=cluster)
    kims_browser = Client()
    kims_browser.force_login(kim)
    kims_api = api_client_for(kim)
    assert kims_api.get("/api/v1/clusters/").status_code == 200
    heard = []

    def receiver(sender, user_id, username, **kwargs):
        heard.append((user_id, username))

    user_deactivated.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = session_for(root).patch(
                "/api/v1/users/kim/", {"is_active": False}, format="json"
            )
    finally:
        user_deactivated.disconnect(receiver)
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    assert heard == [(kim.pk, "kim")]
    assert not [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(kim.pk)
    ]
    assert kims_browser.get("/clusters/").status_code == 302
    assert kims_api.get("/api/v1/clusters/").status_code == 401
    event = AuditEvent.objects.get(kind="user", verb="deactivate")
    assert event.result == {"sessions_ended": 1, "api_tokens_revoked": 1}
    assert not Client().login(username="kim", password="correct-horse-battery-staple")

    back = session_for(root).patch("/api/v1/users/kim/", {"is_active": True}, format="json")
    assert back.json()["is_active"] is True
    assert Client().login(username="kim", password="correct-horse-battery-staple")
    assert kims_api.get("/api/v1/clusters/").status_code == 401  # old tokens stay revoked
    assert AuditEvent.objects.filter(kind="user", verb="reactivate", status="succeeded").exists()


def test_a_patch_without_is_active_is_a_400_naming_it(root, make_user):
    make_user("lee")
    response = session_for(root).patch("/api/v1/users/lee/", {}, format="json")
    assert response.status_code == 400
    assert "is_active" in response.json()


def test_cluster_admins_deactivate_only_people_within_their_reach(
    make_user, cluster, other_cluster, root
):
    admin = make_user("ada", role="admin", cluster=cluster)
    make_user("mo", role="viewer", cluster=cluster)
    make_user("ned", role="viewer", cluster=other_cluster)
    api = session_for(admin)
    assert api.patch("/api/v1/users/mo/", {"is_active": False}, format="json").status_code == 200
    for username in ("ned", "root", "ada"):
        response = api.patch(f"/api/v1/users/{username}/", {"is_active": False}, format="json")
        assert response.status_code == 403, username
        assert get_user_model().objects.get(username=username).is_active
    refusals = AuditEvent.objects.filter(kind="user", verb="deactivate", status="refused")
    assert refusals.count() == 3
    # Roles on clusters the admin does not administer are not shown to them.
    listed = {u["username"]: u["roles"] for u in api.get("/api/v1/users/").json()}
    assert listed["ned"] == []
    assert listed["mo"] == [{"cluster": "offline", "role": "viewer", "namespaces": []}]


def test_an_unknown_user_is_a_404(root):
    assert session_for(root).get("/api/v1/users/nobody/").status_code == 404


def test_admins_issue_a_new_password_link(root, make_user):
    make_user("ola")
    response = session_for(root).post("/api/v1/users/ola/password-link/")
    assert response.status_code == 201
    browser = Client()
    form_url = browser.get(link_path(response.json()["password_link"]))["Location"]
    browser.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert Client().login(username="ola", password=PASSWORD)
    assert AuditEvent.objects.get(kind="user", verb="password_link").status == "succeeded"


def test_the_users_page_creates_a_user_and_shows_the_link_once(make_user, cluster):
    admin = make_user("ada", role="admin", cluster=cluster)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    page = browser.get("/accounts/users/")
    assert page.status_code == 200
    assert b"ada" in page.content
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    created = browser.post(
        "/accounts/users/",
        {
            "csrfmiddlewaretoken": csrf,
            "username": "pat",
            "email": "",
            "cluster": "offline",
            "role": "engineer",
            "namespaces": "ml",
        },
    )
    assert created.status_code == 201
    link = re.search(r'id="password-link"[^>]*>([^<]+)<', created.content.decode()).group(1)
    assert "/accounts/set-password/" in link
    listing = browser.get("/accounts/users/").content.decode()
    assert "engineer on offline (ml)" in listing
    assert link not in listing
    assert link not in browser.get("/accounts/users/pat/").content.decode()


def test_the_users_page_shows_form_errors(root):
    browser = Client()
    browser.force_login(root)
    response = browser.post("/accounts/users/", {"username": "root", "role": "", "cluster": ""})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_deactivating_on_the_page_asks_first_and_needs_csrf(root, make_user):
    make_user("quinn")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(root)
    confirm = browser.get("/accounts/users/quinn/deactivate/")
    assert b"Deactivate quinn?" in confirm.content
    assert browser.post("/accounts/users/quinn/deactivate/").status_code == 403  # no CSRF token
    assert get_user_model().objects.get(username="quinn").is_active
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', confirm.content).group(1)
    done = browser.post("/accounts/users/quinn/deactivate/", {"csrfmiddlewaretoken": csrf.decode()})
    assert done.status_code == 302
    assert not get_user_model().objects.get(username="quinn").is_active
    assert b"deactivated" in browser.get("/accounts/users/").content
    browser.post("/accounts/users/quinn/reactivate/", {"csrfmiddlewaretoken": csrf.decode()})
    assert get_user_model().objects.get(username="quinn").is_active


def test_the_grants_page_points_to_creating_an_unknown_user(make_user, cluster):
    browser = Client()
    browser.force_login(make_user("ada", role="admin", cluster=cluster))
    page = browser.post("/accounts/grants/offline/", {"user": "ghost", "role": "viewer"})
    text = page.content.decode()
    assert "No user named &#x27;ghost&#x27;: create the user first" in text
    assert 'href="/accounts/users/"' in text


def test_the_management_command_creates_a_user_with_a_role_and_prints_the_link(cluster):
    out = io.StringIO()
    call_command(
        "user_create",
        "rae",
        "--cluster",
        "offline",
        "--role",
        "operator",
        "--namespace",
        "ml",
        "--namespace",
        "web",
        "--base-url",
        "https://cp.example.com/",
        stdout=out,
    )
    text = out.getvalue()
    assert "Created user rae (operator on offline in ml, web)." in text
    link = re.search(r"https://cp\.example\.com/accounts/set-password/\S+", text).group(0)
    browser = Client()
    form_url = browser.get(link_path(link))["Location"]
    browser.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert Client().login(username="rae", password=PASSWORD)
    grant = RoleGrant.objects.get(user__username="rae")
    assert (grant.role, grant.namespaces) == ("operator", ["ml", "web"])
    event = AuditEvent.objects.get(kind="user", verb="create")
    assert (event.actor, event.actor_label) == (None, "system")


def test_the_management_command_takes_a_password_on_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    out = io.StringIO()
    call_command("user_create", "sam", "--password-stdin", stdout=out)
    assert "set-password" not in out.getvalue()
    assert Client().login(username="sam", password=PASSWORD)
    assert PASSWORD not in audit_text()


def test_the_management_command_refuses_a_weak_password_or_a_half_grant(monkeypatch, cluster):
    from django.core.management.base import CommandError

    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError, match="password"):
        call_command("user_create", "tia", "--password-stdin")
    with pytest.raises(CommandError, match="--cluster and --role"):
        call_command("user_create", "tia", "--cluster", "offline")
    with pytest.raises(CommandError, match="no cluster named"):
        call_command("user_create", "tia", "--cluster", "nope", "--role", "viewer")
    assert not get_user_model().objects.filter(username="tia").exists()


def test_the_schema_describes_the_users_api(root):
    schema = session_for(root).get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/users/" in schema["paths"]
    post = schema["paths"]["/api/v1/users/"]["post"]
    assert "201" in post["responses"]
    assert "UserCreate" in json.dumps(post["requestBody"])
