"""The deployment page in a browser: opened from the list, live without a reload."""

import uuid

import pytest
from playwright.sync_api import expect

from .pages import log_in, screenshot, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def namespace(sandbox):
    name = f"p-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


def test_an_operator_opens_a_deployment_from_the_list_and_sees_a_scale_applied_live(
    page, celery_worker, make_user, sandbox, sandbox_cluster, namespace
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
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    page.locator('tr[data-deployment="scorer"] a', has_text="scorer").first.click()
    expect(page).to_have_url(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/scorer/")
    wait_until_live(page)
    summary = page.locator("#deployment-summary")
    expect(summary.locator('[data-field="ready"]')).to_have_text("1/1")
    page.evaluate("window.__notReloaded = true")
    # A change made outside the product (kubectl) arrives through the watcher.
    sandbox.kubectl("scale", "deployment/scorer", "--replicas=3", "-n", namespace, check=True)
    expect(summary.locator('[data-field="desired"]')).to_have_text("3", timeout=15_000)
    expect(summary.locator('[data-field="ready"]')).to_have_text("3/3", timeout=15_000)
    expect(page.locator("#deployment-pods tbody tr[data-pod]")).to_have_count(3)
    assert page.evaluate("window.__notReloaded") is True
    # And one made here, confirmed first.
    page.locator("#action-scale summary").click()
    page.locator("#action-scale input[name=replicas]").fill("2")
    page.locator("#action-scale button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("action")
    # The worker applies it and the sandbox ends a pod gracefully: allow for a loaded machine.
    expect(summary.locator('[data-field="ready"]')).to_have_text("2/2", timeout=30_000)
    expect(page.locator("#deployment-audit")).to_contain_text("scale to 2")
    screenshot(page, "deployment-page")
    page.locator("#deployment-yaml summary").click()
    expect(page.locator("#deployment-yaml pre")).to_contain_text("kind: Deployment")
