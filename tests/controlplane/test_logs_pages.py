"""The log viewer pages: what they offer, who may open them, and the links to them."""

import pytest
from django.test import Client

from tests.fixtures.controlplane import make_deployment, wait_for

from .logs_support import make_pod

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_pod_page_offers_its_containers_init_containers_and_the_download(
    sandbox, sandbox_cluster, kube_namespace, make_user
):
    pod = make_pod(sandbox, kube_namespace, containers=("app", "sidecar"), init=("setup",))
    client = _client(make_user(role="viewer", cluster=sandbox_cluster))
    url = f"/c/{sandbox_cluster.name}/ns/{kube_namespace}/pods/{pod}/logs/"
    page = wait_for(
        lambda: (
            (r := client.get(url, {"container": "sidecar"})).status_code == 200
            and b'value="setup"' in r.content
            and r
        ),
        what="the pod in the page",
    )
    html = page.content.decode()
    assert '<option value="sidecar" selected>' in html
    assert '<optgroup label="Init containers"><option value="setup">' in html
    assert (
        f"/api/v1/clusters/{sandbox_cluster.name}/namespaces/{kube_namespace}/pods/{pod}/log/?container=sidecar"
        in html
    )
    assert 'data-max-lines="10000"' in html


def test_the_pages_refuse_viewers_where_the_cluster_keeps_logs_from_them(
    sandbox_cluster, kube_namespace, make_user
):
    sandbox_cluster.logs_for_viewers = False
    sandbox_cluster.save()
    client = _client(make_user(role="viewer", cluster=sandbox_cluster))
    base = f"/c/{sandbox_cluster.name}/ns/{kube_namespace}"
    assert client.get(f"{base}/pods/some-pod/logs/").status_code == 403
    assert client.get(f"{base}/deployments/web/logs/").status_code == 403
    operator = _client(make_user(role="operator", cluster=sandbox_cluster))
    assert operator.get(f"{base}/deployments/web/logs/").status_code == 200


def test_the_deployment_page_links_each_pods_logs_and_all_of_them(
    sandbox, sandbox_cluster, kube_namespace, make_user, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, name="web", replicas=1)
    client = _client(make_user(role="viewer", cluster=sandbox_cluster))
    base = f"/c/{sandbox_cluster.name}/ns/{kube_namespace}"
    page = wait_for(
        lambda: (
            (r := client.get(f"{base}/deployments/web/")).status_code == 200
            and b"data-pod-logs" in r.content
            and r
        ),
        what="a pod on the deployment page",
    )
    html = page.content.decode()
    assert f'href="{base}/deployments/web/logs/"' in html
    assert f'href="{base}/pods/web-' in html
    workload = client.get(f"{base}/deployments/web/logs/").content.decode()
    assert 'data-workload-kind="deployment"' in workload
    assert "data-log-regex" in workload
    assert 'value="model" checked' in workload
