"""Login lockouts per user and per address, with back-off and an audit trail; API request
limits per token with 429 and Retry-After."""

import random
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from controlplane.accounts import throttling
from controlplane.accounts.services import api_token_create
from controlplane.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"  # make_user's default


@pytest.fixture
def clock(monkeypatch):
    """The throttling clock, moved by hand (cache entries carry their own deadlines)."""

    class Clock:
        now = 1_000_000_000.0

        def advance(self, seconds):
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(throttling, "_now", lambda: fake.now)
    return fake


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURES_PER_USER = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 10
    settings.LOGIN_LOCKOUT_SECONDS = 60
    settings.LOGIN_LOCKOUT_MAX_SECONDS = 3600
    return settings


def fresh_address() -> str:
    # Counters live in the shared Redis: each test uses addresses and names of its own.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def fresh_name(prefix="u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def log_in(username, password, address):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def test_wrong_passwords_lock_the_user_out_even_with_the_right_one(make_user, limits, clock):
    name = make_user(fresh_name()).username
    address = fresh_address()
    for _ in range(2):
        response = log_in(name, "wrong", address)
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    locked = log_in(name, "wrong", address)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "60"
    assert "Too many failed logins for this user. Try again in 60 seconds." in (
        locked.content.decode()
    )
    refused = log_in(name, PASSWORD, fresh_address())
    assert refused.status_code == 429
    failed = AuditEvent.objects.filter(kind="user", verb="login", status="failed")
    assert failed.count() == 3
    assert {event.name for event in failed} == {name}
    assert failed.filter(error__contains="locked out for 60 s").count() == 1
    assert failed.first().parameters == {"address": address}
    assert AuditEvent.objects.get(kind="user", verb="login", status="refused").name == name
    clock.advance(61)
    assert log_in(name, PASSWORD, address).status_code == 302


def test_each_further_lockout_lasts_twice_as_long(make_user, limits, clock):
    name = make_user(fresh_name()).username
    address = fresh_address()
    for _ in range(3):
        response = log_in(name, "wrong", address)
    assert response["Retry-After"] == "60"
    clock.advance(61)
    for _ in range(3):
        response = log_in(name, "wrong", address)
    assert response.status_code == 429
    assert response["Retry-After"] == "120"
    clock.advance(100)
    assert log_in(name, PASSWORD, address)["Retry-After"] == "20"


def test_a_successful_login_clears_the_users_count(make_user, limits, clock):
    name = make_user(fresh_name()).username
    address = fresh_address()
    log_in(name, "wrong", address)
    log_in(name, "wrong", address)
    assert log_in(name, PASSWORD, address).status_code == 302
    log_in(name, "wrong", address)
    assert log_in(name, "wrong", address).status_code == 200


def test_guessing_many_names_from_one_address_locks_the_address(make_user, limits, clock):
    limits.LOGIN_FAILURES_PER_ADDRESS = 3
    name = make_user(fresh_name()).username
    address = fresh_address()
    guesses = [fresh_name("guess") for _ in range(3)]
    responses = [log_in(guess, "wrong", address) for guess in guesses]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert "for this address" in responses[-1].content.decode()
    assert log_in(name, PASSWORD, address).status_code == 429
    assert log_in(name, PASSWORD, fresh_address()).status_code == 302
    # Names that belong to nobody are not written down: they are sometimes passwords.
    failed = AuditEvent.objects.filter(kind="user", verb="login", status="failed")
    assert {event.name for event in failed} == {""}
    assert all(guess not in str(event.__dict__) for guess in guesses for event in failed)
    assert all("unknown username" in event.error for event in failed)


def test_api_requests_over_the_limit_get_429_with_retry_after(make_user, settings):
    settings.API_RATE_LIMIT = "3/min"
    user = make_user(fresh_name())
    first = APIClient()
    first.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_create(actor=None, user=user, name='a').key}"
    )
    second = APIClient()
    second.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_create(actor=None, user=user, name='b').key}"
    )
    statuses = [first.get("/api/v1/clusters/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = first.get("/api/v1/clusters/")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert second.get("/api/v1/clusters/").status_code == 200  # limits are per token


def test_an_empty_api_rate_limit_turns_the_limit_off(make_user, api_client_for, settings):
    settings.API_RATE_LIMIT = ""
    api = api_client_for(make_user(fresh_name()))
    assert all(api.get("/api/v1/clusters/").status_code == 200 for _ in range(5))
