"""Single sign-on hardening, against a real provider (node-oidc-provider): failed sign-ons
count toward the address lockout as failed passwords do, and logging out of an SSO session
ends the provider's session too (RP-initiated logout), after the local one."""

import base64
import json
import random
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from controlplane.accounts.sso_logout import SSO_ID_TOKEN
from controlplane.audit.models import AuditEvent
from sandbox.testing import free_port
from tests.controlplane.test_accounts_sso import (
    CALLBACK,
    OTHER_CLIENT_ID,
    PASSWORD,
    callback,
    logged_in_user,
    start,
    with_query,
)
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

pytestmark = pytest.mark.django_db

LOGIN_PAGE = "http://testserver/accounts/login/"
ELSEWHERE = "http://testserver/goodbye/"


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory):
    provider = OidcProvider(
        port=free_port(),
        redirect_uris=[CALLBACK],
        post_logout_redirect_uris=[LOGIN_PAGE, ELSEWHERE],
        workdir=tmp_path_factory.mktemp("oidc-hardening"),
    )
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def provider(oidc_provider, settings):
    oidc_provider.accounts.clear()
    oidc_provider.set_account("alice", groups=[])
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_SCOPES = "openid profile email groups"
    settings.OIDC_LOGOUT_AT_PROVIDER = True
    settings.OIDC_POST_LOGOUT_REDIRECT_URI = ""
    return oidc_provider


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURES_PER_USER = 5
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    settings.LOGIN_LOCKOUT_SECONDS = 60
    settings.LOGIN_LOCKOUT_MAX_SECONDS = 3600


def fresh_address() -> str:
    # Counters live in Redis for the whole session: each test locks out an address of its own.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def sso_audit(address: str):
    return AuditEvent.objects.filter(
        kind="user", verb="login", parameters__method="sso", parameters__address=address
    ).order_by("created")


def forged_callback(browser: Client):
    browser.get("/accounts/sso/callback/")
    return browser.post("/accounts/sso/callback/", {"code": "x", "state": "forged", "iss": ""})


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --- Failed sign-ons count toward the lockout -------------------------------------------------


def test_bad_states_lock_the_address_out_of_sso_and_passwords_alike(provider, limits, make_user):
    make_user("bob")
    address = fresh_address()
    browser = Client(REMOTE_ADDR=address)
    assert forged_callback(browser).status_code == 403
    assert forged_callback(browser).status_code == 403
    locking = forged_callback(browser)
    assert locking.status_code == 429
    assert locking["Retry-After"] == "60"
    assert "Too many failed logins for this address" in locking.content.decode()

    refused = forged_callback(browser)
    assert refused.status_code == 429
    assert browser.get("/accounts/sso/login/").status_code == 429
    password = Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": "bob", "password": PASSWORD}
    )
    assert password.status_code == 429

    rows = list(sso_audit(address))
    assert [row.status for row in rows] == ["failed", "failed", "failed", "refused", "refused"]
    assert rows[0].error.endswith("(failure 1 of 3 before a lockout)")
    assert rows[2].error.endswith("locked out for 60 s (this address)")
    assert rows[3].error == "locked out for another 60 s (this address)"
    assert all(row.actor is None and row.name == "" for row in rows)


def test_sso_failures_lock_no_username_out(provider, limits, make_user):
    make_user("carol")
    address = fresh_address()
    for _ in range(3):
        forged_callback(Client(REMOTE_ADDR=address))
    # The same person from another address: the name was never counted.
    elsewhere = Client(REMOTE_ADDR=fresh_address())
    response = elsewhere.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_user(elsewhere).username == "carol"


def test_an_error_returned_by_the_provider_counts(provider, limits):
    address = fresh_address()
    for expected in (403, 403, 429):
        browser = Client(REMOTE_ADDR=address)
        # prompt=none with no session at the provider: it answers error=login_required.
        back = provider.sign_in(with_query(start(browser), prompt="none"), login="alice")
        assert "error=login_required" in back
        assert callback(browser, back).status_code == expected
    errors = [row.error for row in sso_audit(address)]
    assert errors[0].startswith("single sign-on refused: provider error: login_required")
    assert "locked out for 60 s" in errors[-1]


