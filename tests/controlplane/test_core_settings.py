"""Settings come from the environment; production settings pass `check --deploy`."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def manage(*args, env, tmp_path):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def production_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "controlplane.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CREDENTIALS_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "ALLOWED_HOSTS": "controlplane.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
            "RUN_DIR": str(tmp_path / "run"),
        }
    )
    return env


def test_check_deploy_passes_with_production_settings(production_env, tmp_path):
    result = manage("check", "--deploy", env=production_env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # No keys were generated: production takes them from the environment only.
    assert not (tmp_path / "run").exists()


def test_check_deploy_has_no_warnings_once_hsts_preload_is_chosen(production_env, tmp_path):
    # HSTS preload is an opt-in (it is hard to undo); with it, not even a warning remains.
    production_env["SECURE_HSTS_PRELOAD"] = "1"
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_credentials_key(production_env, tmp_path):
    del production_env["CREDENTIALS_KEY"]
    result = manage("check", env=production_env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "CREDENTIALS_KEY must be set" in result.stderr


def test_the_action_test_delay_is_ignored_in_production(production_env, tmp_path):
    production_env["ACTION_TASK_TEST_DELAY"] = "30"
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.ACTION_TASK_TEST_DELAY)",
        env=production_env,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0.0"


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    result = manage(
        "spectacular",
        "--fail-on-warn",
        "--validate",
        "--file",
        str(tmp_path / "schema.yaml"),
        env=os.environ.copy(),
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/clusters/{cluster}/namespaces/{namespace}/deployments/{name}/scale/" in schema
    assert "/api/v1/actions/{id}/" in schema


@pytest.mark.django_db
def test_the_api_docs_page_loads_nothing_from_a_cdn(client, django_user_model):
    user = django_user_model.objects.create_user(username="reader", password="pw-12345-xyz")
    client.force_login(user)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    for marker in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "https://"):
        assert marker not in page, marker
