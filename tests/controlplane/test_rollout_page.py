"""The roll-out page (/c/<c>/ns/<ns>/deployments/<name>/rollout/) and what the deployment
page shows of a rollout: roles, per-field validation, warnings, the action it submits; the
new and old ReplicaSets, surge and unavailable, pause and resume, comparing revisions."""

import json
import re

import pytest

from controlplane.audit.models import AuditEvent
from deployments.progress import resolve_int_or_percent, strategy_limits
from tests.fixtures.controlplane import kubectl_json, make_deployment, wait_for

pytestmark = pytest.mark.django_db


def page(cluster, namespace, name="web"):
    return f"/c/{cluster.name}/ns/{namespace}/deployments/{name}/"


@pytest.fixture
def logged_in(client, make_user, sandbox_cluster):
    def login(role=None, namespaces=None):
        user = make_user(role=role, cluster=sandbox_cluster, namespaces=namespaces)
        client.force_login(user)
        return user

    return login


def image_in_cluster(sandbox, namespace, name="web", index=0) -> str:
    body = kubectl_json(sandbox, "-n", namespace, "get", "deployment", name)
    return body["spec"]["template"]["spec"]["containers"][index]["image"]


def two_containers(sandbox, namespace, tmp_path, name="pair"):
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "model", "image": "example/model:1"},
                        {"name": "proxy", "image": "example/proxy:1"},
                    ]
                },
            },
        },
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(manifest))
    result = sandbox.kubectl("create", "--validate=false", "-f", str(path))
    assert result.returncode == 0, result.stderr
    return name