def test_a_token_the_provider_refuses_to_exchange_counts(provider, limits):
    address = fresh_address()
    browser = Client(REMOTE_ADDR=address)
    back = provider.sign_in(with_query(start(browser), client_id=OTHER_CLIENT_ID), login="alice")
    assert callback(browser, back).status_code == 403
    [row] = sso_audit(address)
    assert row.error.startswith("single sign-on refused: invalid token")
    assert row.error.endswith("(failure 1 of 3 before a lockout)")


def test_an_unreachable_provider_is_audited_but_not_counted(settings, limits):
    settings.OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    address = fresh_address()
    for _ in range(4):
        assert Client(REMOTE_ADDR=address).get("/accounts/sso/login/").status_code == 503
    rows = list(sso_audit(address))
    assert len(rows) == 4
    assert all("provider unavailable" in row.error for row in rows)
    assert not any("failure" in row.error or "locked" in row.error for row in rows)


# --- Logging out at the provider --------------------------------------------------------------


def sso_session(provider):
    """A browser signed in through the provider, and that browser's session at the provider."""
    browser, at_provider = Client(), requests.Session()
    back = provider.sign_in(start(browser), login="alice", browser=at_provider)
    assert callback(browser, back).status_code == 302
    return browser, at_provider


def test_logout_ends_the_local_session_then_the_providers(provider):
    browser, at_provider = sso_session(provider)
    id_token = browser.session[SSO_ID_TOKEN]
    assert not provider.asks_to_log_in(start(Client()), browser=at_provider)

    page = browser.post("/accounts/logout/")
    assert page.status_code == 200
    assert logged_in_user(browser) is None
    assert page["Refresh"] == "0; url=/accounts/sso/logout/"
    assert "Test IdP" in page.content.decode()
    assert id_token not in page.content.decode()

    onward = browser.get("/accounts/sso/logout/")
    assert onward.status_code == 302
    metadata = requests.get(provider.discovery_url, timeout=5).json()
    target = urlsplit(onward["Location"])
    assert onward["Location"].startswith(metadata["end_session_endpoint"] + "?")
    query = {key: values[0] for key, values in parse_qs(target.query).items()}
    assert query["id_token_hint"] == id_token
    assert jwt_claims(id_token)["sub"] == "alice"
    assert query["post_logout_redirect_uri"] == LOGIN_PAGE
    assert query["client_id"] == CLIENT_ID

    back = provider.confirm_logout(onward["Location"], browser=at_provider)
    assert back == LOGIN_PAGE
    assert provider.asks_to_log_in(start(Client()), browser=at_provider)
    # One use: the token is gone from the session.
    assert browser.get("/accounts/sso/logout/")["Location"] == "/accounts/login/"


def test_the_post_logout_address_is_configurable(provider, settings):
    settings.OIDC_POST_LOGOUT_REDIRECT_URI = ELSEWHERE
    browser, at_provider = sso_session(provider)
    browser.post("/accounts/logout/")
    onward = browser.get("/accounts/sso/logout/")["Location"]
    assert parse_qs(urlsplit(onward).query)["post_logout_redirect_uri"] == [ELSEWHERE]
    assert provider.confirm_logout(onward, browser=at_provider) == ELSEWHERE


def test_the_off_switch_keeps_logout_local(provider, settings):
    settings.OIDC_LOGOUT_AT_PROVIDER = False
    browser, at_provider = sso_session(provider)
    assert SSO_ID_TOKEN not in browser.session
    response = browser.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert logged_in_user(browser) is None
    assert not provider.asks_to_log_in(start(Client()), browser=at_provider)


def test_a_local_account_logs_out_as_before(provider, make_user):
    make_user("dave")
    browser = Client()
    browser.post("/accounts/login/", {"username": "dave", "password": PASSWORD})
    response = browser.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert browser.get("/accounts/sso/logout/")["Location"] == "/accounts/login/"
