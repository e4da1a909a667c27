"""The navigation's Training entry is marked as the current page on every training page of a
cluster and namespace (/c/<c>/ns/<ns>/training/...), not only on /training/ itself."""

import re

import pytest

from trainer.models import TrainingRun

pytestmark = [pytest.mark.django_db]


def training_entry(html: str) -> str:
    (entry,) = re.findall(r"<li><a href=\"[^\"]*\"[^>]*>Training</a></li>", html)
    return entry


@pytest.fixture
def engineer(sandbox_cluster, make_user, client):
    client.force_login(make_user("nav-engineer", role="engineer", cluster=sandbox_cluster))
    return client


def test_the_training_entry_is_active_on_every_training_page(sandbox_cluster, engineer):
    run = TrainingRun.objects.create(
        cluster=sandbox_cluster, namespace="default", job_name="nav", status="succeeded"
    )
    for rest in ("", "launch/", f"{run.id}/"):
        response = engineer.get(f"/c/sandbox/ns/default/training/{rest}")
        assert response.status_code == 200, rest
        entry = training_entry(response.content.decode())
        assert 'aria-current="page"' in entry, (rest, entry)


def test_the_training_entry_is_not_active_elsewhere(sandbox_cluster, engineer):
    response = engineer.get("/c/sandbox/ns/default/deployments/")
    assert response.status_code == 200
    assert 'aria-current="page"' not in training_entry(response.content.decode())
