"""API tokens: stored as digests, named, expiring, listed and revoked by their owner and by
whoever manages the owner; the key is shown once; `drf_create_token` still prints one."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from controlplane.accounts.models import ApiToken
from controlplane.accounts.signals import api_token_revoked
from controlplane.audit.models import AuditEvent
from controlplane.clusters.models import Cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    return Cluster.objects.create(name="offline", server="https://127.0.0.1:1", source="kubeconfig")


def session_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def with_key(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def make_token(user, name="script", days=None) -> str:
    body = {"name": name} if days is None else {"name": name, "lifetime_days": days}
    response = session_for(user).post("/api/v1/tokens/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["key"]


def test_a_token_is_made_over_the_api_shown_once_and_works(make_user, cluster):
    vic = make_user("vic", role="viewer", cluster=cluster)
    response = session_for(vic).post(
        "/api/v1/tokens/", {"name": "ci", "lifetime_days": 7}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    key = body["key"]
    assert key.startswith(f"cp_{body['prefix']}_")
    assert body["state"] == "active"
    expires = ApiToken.objects.get().expires
    assert timedelta(days=6, hours=23) < expires - timezone.now() <= timedelta(days=7)
    api = with_key(key)
    assert api.get("/api/v1/clusters/").status_code == 200
    listed = api.get("/api/v1/tokens/")
    assert key not in listed.content.decode()
    assert [(t["name"], t["state"]) for t in listed.json()] == [("ci", "active")]
    assert listed.json()[0]["last_used"] is not None


def test_the_key_is_never_stored_or_audited_in_clear(make_user):
    key = make_token(make_user("wes"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        rows = cursor.fetchall()
    assert rows
    stored = " ".join(str(value) for row in rows for value in row)
    secret = key.rsplit("_", 1)[1]
    assert secret not in stored
    assert key not in stored
    events = AuditEvent.objects.filter(kind="apitoken")
    assert events.get().verb == "create"
    assert secret not in json.dumps(list(events.values("parameters", "error", "result")))


def test_an_expired_token_gets_401(make_user):
    key = make_token(make_user("xia"))
    ApiToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = with_key(key).get("/api/v1/clusters/")
    assert response.status_code == 401
    assert response.json()["detail"] == "This token has expired."
    assert response["WWW-Authenticate"] == "Token"


def test_a_revoked_token_gets_401_and_subscribers_hear_of_it(
    make_user, django_capture_on_commit_callbacks
):
    yan = make_user("yan")
    key = make_token(yan)
    token = ApiToken.objects.get()
    heard = []

    def receiver(sender, token_id, user_id, **kwargs):
        heard.append((token_id, user_id))

    api_token_revoked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert with_key(key).delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    finally:
        api_token_revoked.disconnect(receiver)
    assert heard == [(token.pk, yan.pk)]
    response = with_key(key).get("/api/v1/clusters/")
    assert response.status_code == 401
    assert response.json()["detail"] == "This token was revoked."
    assert AuditEvent.objects.get(kind="apitoken", verb="revoke").actor == yan


@pytest.mark.parametrize(
    "header",
    ["Token cp_0123456789ab_" + "x" * 43, "Token nonsense", "Token a b", "Token"],
)
def test_a_malformed_or_unknown_key_gets_401(db, header):
    response = APIClient().get("/api/v1/clusters/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "lifetime_days": 0}, "lifetime_days"),
        ({"name": "x", "lifetime_days": 366}, "lifetime_days"),
        ({}, "name"),
    ],
)
def test_a_bad_token_request_is_a_400_naming_the_field(make_user, body, field):
    response = session_for(make_user()).post("/api/v1/tokens/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ApiToken.objects.exists()


def test_others_cannot_see_or_revoke_my_tokens_but_my_admins_can(make_user, cluster):
    zoe = make_user("zoe", role="viewer", cluster=cluster)
    make_token(zoe)
    token = ApiToken.objects.get()
    stranger = session_for(make_user("sam", role="engineer", cluster=cluster))
    assert stranger.delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert stranger.get("/api/v1/tokens/", {"user": "zoe"}).status_code == 403
    admin = session_for(make_user("ada", role="admin", cluster=cluster))
    listed = admin.get("/api/v1/tokens/", {"user": "zoe"}).json()
    assert [t["id"] for t in listed] == [token.pk]
    assert admin.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    token.refresh_from_db()
    assert token.state == "revoked"


def test_a_cluster_admin_cannot_touch_a_superusers_tokens(make_user, cluster):
    make_token(make_user("root", superuser=True))
    token = ApiToken.objects.get()
    admin = session_for(make_user("ada", role="admin", cluster=cluster))
    assert admin.get("/api/v1/tokens/", {"user": "root"}).status_code == 403
    assert admin.delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert ApiToken.objects.get().revoked is None


def test_the_token_page_creates_lists_and_revokes(make_user, cluster):
    from django.test import Client

    user = make_user("ann")
    browser = Client()
    browser.force_login(user)
    created = browser.post("/accounts/token/", {"name": "laptop", "lifetime_days": "7"})
    assert created.status_code == 201
    token = ApiToken.objects.get()
    page = browser.get("/accounts/token/").content.decode()
    assert "laptop" in page
    assert f"cp_{token.prefix}_…" in page
    assert 'id="new-token"' not in page
    assert browser.post(f"/accounts/token/{token.pk}/revoke/").status_code == 302
    assert "revoked" in browser.get("/accounts/token/").content.decode()
    # An admin sees and revokes a user's tokens on the user's page.
    browser.post("/accounts/token/", {"name": "second", "lifetime_days": "7"})
    second = ApiToken.objects.get(name="second")
    root = Client()
    root.force_login(make_user("root", superuser=True))
    assert "second" in root.get("/accounts/users/ann/").content.decode()
    assert root.post(f"/accounts/token/{second.pk}/revoke/")["Location"] == "/accounts/users/ann/"
    second.refresh_from_db()
    assert second.revoked is not None


def test_drf_create_token_prints_a_working_key_and_can_reset(make_user, cluster):
    make_user("cli", role="viewer", cluster=cluster)
    out = io.StringIO()
    call_command("drf_create_token", "cli", "--days", "3", stdout=out)
    first = out.getvalue().split()[2]
    assert out.getvalue().strip() == f"Generated token {first} for user cli"
    assert with_key(first).get("/api/v1/clusters/").status_code == 200
    out = io.StringIO()
    call_command("drf_create_token", "-r", "cli", stdout=out)
    second = out.getvalue().split()[2]
    assert with_key(first).get("/api/v1/clusters/").status_code == 401
    assert with_key(second).get("/api/v1/clusters/").status_code == 200
    event = AuditEvent.objects.filter(kind="apitoken", verb="create").first()
    assert event.actor is None


def test_the_schema_describes_the_tokens_api(make_user):
    schema = session_for(make_user()).get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/tokens/" in schema["paths"]
    assert "/api/v1/tokens/{token_id}/" in schema["paths"]
