"""Single sign-on with OpenID Connect, against a real provider (node-oidc-provider in its own
process): the code flow with PKCE, state and nonce; users matched by subject; roles from the
provider's groups recomputed at every sign-in; refusals audited; no secret anywhere."""

import base64
import json
import logging
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from controlplane.accounts.models import ExternalIdentity, GroupMapping, RoleGrant
from controlplane.accounts.oidc import SsoFailure, id_token_verify, oidc_config
from controlplane.accounts.services import sso_grants_sync
from controlplane.audit.models import AuditEvent
from controlplane.clusters.models import Cluster
from sandbox.testing import free_port
from tests.oidc.provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    OidcProvider,
)

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/accounts/sso/callback/"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    provider = OidcProvider(
        port=free_port(), redirect_uris=[CALLBACK], workdir=tmp_path_factory.mktemp("oidc")
    )
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def provider(oidc_provider, settings):
    """The provider with no accounts yet, and the control plane configured to use it."""
    oidc_provider.accounts.clear()
    oidc_provider.set_account("alice", groups=["ml-engineers"])
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_SCOPES = "openid profile email groups"
    return oidc_provider


@pytest.fixture
def cluster():
    return Cluster.objects.create(name="offline", server="https://127.0.0.1:1", source="kubeconfig")


@pytest.fixture
def other_cluster():
    return Cluster.objects.create(name="other", server="https://127.0.0.1:2", source="kubeconfig")


def start(browser: Client) -> str:
    """Press "Sign in with …": the provider's authorization URL."""
    response = browser.get("/accounts/sso/login/")
    assert response.status_code == 302, response.content
    return response["Location"]


def answer(url: str) -> dict[str, str]:
    """What the provider sent back in the redirect's fragment (code, state, iss or error)."""
    assert url.startswith(CALLBACK), url
    return {key: values[0] for key, values in parse_qs(urlsplit(url).fragment).items()}


def callback(browser: Client, url: str, **changes):
    """Do what the browser does with the provider's redirect: load the callback page (the
    fragment stays in the browser) and post the fragment's fields as its script does."""
    page = browser.get("/accounts/sso/callback/")
    assert page.status_code == 200
    assert "accounts/sso_callback.js" in page.content.decode()
    fields = {"code": "", "state": "", "iss": "", "error": "", **answer(url), **changes}
    return browser.post("/accounts/sso/callback/", fields)


def sign_in(provider, login: str, browser: Client | None = None):
    browser = browser or Client()
    back = provider.sign_in(start(browser), login=login)
    return browser, callback(browser, back)


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def logged_in_user(browser: Client):
    user_id = browser.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id) if user_id else None


def sso_logins():
    return AuditEvent.objects.filter(kind="user", verb="login", parameters__method="sso")


def audit_text() -> str:
    rows = AuditEvent.objects.values("parameters", "error", "result", "name", "actor_name")
    return json.dumps(list(rows), default=str)


def grants_of(username: str) -> dict[str, tuple]:
    return {
        grant.cluster.name: (grant.role, grant.namespaces, grant.source)
        for grant in RoleGrant.objects.filter(user__username=username).select_related("cluster")
    }


# --- The login page ---------------------------------------------------------------------------


def test_the_login_page_offers_the_provider_only_when_sso_is_configured(settings, client):
    settings.OIDC_ISSUER = ""
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in page
    settings.OIDC_ISSUER = "http://127.0.0.1:1"
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Acme Login"
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Acme Login" in page
    assert 'name="password"' in page  # local accounts stay (break-glass)
    assert CLIENT_SECRET not in page


def test_the_sso_button_keeps_the_page_asked_for(provider):
    page = Client().get("/accounts/login/?next=/audit/%3Fpage%3D2").content.decode()
    assert 'href="/accounts/sso/login/?next=/audit/%3Fpage%3D2"' in page


