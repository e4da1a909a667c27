"""The access log names each request without what could carry a secret."""

import logging

import pytest

from controlplane.logging import redact

pytestmark = pytest.mark.django_db


def test_each_request_is_logged_without_its_query_string(client, caplog):
    with caplog.at_level(logging.INFO, logger="controlplane.access"):
        client.get("/accounts/login/?next=/x&token=s3cret-value")
    lines = [r.getMessage() for r in caplog.records if r.name == "controlplane.access"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /accounts/login/ 200 ")
    assert "s3cret" not in lines[0]


def test_one_time_password_links_are_redacted_in_log_lines():
    line = redact("GET /accounts/set-password/MQ/cb7x-9f2e1c0d4a/ 302 3ms")
    assert line == "GET /accounts/set-password/[REDACTED]/ 302 3ms"


@pytest.mark.parametrize(
    "path", ["Dockerfile", "docker-compose.yml", "deploy/30-controlplane.yaml", "devstack/run.py"]
)
def test_daphne_runs_without_its_own_access_log_everywhere(path):
    from tests.fixtures.controlplane import REPO_ROOT

    text = (REPO_ROOT / path).read_text()
    assert '"daphne", "-v", "0"' in text or '"daphne"), "-v", "0"' in text
