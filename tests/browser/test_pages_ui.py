"""Every page as a person sees it in Chromium, with a screenshot of each to look at.

The screenshots land in .run/screenshots/ (BROWSER_SCREENSHOTS overrides); the assertions
check what each page must make plain: who did what (the system included), failed actions
with their error, the API server before saving, what a connection test found.
"""

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from controlplane.accounts.models import ApiToken
from controlplane.audit.services import action_record

from .pages import log_in, screenshot, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def namespace(sandbox):
    name = f"p-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    sandbox.kubectl(
        "create", "deployment", "scorer", "--image=registry.local/scorer:1", "-n", name, check=True
    )
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


def test_the_login_page_is_a_plain_form(page):
    page.goto("/accounts/login/")
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator("nav.mainnav")).to_have_count(0)
    screenshot(page, "login")


def test_an_admin_walks_through_every_page(page, make_user, sandbox, sandbox_cluster, namespace):
    admin = make_user(superuser=True)
    log_in(page, admin.username)

    wait_until_live(page)
    expect(page.locator("#section-nodes .pill.ok").first).to_have_text("Ready")
    screenshot(page, "overview")

    # A failed action (an impossible count), recorded with its error.
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    wait_until_live(page)  # the page re-renders its sections once when its stream is in place
    row = page.locator('tr[data-deployment="scorer"]')
    # The input's max stops this in the browser; a stale page or a script still gets it through.
    row.locator("input[name=replicas]").evaluate("input => input.removeAttribute('max')")
    row.locator("input[name=replicas]").fill("100000")
    row.locator("input[name=replicas]").press("Enter")
    expect(row.locator("[role=alert]")).to_contain_text("replicas: Ensure this value")
    expect(row.locator("[data-action-id]")).to_have_text("failed")
    screenshot(page, "deployments")

    page.goto("/clusters/")
    expect(page.locator(f'a[href="/clusters/{sandbox_cluster.name}/"]')).to_be_visible()
    expect(page.locator(".pill.role").first).to_have_text("admin")
    screenshot(page, "clusters")

    page.goto("/clusters/add/")
    page.fill("textarea[name=text]", Path(sandbox.kubeconfig).read_text())
    page.click("text=Check and preview")
    expect(page.locator("h1")).to_have_text("Check where this kubeconfig points")
    expect(page.locator("code.server").first).to_contain_text("https://127.0.0.1:")
    screenshot(page, "cluster-add-preview")

    page.goto(f"/clusters/{sandbox_cluster.name}/")
    page.click("text=Test connection")
    result = page.locator("#test-result")
    expect(result).to_contain_text("Reachable.")
    expect(result.locator(".allowed").first).to_be_visible()
    screenshot(page, "cluster-detail-tested")

    page.goto(f"/audit/?cluster={sandbox_cluster.name}&status=failed")
    expect(page.locator("select[name=status]")).to_have_value("failed")
    failed = page.locator("table.audit tbody tr").filter(has_text="scale deployment scorer")
    expect(failed.locator(".pill.status-failed")).to_have_text("failed")
    expect(failed.locator(".error-text")).to_contain_text("replicas: Ensure this value")
    screenshot(page, "audit-failed")

    page.goto("/audit/")
    screenshot(page, "audit")

    page.goto(f"/accounts/grants/{sandbox_cluster.name}/")
    page.fill("input[name=user]", make_user().username)
    page.select_option("select[name=role]", "operator")
    page.fill("input[name=namespaces]", namespace)
    page.click("text=Save")
    expect(page.locator(".message.success")).to_contain_text("is now operator")
    screenshot(page, "role-grants")

    page.goto("/accounts/token/")
    page.fill("input[name=name]", "browser test")
    page.click("button:has-text('Create a token')")
    prefix = ApiToken.objects.get(user=admin).prefix
    expect(page.locator("#new-token")).to_have_text(re.compile(rf"^cp_{prefix}_\S{{43}}$"))
    screenshot(page, "api-token")

    page.goto("/watcher/")
    expect(page.locator("#watcher-status")).to_contain_text("running")
    screenshot(page, "watcher")


def test_system_actions_are_named_as_such(page, make_user, sandbox_cluster):
    action_record(
        actor=None,
        cluster=sandbox_cluster,
        kind="cluster",
        name=sandbox_cluster.name,
        verb="refresh",
        status="succeeded",
    )
    log_in(page, make_user(role="viewer", cluster=sandbox_cluster).username)
    actions = page.locator("#section-actions tbody tr").filter(has_text="refresh cluster")
    expect(actions.locator("td").nth(1)).to_have_text("system")
    page.goto("/audit/")
    page.select_option("select[name=actor]", label="system")
    page.click("text=Filter")
    expect(page.locator("table.audit tbody tr").filter(has_text="refresh cluster")).to_have_count(1)
    for who in page.locator("table.audit tbody tr td:nth-child(2)").all_inner_texts():
        assert who == "system"
