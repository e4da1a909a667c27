"""Fixtures of the GKE app's tests: the local GKE endpoint, a Celery worker that polls
operations quickly, GKE credentials, and following an action to its end."""

from __future__ import annotations

import pytest

from sandbox.gke.testing import GkeProcess
from tests.fixtures.controlplane import SESSION_WORKERS, CeleryWorker, wait_for

PROJECT = "sandbox-project"
ZONE = "us-central1-a"
BASE = f"/api/v1/gke/projects/{PROJECT}/locations/{ZONE}"


@pytest.fixture(scope="module", name="gke")
def gke_fixture(tmp_path_factory):
    with GkeProcess(tmp_path_factory.mktemp("gke"), operation_seconds=0.3) as proc:
        yield proc


@pytest.fixture(scope="module", name="gke_worker")
def gke_worker_fixture(subprocess_env, tmp_path_factory):
    """A worker of this module's own, asking Google about operations every 0.1 s."""
    worker = CeleryWorker(subprocess_env, tmp_path_factory.mktemp("gke-celery"), "gke")
    worker.start(GKE_POLL_SECONDS="0.1")
    SESSION_WORKERS.append(worker)
    yield worker
    SESSION_WORKERS.remove(worker)
    worker.stop()


def credential_for(gke: GkeProcess, *, key: dict | None = None):
    """The endpoint's key saved as the project's GKE credentials (through the service)."""
    from django.contrib.auth import get_user_model

    from controlplane.gke.services import gke_credential_create

    admin = get_user_model().objects.filter(is_superuser=True).first()
    return gke_credential_create(actor=admin, project=PROJECT, key=key or gke.key, endpoint=gke.url)


def action_done(client, url: str, timeout: float = 60.0) -> dict:
    """GET the action until it has finished; its JSON."""

    def finished():
        body = client.get(url).json()
        return body if body["status"] not in ("pending", "running") else None

    return wait_for(finished, timeout=timeout, what=f"action {url} to finish")
