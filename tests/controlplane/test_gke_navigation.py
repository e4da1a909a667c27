"""The GKE entry of the navigation is an admin's: others would only meet an audited 403."""

import pytest
from django.test import Client

from controlplane.clusters.models import Cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    return Cluster.objects.create(
        name="nav", server="https://203.0.113.1:6443", source="kubeconfig"
    )


def _page_for(user) -> str:
    browser = Client()
    browser.force_login(user)
    response = browser.get("/clusters/")
    assert response.status_code == 200
    return response.content.decode()


def test_an_admin_sees_the_gke_entry(make_user):
    assert 'href="/gke/"' in _page_for(make_user("root", superuser=True))


@pytest.mark.parametrize("role", ["viewer", "operator", "engineer", "admin"])
def test_a_user_who_is_not_an_admin_of_the_whole_system_does_not(make_user, cluster, role):
    assert 'href="/gke/"' not in _page_for(make_user(role=role, cluster=cluster))
