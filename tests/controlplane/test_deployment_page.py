"""The deployment page (the hub) against the sandbox: every section, kubectl's changes,
roles and buttons; and the list's links, filters and sorting."""

import json

import pytest

from controlplane.audit.models import AuditEvent
from tests.fixtures.controlplane import wait_for

pytestmark = pytest.mark.django_db


def apply(sandbox, tmp_path, manifest: dict) -> None:
    path = tmp_path / f"{manifest['kind']}-{manifest['metadata']['name']}.json"
    path.write_text(json.dumps(manifest))
    result = sandbox.kubectl("apply", "--validate=false", "-f", str(path))
    assert result.returncode == 0, result.stderr


def deployment(namespace: str, name: str, *, replicas=1, labels=None, node_selector=None) -> dict:
    pod_spec = {"containers": [{"name": "server", "image": f"registry.local/{name}:1"}]}
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": name, **(labels or {})},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    }


def service(namespace: str, name: str, app: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": app},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }


@pytest.fixture
def logged_in(client, make_user, sandbox_cluster):
    def login(role=None, namespaces=None):
        user = make_user(role=role, cluster=sandbox_cluster, namespaces=namespaces)
        client.force_login(user)
        return user

    return login


def page_url(cluster, namespace, name):
    return f"/c/{cluster.name}/ns/{namespace}/deployments/{name}/"


def test_the_page_shows_each_section_and_changes_made_with_kubectl(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(
        sandbox,
        tmp_path,
        deployment(kube_namespace, "ranker", replicas=2, labels={"model-name": "ranker-v2"}),
    )
    apply(sandbox, tmp_path, service(kube_namespace, "ranker-lb", "ranker"))
    logged_in(role="viewer")
    url = page_url(sandbox_cluster, kube_namespace, "ranker")
    wait_for(lambda: "2/2" in client.get(url).content.decode(), what="two ready pods on the page")
    result = sandbox.kubectl(
        "-n", kube_namespace, "set", "image", "deployment/ranker", "server=registry.local/ranker:2"
    )
    assert result.returncode == 0, result.stderr

    def revised():
        html = client.get(url).content.decode()
        return 'data-revision="2"' in html and "registry.local/ranker:2" in html and html

    html = wait_for(revised, what="revision 2 on the page")
    for section in (
        "deployment-summary",
        "deployment-services",
        "deployment-pods",
        "deployment-revisions",
        "deployment-events",
        "deployment-audit",
        "deployment-yaml",
    ):
        assert f'id="{section}"' in html, section
    assert 'data-revision="1"' in html
    assert "outside the product" in html  # kubectl made revision 2, not an action here
    assert "RollingUpdate" in html
    assert "maxSurge" in html
    assert "model-name" in html
    assert "ranker-v2" in html
    assert 'data-service="ranker-lb"' in html
    assert "LoadBalancer" in html
    assert "80→8080" in html
    assert "ScalingReplicaSet" in html  # the deployment controller's events
    assert "watcher cache" in html or "live list" in html  # provenance on every section
    assert "managedFields" not in html.replace("managedFields stripped", "")
    assert "kind: Deployment" in html or "apiVersion: apps/v1" in html


def test_a_pod_that_cannot_be_scheduled_shows_why_it_is_not_ready(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(
        sandbox,
        tmp_path,
        deployment(kube_namespace, "stranded", node_selector={"pool": "nowhere"}),
    )
    logged_in(role="viewer")
    url = page_url(sandbox_cluster, kube_namespace, "stranded")
    html = wait_for(
        lambda: (
            (h := client.get(url).content.decode()) and "<strong>Unschedulable</strong>" in h and h
        ),
        what="the not-ready reason",
    )
    assert "Pending" in html


def test_the_yaml_has_no_managed_fields():
    from deployments.selectors_detail import deployment_yaml

    text = deployment_yaml(
        {"kind": "Deployment", "metadata": {"name": "a", "managedFields": [{"manager": "k"}]}}
    )
    assert "managedFields" not in text
    assert "name: a" in text


def test_users_without_a_role_get_404_and_other_namespaces_403(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(sandbox, tmp_path, deployment(kube_namespace, "hidden"))
    logged_in()
    url = page_url(sandbox_cluster, kube_namespace, "hidden")
    assert client.get(url).status_code == 404
    logged_in(role="viewer", namespaces=["elsewhere"])
    assert client.get(url).status_code == 403


def test_a_missing_deployment_or_a_bad_name_is_404(
    client, logged_in, sandbox_cluster, kube_namespace
):
    logged_in(role="viewer")
    assert client.get(page_url(sandbox_cluster, kube_namespace, "absent")).status_code == 404
    assert client.get(page_url(sandbox_cluster, kube_namespace, "Bad_Name")).status_code == 404


def test_viewers_get_no_buttons_and_operators_get_confirmed_ones(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(sandbox, tmp_path, deployment(kube_namespace, "api"))
    url = page_url(sandbox_cluster, kube_namespace, "api")
    logged_in(role="viewer")
    html = client.get(url).content.decode()
    assert "Confirm scale" not in html
    assert "Confirm restart" not in html
    assert "Roll back…" not in html
    logged_in(role="operator")
    html = client.get(url).content.decode()
    assert "Confirm scale" in html
    assert "Confirm restart" in html
    assert "Roll back…" in html
    assert "csrfmiddlewaretoken" in html
    assert "<script>" not in html  # no inline script under the strict CSP


def test_an_operator_scales_from_the_page_and_sees_the_action_in_its_audit(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(sandbox, tmp_path, deployment(kube_namespace, "api"))
    user = logged_in(role="operator")
    url = page_url(sandbox_cluster, kube_namespace, "api")
    wait_for(lambda: client.get(url).status_code == 200, what="the page")
    response = client.post(f"{url}do/scale/", {"replicas": "3"})
    assert response.status_code == 302
    assert response["Location"] == url
    action = AuditEvent.objects.get(actor=user, verb="scale", name="api")
    assert action.parameters == {"replicas": 3}
    assert f'data-action-id="{action.id}"' in client.get(url).content.decode()


def test_a_viewer_posting_an_action_is_refused_and_audited(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(sandbox, tmp_path, deployment(kube_namespace, "api"))
    logged_in(role="viewer")
    url = page_url(sandbox_cluster, kube_namespace, "api")
    assert client.post(f"{url}do/restart/").status_code == 403
    assert AuditEvent.objects.filter(verb="restart", name="api", status="refused").exists()
    assert client.post(f"{url}do/explode/").status_code == 404


def test_the_body_section_re_renders_alone(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(sandbox, tmp_path, deployment(kube_namespace, "api"))
    logged_in(role="viewer")
    html = client.get(page_url(sandbox_cluster, kube_namespace, "api") + "body/").content.decode()
    assert html.startswith('<div id="deployment-detail"')
    assert 'hx-trigger="live-refresh"' in html
    assert "<html" not in html


# The list --------------------------------------------------------------------------------


def list_url(cluster, namespace):
    return f"/c/{cluster.name}/ns/{namespace}/deployments/"


def names_in(html: str) -> list[str]:
    import re

    return re.findall(r'data-deployment="([^"]+)"', html)


def test_the_list_links_each_name_to_its_page_and_shows_the_rollout_state(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(sandbox, tmp_path, deployment(kube_namespace, "alpha"))
    logged_in(role="viewer")
    url = list_url(sandbox_cluster, kube_namespace)
    html = wait_for(
        lambda: (h := client.get(url).content.decode()) and "rollout-complete" in h and h,
        what="a complete rollout in the list",
    )
    assert f'href="{page_url(sandbox_cluster, kube_namespace, "alpha")}"' in html
    assert 'data-field="rollout"' in html


def test_the_list_filters_by_text_and_label_and_sorts_by_a_column(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(sandbox, tmp_path, deployment(kube_namespace, "alpha", labels={"tier": "gold"}))
    apply(sandbox, tmp_path, deployment(kube_namespace, "beta", replicas=2))
    apply(sandbox, tmp_path, deployment(kube_namespace, "gamma", labels={"tier": "gold"}))
    logged_in(role="operator")
    url = list_url(sandbox_cluster, kube_namespace)
    assert names_in(client.get(url).content.decode()) == ["alpha", "beta", "gamma"]
    assert names_in(client.get(url, {"q": "BET"}).content.decode()) == ["beta"]
    # The image matches too.
    assert names_in(client.get(url, {"q": "gamma:1"}).content.decode()) == ["gamma"]
    html = client.get(url, {"labels": "tier=gold"}).content.decode()
    assert names_in(html) == ["alpha", "gamma"]
    assert names_in(client.get(url, {"labels": "tier!=gold"}).content.decode()) == ["beta"]
    assert names_in(client.get(url, {"sort": "-name"}).content.decode()) == [
        "gamma",
        "beta",
        "alpha",
    ]
    assert names_in(client.get(url, {"sort": "-desired"}).content.decode())[0] == "beta"
    # The live refresh and the scale form keep the filter.
    html = client.get(url, {"labels": "tier=gold", "sort": "-name"}).content.decode()
    assert "table/?labels=tier%3Dgold&amp;sort=-name" in html
    assert "scale/?labels=tier%3Dgold&amp;sort=-name" in html
    table = client.get(f"{url}_table/", {"labels": "tier=gold"}).content.decode()
    assert names_in(table) == ["alpha", "gamma"]
    assert "not a label selector" in client.get(url, {"labels": "a b=c"}).content.decode()


# All namespaces ----------------------------------------------------------------------------


def test_the_all_namespaces_list_shows_what_the_grant_covers(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    other = f"{kube_namespace}-b"
    assert sandbox.kubectl("create", "namespace", other).returncode == 0
    try:
        apply(sandbox, tmp_path, deployment(kube_namespace, "first"))
        apply(sandbox, tmp_path, deployment(other, "second"))
        url = f"/c/{sandbox_cluster.name}/deployments/all/"
        logged_in(role="viewer")
        html = client.get(url).content.decode()
        assert f'data-deployment="{kube_namespace}/first"' in html
        assert f'data-deployment="{other}/second"' in html
        assert f'href="{page_url(sandbox_cluster, other, "second")}"' in html
        html = client.get(url, {"q": "second"}).content.decode()
        assert f'data-deployment="{kube_namespace}/first"' not in html
        logged_in(role="viewer", namespaces=[kube_namespace])
        html = client.get(url).content.decode()
        assert f'data-deployment="{kube_namespace}/first"' in html
        assert f'data-deployment="{other}/second"' not in html
        assert f'data-live-namespaces="{kube_namespace}"' in html
        table = client.get(f"{url}table/").content.decode()
        assert f"{other}/second" not in table
        logged_in()
        assert client.get(url).status_code == 404
    finally:
        sandbox.kubectl("delete", "namespace", other, "--wait=false")


def test_an_operator_rolls_back_and_restarts_from_the_page(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    apply(sandbox, tmp_path, deployment(kube_namespace, "api"))
    user = logged_in(role="operator")
    url = page_url(sandbox_cluster, kube_namespace, "api")
    wait_for(lambda: 'data-revision="1"' in client.get(url).content.decode(), what="revision 1")
    result = sandbox.kubectl(
        "-n", kube_namespace, "set", "image", "deployment/api", "server=registry.local/api:2"
    )
    assert result.returncode == 0, result.stderr
    html = wait_for(
        lambda: (h := client.get(url).content.decode()) and "Confirm roll back" in h and h,
        what="a previous revision to roll back to",
    )
    assert "to revision 1" in html
    response = client.post(f"{url}do/rollback/")
    assert response.status_code == 302
    action = AuditEvent.objects.get(actor=user, verb="rollback", name="api")
    assert action.parameters["revision"] == 1
    client.post(f"{url}do/restart/")
    assert AuditEvent.objects.filter(actor=user, verb="restart", name="api").exists()