def test_local_login_still_works_with_sso_configured(provider, make_user):
    make_user("breakglass", superuser=True)
    browser = Client()
    response = browser.post("/accounts/login/", {"username": "breakglass", "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_user(browser).username == "breakglass"


# --- The code flow ----------------------------------------------------------------------------


def test_a_full_code_flow_logs_in_and_creates_the_user_with_the_mapped_roles(
    provider, cluster, other_cluster
):
    GroupMapping.objects.create(group="ml-engineers", cluster=cluster, role="engineer")
    GroupMapping.objects.create(
        group="ml-engineers", cluster=other_cluster, role="viewer", namespaces=["serving"]
    )
    GroupMapping.objects.create(group="platform", cluster=cluster, role="admin")
    browser = Client()
    authorize = start(browser)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(provider.issuer)
    assert query["client_id"] == [CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["code_challenge"][0]
    assert "openid" in query["scope"][0].split()
    assert query["response_mode"] == ["fragment"]  # the code never rides in a logged URL

    back = provider.sign_in(authorize, login="alice")
    response = callback(browser, back)

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = logged_in_user(browser)
    assert user.username == "alice"
    assert user.email == "alice@example.org"
    assert not user.has_usable_password()
    identity = ExternalIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (provider.issuer, "alice")
    assert identity.groups == ["ml-engineers"]
    assert grants_of("alice") == {
        "offline": ("engineer", [], "group"),
        "other": ("viewer", ["serving"], "group"),
    }
    login = sso_logins().get()
    assert (login.status, login.actor, login.name) == ("succeeded", user, "alice")
    assert login.parameters["issuer"] == provider.issuer
    assert login.result["roles"] == {"offline": "engineer", "other": "viewer"}
    assert AuditEvent.objects.get(kind="user", verb="create").name == "alice"
    assert browser.get("/accounts/login/").status_code == 302  # signed in


def test_an_answer_in_the_query_string_is_accepted_too(provider):
    browser = Client()
    back = provider.sign_in(start(browser), login="alice")
    response = browser.get(f"/accounts/sso/callback/?{urlencode(answer(back))}")
    assert response.status_code == 302
    assert logged_in_user(browser).username == "alice"


def test_the_user_comes_back_to_the_page_they_asked_for(provider):
    browser = Client()
    response = browser.get("/accounts/sso/login/", {"next": "/audit/"})
    back = provider.sign_in(response["Location"], login="alice")
    assert callback(browser, back)["Location"] == "/audit/"
    browser = Client()
    response = browser.get("/accounts/sso/login/", {"next": "https://evil.example/"})
    back = provider.sign_in(response["Location"], login="alice")
    assert callback(browser, back)["Location"] == "/"


def test_groups_changed_at_the_provider_change_the_roles_at_the_next_login(
    provider, cluster, other_cluster
):
    GroupMapping.objects.create(group="ml-engineers", cluster=cluster, role="engineer")
    GroupMapping.objects.create(group="oncall", cluster=other_cluster, role="operator")
    sign_in(provider, "alice")
    assert grants_of("alice") == {"offline": ("engineer", [], "group")}

    provider.set_account("alice", groups=["oncall"])
    _, response = sign_in(provider, "alice")
    assert response.status_code == 302
    assert grants_of("alice") == {"other": ("operator", [], "group")}
    revoked = AuditEvent.objects.get(kind="rolegrant", verb="revoke")
    assert (revoked.cluster, revoked.name, revoked.parameters["source"]) == (
        cluster,
        "alice",
        "group",
    )

    provider.set_account("alice", groups=[])
    sign_in(provider, "alice")
    assert grants_of("alice") == {}
    assert get_user_model().objects.filter(username="alice").count() == 1


def test_a_grant_given_by_hand_is_kept_and_takes_precedence_at_each_sso_login(
    provider, cluster, other_cluster, make_user
):
    GroupMapping.objects.create(group="ml-engineers", cluster=cluster, role="admin")
    GroupMapping.objects.create(group="ml-engineers", cluster=other_cluster, role="viewer")
    sign_in(provider, "alice")
    root = make_user("root", superuser=True)
    api = APIClient()
    api.force_login(root)
    given = api.post(
        "/api/v1/clusters/offline/grants/", {"user": "alice", "role": "operator"}, format="json"
    )
    assert given.status_code == 201
    assert given.json()["source"] == "manual"

    provider.set_account("alice", groups=[])
    sign_in(provider, "alice")
    assert grants_of("alice") == {"offline": ("operator", [], "manual")}


def test_users_are_matched_by_subject_and_never_take_over_a_local_account(provider, make_user):
    local = make_user("alice")
    browser, _ = sign_in(provider, "alice")
    created = logged_in_user(browser)
    assert created != local
    assert created.username == "alice-2"

    provider.set_account("alice", groups=[], preferred_username="alice.renamed")
    browser, _ = sign_in(provider, "alice")
    assert logged_in_user(browser) == created
    provider.set_account("bob", groups=[], preferred_username="", email="Bob@Example.org")
    browser, _ = sign_in(provider, "bob")
    assert logged_in_user(browser).username == "Bob@Example.org"


def test_a_deactivated_user_stays_refused_and_it_is_audited(provider, make_user):
    browser, _ = sign_in(provider, "alice")
    user = logged_in_user(browser)
    user.is_active = False
    user.save()

    browser, response = sign_in(provider, "alice")
    assert response.status_code == 403
    assert "deactivated user" in response.content.decode()
    assert logged_in_user(browser) is None
    refused = sso_logins().get(status="refused")
    assert refused.name == "alice"
    assert refused.error == "single sign-on refused: deactivated user: alice is deactivated"


# --- Refusals ---------------------------------------------------------------------------------


def test_a_tampered_state_is_refused_and_audited(provider):
    browser = Client()
    back = provider.sign_in(start(browser), login="alice")
    response = callback(browser, back, state="forged-state")
    assert response.status_code == 403
    assert logged_in_user(browser) is None
    failed = sso_logins().get()
    assert failed.status == "failed"
    assert failed.error.startswith("single sign-on refused: bad state")
    assert failed.actor is None


def test_a_redirect_replayed_in_another_session_or_twice_is_refused(provider):
    browser = Client()
    back = provider.sign_in(start(browser), login="alice")
    assert callback(Client(), back).status_code == 403  # someone else's browser
    assert callback(browser, back).status_code == 302
    browser.logout()
    assert callback(browser, back).status_code == 403  # the state is used up
    assert [e.error.split(":")[1].strip() for e in sso_logins().filter(status="failed")] == [
        "bad state",
        "bad state",
    ]


def test_a_code_issued_to_another_client_is_refused_and_audited(provider):
    browser = Client()
    authorize = with_query(start(browser), client_id=OTHER_CLIENT_ID)
    back = provider.sign_in(authorize, login="alice")
    response = callback(browser, back)
    assert response.status_code == 403
    assert logged_in_user(browser) is None
    failed = sso_logins().get()
    assert failed.error.startswith("single sign-on refused: invalid token")
    assert "invalid_grant" in failed.error


def test_an_id_token_for_another_audience_is_refused(provider):
    token = provider.token_for(
        client_id=OTHER_CLIENT_ID,
        client_secret=OTHER_CLIENT_SECRET,
        redirect_uri=CALLBACK,
        login="alice",
        nonce="the-nonce",
    )
    with pytest.raises(SsoFailure) as refused:
        id_token_verify(config=oidc_config(), token=token, nonce="the-nonce")
    assert refused.value.reason == "invalid token"
    assert "aud" in refused.value.detail


def test_an_id_token_with_changed_claims_fails_its_signature_check(provider):
    token = provider.token_for(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=CALLBACK,
        login="alice",
        nonce="the-nonce",
    )
    assert id_token_verify(config=oidc_config(), token=token, nonce="the-nonce")["sub"] == "alice"
    with pytest.raises(SsoFailure) as wrong_nonce:
        id_token_verify(config=oidc_config(), token=token, nonce="another-nonce")
    assert (wrong_nonce.value.reason, wrong_nonce.value.detail) == (
        "invalid token",
        "invalid_claim: nonce",
    )
    header, payload, signature = token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["platform-admins"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(SsoFailure) as refused:
        id_token_verify(
            config=oidc_config(),
            token={**token, "id_token": f"{header}.{forged}.{signature}"},
            nonce="the-nonce",
        )
    assert (refused.value.reason, refused.value.detail) == ("invalid token", "bad_signature")


def test_a_redirect_naming_another_issuer_is_refused_as_unknown_issuer(provider):
    browser = Client()
    back = provider.sign_in(start(browser), login="alice")
    response = callback(browser, back, iss="http://evil.example")
    assert response.status_code == 403
    assert sso_logins().get().error.startswith("single sign-on refused: unknown issuer")


def test_a_provider_whose_discovery_names_another_issuer_is_refused(provider, settings):
    settings.OIDC_ISSUER = provider.issuer.replace("127.0.0.1", "localhost")
    response = Client().get("/accounts/sso/login/")
    assert response.status_code == 503
    failed = sso_logins().get()
    assert failed.error == (
        "single sign-on refused: unknown issuer: the discovery document names another issuer"
    )


def test_no_secret_reaches_a_log_line_the_audit_log_or_a_page(provider, cluster, make_user, caplog):
    caplog.set_level(logging.DEBUG)
    GroupMapping.objects.create(group="ml-engineers", cluster=cluster, role="admin")
    browser = Client()
    login_page = browser.get("/accounts/login/").content.decode()
    authorize = start(browser)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    verifier = browser.session[f"_state_oidc_{state}"]["data"]["code_verifier"]
    back = provider.sign_in(authorize, login="alice")
    code = answer(back)["code"]
    response = callback(browser, back)
    assert response.status_code == 302
    pages = login_page + browser.get("/accounts/grants/offline/").content.decode()
    # and a refused one, whose reason is shown
    refused = callback(browser, back).content.decode()
    secrets = [CLIENT_SECRET, code, verifier]
    for place, text in [("logs", caplog.text), ("audit", audit_text()), ("pages", pages + refused)]:
        for secret in secrets:
            assert secret not in text, f"a secret reached the {place}"
        assert "eyJ" not in text, f"a JWT reached the {place}"  # ID or access token


# --- Group mappings: API and page ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(None, False), ("viewer", False), ("operator", False), ("engineer", False), ("admin", True)],
)
def test_only_cluster_admins_see_and_change_group_mappings_over_the_api(
    cluster, make_user, api_client_for, role, allowed
):
    existing = GroupMapping.objects.create(group="old", cluster=cluster, role="viewer")
    api = api_client_for(make_user(role=role, cluster=cluster))
    url = "/api/v1/clusters/offline/group-mappings/"
    listed = api.get(url)
    created = api.post(
        url,
        {"group": "ml-engineers", "role": "engineer", "namespaces": ["serving"]},
        format="json",
    )
    deleted = api.delete(f"{url}{existing.pk}/")
    if allowed:
        assert listed.status_code == 200
        assert listed.json()[0]["group"] == "old"
        assert created.status_code == 201
        assert created.json()["namespaces"] == ["serving"]
        assert deleted.status_code == 204
        assert list(GroupMapping.objects.values_list("group", "role")) == [
            ("ml-engineers", "engineer")
        ]
        audited = AuditEvent.objects.filter(kind="groupmapping", status="succeeded")
        assert sorted(audited.values_list("verb", flat=True)) == ["create", "delete"]
        return
    expected = 404 if role is None else 403  # no role: the cluster is not even visible
    assert (listed.status_code, created.status_code, deleted.status_code) == (expected,) * 3
    assert list(GroupMapping.objects.values_list("group", flat=True)) == ["old"]
    if role is not None:
        refused = AuditEvent.objects.filter(kind="groupmapping", status="refused")
        assert sorted(refused.values_list("verb", flat=True)) == ["create", "delete"]


def test_superusers_manage_group_mappings_and_bad_input_is_refused_and_audited(
    cluster, make_user, api_client_for
):
    api = api_client_for(make_user("root", superuser=True))
    url = "/api/v1/clusters/offline/group-mappings/"
    assert api.post(url, {"group": "g", "role": "emperor"}, format="json").status_code == 400
    bad_ns = api.post(
        url, {"group": "g", "role": "viewer", "namespaces": ["Bad_NS"]}, format="json"
    )
    assert bad_ns.status_code == 400
    assert "namespaces" in bad_ns.json()
    assert api.post(url, {"group": "g", "role": "viewer"}, format="json").status_code == 201
    duplicate = api.post(url, {"group": "g", "role": "viewer"}, format="json")
    assert duplicate.status_code == 400
    failed = AuditEvent.objects.filter(kind="groupmapping", verb="create", status="failed")
    assert failed.count() == 3
    assert api.delete(f"{url}999999/").status_code == 404


def test_admins_manage_group_mappings_on_the_role_grants_page(cluster, make_user):
    admin = make_user(role="admin", cluster=cluster)
    browser = Client()
    browser.force_login(admin)
    page = browser.get("/accounts/grants/offline/")
    assert page.status_code == 200
    assert "Roles from single sign-on groups" in page.content.decode()
    created = browser.post(
        "/accounts/grants/offline/group-mappings/",
        {"mapping-group": "ml-engineers", "mapping-role": "operator", "mapping-namespaces": "ml"},
    )
    assert created.status_code == 302
    mapping = GroupMapping.objects.get()
    assert (mapping.group, mapping.role, mapping.namespaces) == ("ml-engineers", "operator", ["ml"])
    assert "ml-engineers" in browser.get("/accounts/grants/offline/").content.decode()
    invalid = browser.post(
        "/accounts/grants/offline/group-mappings/",
        {"mapping-group": "x", "mapping-role": "operator", "mapping-namespaces": "Not Valid"},
    )
    assert invalid.status_code == 400
    assert "Not a valid namespace name" in invalid.content.decode()
    removed = browser.post(f"/accounts/grants/offline/group-mappings/{mapping.pk}/delete/")
    assert removed.status_code == 302
    assert not GroupMapping.objects.exists()


def test_the_page_refuses_and_audits_mapping_changes_by_non_admins(cluster, make_user):
    mapping = GroupMapping.objects.create(group="old", cluster=cluster, role="viewer")
    browser = Client()
    browser.force_login(make_user(role="engineer", cluster=cluster))
    created = browser.post(
        "/accounts/grants/offline/group-mappings/",
        {"mapping-group": "mine", "mapping-role": "admin"},
    )
    deleted = browser.post(f"/accounts/grants/offline/group-mappings/{mapping.pk}/delete/")
    assert (created.status_code, deleted.status_code) == (403, 403)
    assert list(GroupMapping.objects.values_list("group", flat=True)) == ["old"]
    refused = AuditEvent.objects.filter(kind="groupmapping", status="refused")
    assert sorted(refused.values_list("verb", flat=True)) == ["create", "delete"]


# --- The mapping rule -------------------------------------------------------------------------


def test_the_strongest_mapped_role_wins_with_the_union_of_its_namespaces(
    cluster, other_cluster, make_user
):
    user = make_user("carol")
    GroupMapping.objects.create(group="a", cluster=cluster, role="viewer")
    GroupMapping.objects.create(group="b", cluster=cluster, role="engineer", namespaces=["ml"])
    GroupMapping.objects.create(group="c", cluster=cluster, role="engineer", namespaces=["ab"])
    GroupMapping.objects.create(group="a", cluster=other_cluster, role="operator")
    GroupMapping.objects.create(
        group="b", cluster=other_cluster, role="operator", namespaces=["ml"]
    )
    roles = sso_grants_sync(user=user, groups=["a", "b", "c", "unmapped"])
    assert roles == {"offline": "engineer", "other": "operator"}
    assert grants_of("carol") == {
        "offline": ("engineer", ["ab", "ml"], "group"),
        "other": ("operator", [], "group"),  # one of them is cluster-wide
    }
    grant = AuditEvent.objects.get(kind="rolegrant", verb="grant", cluster=cluster)
    assert grant.parameters["groups"] == ["b", "c"]
    assert grant.actor is None
