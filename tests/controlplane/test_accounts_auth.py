"""API authentication: 401 with a challenge when no credentials come, sessions with CSRF."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_request_without_credentials_gets_401_with_a_token_challenge(client):
    response = client.get("/api/v1/clusters/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_gets_401_too(client):
    response = client.get("/api/v1/clusters/", HTTP_AUTHORIZATION="Token not-a-real-key")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_signed_in_session_works_and_its_writes_need_the_csrf_token(make_user):
    make_user("root", superuser=True)
    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username="root", password="correct-horse-battery-staple")
    assert browser.get("/api/v1/clusters/").status_code == 200
    refused = browser.post("/api/v1/users/", {"username": "uma"}, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    browser.get("/accounts/users/")  # sets the CSRF cookie, as any page does
    csrf = browser.cookies["csrftoken"].value
    created = browser.post(
        "/api/v1/users/",
        {"username": "uma"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert created.status_code == 201, created.content
