"""The local GKE endpoint's OAuth2 side: google-auth's JWT-bearer grant, self-signed JWTs,
401s as Google answers them, expired tokens refreshed, revoked keys refused."""

from __future__ import annotations

import time

import pytest
from google.api_core import exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from sandbox.gke.auth import AuthError, TokenService
from sandbox.gke.testing import GkeProcess
from tests.sandbox.gke_support import PARENT

pytestmark = pytest.mark.timeout(120)

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@pytest.fixture(scope="module")
def gke(tmp_path_factory):
    # Tokens live 2 s, so a test can see one expire.
    with GkeProcess(tmp_path_factory.mktemp("gke-auth"), token_seconds=2) as proc:
        yield proc


def test_a_request_without_a_token_is_401_unauthenticated(gke):
    status, body = gke.request("GET", f"/v1/{PARENT}/clusters")
    assert status == 401
    assert body["error"]["status"] == "UNAUTHENTICATED"
    assert body["error"]["message"].startswith(
        "Request is missing required authentication credential."
    )


def test_a_wrong_token_is_401_with_googles_message(gke):
    status, body = gke.request("GET", f"/v1/{PARENT}/clusters", token="ya29.made-up")
    assert status == 401
    assert body["error"]["message"].startswith("Request had invalid authentication credentials.")


def test_the_token_endpoint_issues_tokens_the_api_accepts(gke):
    token = gke.access_token()
    assert token.startswith("ya29.")
    status, body = gke.request("GET", f"/v1/{PARENT}/clusters", token=token)
    assert status == 200, body


def test_an_expired_token_is_refused_and_google_auth_refreshes_it(gke):
    creds = service_account.Credentials.from_service_account_info(gke.key, scopes=SCOPES)
    creds.refresh(Request())
    first = creds.token
    time.sleep(2.5)
    status, _ = gke.request("GET", f"/v1/{PARENT}/clusters", token=first)
    assert status == 401
    # google-auth treats a token this close to expiry as expired and fetches another
    assert not creds.valid
    creds.refresh(Request())
    assert creds.token != first
    status, _ = gke.request("GET", f"/v1/{PARENT}/clusters", token=creds.token)
    assert status == 200


def test_a_revoked_key_gets_invalid_grant_and_the_client_is_refused(gke):
    key = gke.make_key()
    assert gke.client(key).list_clusters(parent=PARENT) is not None
    gke.revoke_key(key["private_key_id"])
    creds = service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
    with pytest.raises(auth_exceptions.RefreshError) as err:
        creds.refresh(Request())
    assert "invalid_grant: Invalid JWT Signature." in str(err.value)
    # The Cloud client sends a self-signed JWT; one signed by a revoked key is refused too.
    with pytest.raises(exceptions.Unauthorized):
        gke.client(key).list_clusters(parent=PARENT)


def test_another_projects_clusters_are_permission_denied(gke):
    status, body = gke.request(
        "GET",
        "/v1/projects/other-project/locations/us-central1-a/clusters",
        token=gke.access_token(),
    )
    assert status == 403
    assert body["error"]["status"] == "PERMISSION_DENIED"


def test_a_jwt_signed_by_an_unknown_key_is_invalid_grant():
    issuer, stranger = TokenService(), TokenService()
    key = stranger.make_key(project_id="p", account="a", token_uri="http://127.0.0.1:1/token")
    creds = service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
    assertion = creds._make_authorization_grant_assertion().decode()
    with pytest.raises(AuthError) as err:
        issuer.grant(
            grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
            assertion=assertion,
            audience="http://127.0.0.1:1/token",
        )
    assert err.value.error == "invalid_grant"
    assert issuer.principal(assertion) is None
