"""The pages' spine in Chromium: a session that ended elsewhere, phone widths, and the
Content-Security-Policy (no violations on any page)."""

import uuid
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from controlplane.audit.models import AuditEvent

from .pages import PASSWORD, log_in, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def namespace(sandbox):
    name = f"s-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    sandbox.kubectl(
        "create", "deployment", "scorer", "--image=registry.local/scorer:1", "-n", name, check=True
    )
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


def log_out_elsewhere(page) -> None:
    """Log out in another tab of the same browser (same cookies)."""
    other = page.context.new_page()
    other.goto("/accounts/token/")
    other.click("text=Log out")
    expect(other.locator("input[name=username]")).to_be_visible()
    other.close()


def test_a_page_whose_session_ended_sends_its_next_request_to_the_login_page_and_back(
    page, make_user, sandbox_cluster, namespace
):
    user = make_user(role="operator", cluster=sandbox_cluster)
    log_in(page, user.username)
    url = f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/"
    page.goto(url)
    wait_until_live(page)
    log_out_elsewhere(page)

    replicas = page.locator('tr[data-deployment="scorer"] input[name=replicas]')
    replicas.fill("2")
    replicas.press("Enter")
    page.wait_for_url(f"**/accounts/login/?next={quote(url, safe='/')}")
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator(".card .card")).to_have_count(0)
    assert not AuditEvent.objects.filter(verb="scale", name="scorer").exists()

    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_url(f"**{url}")
    wait_until_live(page)
    expect(page.locator('tr[data-deployment="scorer"] input[name=replicas]')).to_have_value("1")


def test_the_live_indicator_says_when_the_session_ended_and_links_to_the_login_page(
    page, make_user, sandbox_cluster, namespace
):
    # Every connection goes to the real server; the test can drop the page's side of one.
    sockets = []

    def through(ws):
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket("**/ws/live/", through)
    user = make_user(role="viewer", cluster=sandbox_cluster)
    log_in(page, user.username)
    url = f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/"
    page.goto(url)
    wait_until_live(page)
    log_out_elsewhere(page)

    # The connection drops (a deploy, a proxy); reconnecting finds the session gone.
    sockets[-1].close(code=1012, reason="service restart")
    indicator = page.locator("[data-live-indicator]")
    expect(indicator).to_have_attribute("data-state", "ended")
    expect(indicator).to_contain_text("session ended")
    link = indicator.locator("a")
    expect(link).to_have_text("sign in again")
    expect(link).to_have_attribute("href", f"/accounts/login/?next={quote(url, safe='')}")
    link.click()
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_url(f"**{url}")
    wait_until_live(page)
