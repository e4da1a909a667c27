"""What a person sees in Chromium: logging in, switching clusters, live updates, scaling."""

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from controlplane.clusters.services import cluster_register_sandbox

from .pages import log_in, screenshot, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def namespace(sandbox):
    name = f"b-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


def test_a_user_logs_in_lands_on_the_overview_and_logs_out(page, make_user, sandbox_cluster):
    user = make_user(role="viewer", cluster=sandbox_cluster)
    page.goto("/")
    expect(page).to_have_url("/accounts/login/?next=/", ignore_case=True)
    log_in(page, user.username)
    expect(page).to_have_url(f"/c/{sandbox_cluster.name}/")
    expect(page.locator("h1")).to_contain_text(sandbox_cluster.label)
    expect(page.locator("#section-nodes tbody tr")).not_to_have_count(0)
    page.click("text=Log out")
    expect(page.locator("input[name=username]")).to_be_visible()


def test_switching_clusters_goes_to_the_same_page_of_the_other_cluster(
    page, make_user, sandbox, sandbox_cluster
):
    other = cluster_register_sandbox(
        name="second", path=Path(sandbox.kubeconfig), display_name="Second cluster"
    )
    user = make_user(role="viewer", cluster=sandbox_cluster)
    from controlplane.accounts.models import RoleGrant

    RoleGrant.objects.create(user=user, cluster=other, role="viewer")
    log_in(page, user.username)
    page.goto(f"/c/{sandbox_cluster.name}/")
    page.select_option("select[name=cluster]", other.name)
    page.wait_for_url(f"**/c/{other.name}/")
    expect(page.locator("h1")).to_contain_text("Second cluster")
    expect(page.locator("select[name=cluster]")).to_have_value(other.name)


@pytest.mark.parametrize("narrowed", [False, True], ids=["cluster-wide", "namespaced-role"])
def test_the_overview_shows_a_new_pod_without_a_reload(
    page, make_user, sandbox, sandbox_cluster, namespace, narrowed
):
    # A role narrowed to namespaces streams them one by one (cluster-wide streams are refused).
    user = make_user(
        role="viewer", cluster=sandbox_cluster, namespaces=[namespace] if narrowed else None
    )
    log_in(page, user.username)
    page.goto(f"/c/{sandbox_cluster.name}/")
    wait_until_live(page)
    row = page.locator(f'#section-namespaces tr[data-namespace="{namespace}"]')
    expect(row.locator("[data-pods]")).to_have_text("0")
    page.evaluate("window.__notReloaded = true")
    sandbox.kubectl("run", "fresh-pod", "--image=busybox", "-n", namespace, check=True)
    expect(row.locator("[data-pods]")).to_have_text("1")
    expect(page.locator("#section-events")).to_contain_text(f"{namespace}/Pod/fresh-pod")
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, f"overview-live-{'narrowed' if narrowed else 'cluster-wide'}")


def test_an_operator_scales_a_deployment_and_watches_the_replicas_arrive(
    page, make_user, sandbox, sandbox_cluster, namespace
):
    sandbox.kubectl(
        "create",
        "deployment",
        "scorer",
        "--image=registry.local/scorer:1",
        "--replicas=1",
        "-n",
        namespace,
        check=True,
    )
    user = make_user(role="operator", cluster=sandbox_cluster)
    log_in(page, user.username)
    # On call: from the overview, one click to the namespace's deployments and their controls.
    expect(page).to_have_url(f"/c/{sandbox_cluster.name}/")
    page.locator(f'#section-namespaces tr[data-namespace="{namespace}"] a').click()
    expect(page).to_have_url(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    wait_until_live(page)
    row = page.locator('tr[data-deployment="scorer"]')
    expect(row.locator('[data-field="ready"]')).to_have_text("1/1")
    replicas = row.locator("input[name=replicas]")
    expect(replicas).to_have_value("1")
    page.evaluate("window.__notReloaded = true")
    replicas.fill("3")
    replicas.press("Enter")
    expect(row.locator('[data-field="last-action"]')).to_contain_text(f"scale to 3 by {user}")
    expect(row.locator("[data-action-id]")).to_have_text("succeeded")
    expect(replicas).to_have_value("3")
    expect(row.locator('[data-field="ready"]')).to_have_text("3/3")
    expect(row.locator('[data-field="available"]')).to_have_text("3")
    assert page.evaluate("window.__notReloaded") is True
    result = sandbox.kubectl(
        "get",
        "deployment",
        "scorer",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.replicas}",
        check=True,
    )
    assert result.stdout == "3"
    screenshot(page, "deployments-scaled")


def test_a_viewer_sees_no_scale_control(page, make_user, sandbox, sandbox_cluster, namespace):
    sandbox.kubectl(
        "create", "deployment", "ro", "--image=registry.local/ro:1", "-n", namespace, check=True
    )
    user = make_user(role="viewer", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    expect(page.locator('tr[data-deployment="ro"]')).to_be_visible()
    expect(page.locator("input[name=replicas]")).to_have_count(0)


def test_the_watcher_page_shows_each_stream_synced(page, make_user, sandbox_cluster):
    user = make_user(role="viewer", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto("/watcher/")
    expect(page.locator("#watcher-status")).to_contain_text("running")
    row = page.locator(f'tr[data-cluster="{sandbox_cluster.name}"][data-kind="pods"]')
    # The page refreshes itself: the watcher picks the cluster up within a poll or two.
    expect(row.locator(".pill.ok")).to_have_text("synced", timeout=30_000)
    screenshot(page, "watcher-status")