def test_an_engineer_gets_one_image_field_per_container_linked_from_the_deployment_page(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    two_containers(sandbox, kube_namespace, tmp_path)
    logged_in(role="engineer")
    detail = client.get(page(sandbox_cluster, kube_namespace, "pair")).content.decode()
    rollout_url = page(sandbox_cluster, kube_namespace, "pair") + "rollout/"
    assert f'href="{rollout_url}"' in detail
    assert 'data-shortcut="u"' in detail
    html = client.get(rollout_url).content.decode()
    assert 'name="image-model"' in html
    assert 'value="example/model:1"' in html
    assert 'name="image-proxy"' in html
    assert 'name="change_cause"' in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_may_not_roll_out_and_the_refusal_is_audited(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path, role
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    user = logged_in(role=role)
    url = page(sandbox_cluster, kube_namespace) + "rollout/"
    assert (
        "Roll out a new image"
        not in client.get(page(sandbox_cluster, kube_namespace)).content.decode()
    )
    assert client.get(url).status_code == 403
    response = client.post(url, {"image-model": "example/model:2", "rollout": "1"})
    assert response.status_code == 403
    refused = AuditEvent.objects.get(actor=user, verb="rollout", name="web")
    assert refused.status == "refused"
    assert image_in_cluster(sandbox, kube_namespace) == "example/model:1"


def test_users_without_a_role_and_missing_deployments_get_404(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    logged_in()
    assert client.get(page(sandbox_cluster, kube_namespace) + "rollout/").status_code == 404
    logged_in(role="engineer")
    assert client.get(page(sandbox_cluster, kube_namespace, "nope") + "rollout/").status_code == 404


def test_a_bad_image_is_a_400_on_its_own_field_and_nothing_is_submitted(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    two_containers(sandbox, kube_namespace, tmp_path)
    logged_in(role="engineer")
    url = page(sandbox_cluster, kube_namespace, "pair") + "rollout/"
    response = client.post(
        url,
        {"image-model": "Example/Model:2", "image-proxy": "example/proxy:2", "rollout": "1"},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "is not a valid image reference" in form.errors["image-model"][0]
    assert "image-proxy" not in form.errors
    # Nothing changed: no action, the same images.
    assert not AuditEvent.objects.filter(verb="rollout", name="pair").exists()
    assert image_in_cluster(sandbox, kube_namespace, "pair", 1) == "example/proxy:1"


def test_nothing_changed_or_an_overlong_change_cause_is_a_400(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    logged_in(role="engineer")
    url = page(sandbox_cluster, kube_namespace) + "rollout/"
    response = client.post(url, {"image-model": "example/model:1", "rollout": "1"})
    assert response.status_code == 400
    assert "Change at least one image" in response.content.decode()
    response = client.post(
        url, {"image-model": "example/model:2", "change_cause": "x" * 2000, "rollout": "1"}
    )
    assert response.status_code == 400
    assert "change_cause" in response.context["form"].errors
    assert not AuditEvent.objects.filter(verb="rollout").exists()


def test_check_warns_about_a_latest_or_untagged_image_without_rolling_out(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    logged_in(role="engineer")
    url = page(sandbox_cluster, kube_namespace) + "rollout/"
    html = client.post(url, {"image-model": "example/model:latest", "check": "1"}).content.decode()
    assert "is tagged latest" in html
    html = client.post(url, {"image-model": "example/model", "check": "1"}).content.decode()
    assert "has no tag" in html
    html = client.post(url, {"image-model": "example/model:2", "check": "1"}).content.decode()
    assert "No warnings." in html
    assert not AuditEvent.objects.filter(verb="rollout").exists()


def test_rolling_out_submits_the_changed_images_and_returns_to_the_deployment_page(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    two_containers(sandbox, kube_namespace, tmp_path)
    user = logged_in(role="engineer")
    url = page(sandbox_cluster, kube_namespace, "pair") + "rollout/"
    response = client.post(
        url,
        {
            "image-model": "example/model:2",
            "image-proxy": "example/proxy:1",
            "change_cause": "model v2",
            "rollout": "1",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == page(sandbox_cluster, kube_namespace, "pair")
    action = AuditEvent.objects.get(actor=user, verb="rollout", name="pair")
    assert action.parameters == {
        "containers": [{"name": "model", "image": "example/model:2"}],
        "change_cause": "model v2",
    }
    assert action.status == "pending"


def test_the_deployment_page_shows_the_new_and_old_replica_sets_with_surge_and_unavailable(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, replicas=2)
    logged_in(role="viewer")
    url = page(sandbox_cluster, kube_namespace)
    wait_for(lambda: 'data-field="new-ready">2/2' in client.get(url).content.decode(), what="2/2")
    result = sandbox.kubectl(
        "-n", kube_namespace, "set", "image", "deployment/web", "model=example/model:2"
    )
    assert result.returncode == 0, result.stderr

    def replaced():
        html = client.get(url).content.decode()
        return 'data-role="old"' in html and "example/model:2" in html and html

    html = wait_for(replaced, what="an old and a new ReplicaSet")
    assert 'data-role="new"' in html
    # maxSurge and maxUnavailable of 25% of 2 pods: rounded up to 1, rounded down to 0.
    assert re.search(r'data-field="surge">\d+ of at most 1<', html)
    assert re.search(r'data-field="unavailable">\d+ of at most 0<', html)
    # The rollout finishes and the old ReplicaSet is scaled to nothing.
    wait_for(
        lambda: 'data-field="rollout-state">complete' in client.get(url).content.decode(),
        what="the rollout to complete",
        timeout=60,
    )


def test_an_engineer_pauses_and_resumes_from_the_page(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    user = logged_in(role="engineer")
    url = page(sandbox_cluster, kube_namespace)
    html = client.get(url).content.decode()
    assert "Confirm pause" in html
    assert "Confirm resume" in html
    assert 'id="action-resume" data-shortcut="p" hidden' in html
    assert client.post(f"{url}do/pause/").status_code == 302
    assert client.post(f"{url}do/resume/").status_code == 302
    verbs = AuditEvent.objects.filter(actor=user, name="web").order_by("created")
    assert [(a.verb, a.parameters) for a in verbs] == [
        ("pause", {"paused": True}),
        ("resume", {"paused": False}),
    ]
    logged_in(role="operator")
    assert "Confirm pause" not in client.get(url).content.decode()
    assert client.post(f"{url}do/pause/").status_code == 403


def test_the_page_compares_any_two_kept_revisions(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    logged_in(role="viewer")
    url = page(sandbox_cluster, kube_namespace)
    for number, image in ((2, "example/model:2"), (3, "example/model:3")):
        result = sandbox.kubectl(
            "-n", kube_namespace, "set", "image", "deployment/web", f"model={image}"
        )
        assert result.returncode == 0, result.stderr
        html = wait_for(
            lambda n=number: (
                (h := client.get(url).content.decode()) and f'data-revision="{n}"' in h and h
            ),
            what=f"revision {number} on the page",
        )
    # By default: the latest change.
    assert 'id="revision-diff" data-from="2" data-to="3"' in html
    assert 'data-path="spec.containers[model].image"' in html
    html = client.get(url, {"from": "1", "to": "3"}).content.decode()
    assert 'data-from="1" data-to="3"' in html
    assert "example/model:1" in html
    # The live part keeps the chosen pair (the form is included in its refresh).
    body = client.get(url + "body/", {"from": "3", "to": "1"}).content.decode()
    assert 'data-from="3" data-to="1"' in body
    html = client.get(url, {"from": "9", "to": "3"}).content.decode()
    assert "revision 9 is not in the history" in html
    html = client.get(url, {"from": "x", "to": "3"}).content.decode()
    assert "must be revision numbers" in html


def test_percentages_resolve_as_the_deployment_controller_resolves_them():
    assert resolve_int_or_percent("25%", 10, round_up=True) == 3
    assert resolve_int_or_percent("25%", 10, round_up=False) == 2
    assert resolve_int_or_percent(2, 10, round_up=False) == 2
    assert resolve_int_or_percent("x%", 10, round_up=False) is None
    limits = strategy_limits({"spec": {"replicas": 3}})
    assert limits == {"type": "RollingUpdate", "max_surge": 1, "max_unavailable": 0}
    # Both zero would never move a pod: the controller allows one unavailable.
    zero = {
        "spec": {"replicas": 3, "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}
    }
    assert strategy_limits(zero)["max_unavailable"] == 1
    assert strategy_limits({"spec": {"strategy": {"type": "Recreate"}}})["max_surge"] is None


def test_a_stuck_rollout_shows_the_pod_level_reason_and_a_one_click_roll_back(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    url = page(sandbox_cluster, kube_namespace)
    logged_in(role="viewer")
    wait_for(lambda: 'data-field="new-ready">1/1' in client.get(url).content.decode(), what="1/1")
    # A change made with kubectl that no node can hold.
    changed = sandbox.kubectl(
        "-n", kube_namespace, "set", "resources", "deployment/web", "--requests=cpu=5000"
    )
    assert changed.returncode == 0, changed.stderr
    html = wait_for(
        lambda: (h := client.get(url).content.decode()) and 'id="deployment-stuck"' in h and h,
        what="the stuck banner",
    )
    assert 'data-reason="Unschedulable"' in html
    assert "Insufficient cpu" in html
    assert 'id="stuck-rollback"' not in html  # a viewer is told, not offered the button
    assert "An operator can roll it back." in html
    user = logged_in(role="operator")
    html = client.get(url).content.decode()
    assert "Roll back to revision 1" in html
    response = client.post(f"{url}do/rollback/")
    assert response.status_code == 302
    action = AuditEvent.objects.get(actor=user, verb="rollback", name="web")
    assert action.parameters == {"revision": 1, "requested": "previous"}


def test_rolling_back_from_the_page_to_a_named_revision_is_checked_by_the_service(
    client, logged_in, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path)
    user = logged_in(role="operator")
    url = page(sandbox_cluster, kube_namespace)
    wait_for(lambda: client.get(url).status_code == 200, what="the page")
    response = client.post(f"{url}do/rollback/", {"revision": "seven"}, follow=True)
    assert "A valid revision number" in response.content.decode()
    response = client.post(f"{url}do/rollback/", {"revision": "7"}, follow=True)
    assert "Revision 7 is not in the history" in response.content.decode()
    # Both are audited as failed with the reason, and neither reached a worker.
    audited = AuditEvent.objects.filter(actor=user, verb="rollback")
    assert [a.status for a in audited] == ["failed", "failed"]
    assert all("revision" in a.error.lower() for a in audited)
