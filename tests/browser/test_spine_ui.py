"""The pages' spine in Chromium: a session that ended elsewhere, phone widths, and the
Content-Security-Policy (no violations on any page)."""

import uuid
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from controlplane.audit.models import AuditEvent

from .pages import PASSWORD, log_in, screenshot, wait_until_live

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


def test_logging_out_in_another_tab_turns_the_live_indicator_to_session_ended(
    page, make_user, sandbox_cluster, namespace
):
    user = make_user(role="viewer", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    wait_until_live(page)
    log_out_elsewhere(page)
    # The server ends the session's streams at logout (code 4401).
    indicator = page.locator("[data-live-indicator]")
    expect(indicator).to_have_attribute("data-state", "ended")
    expect(indicator).to_contain_text("session ended — sign in again")


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


PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_stack):
    context = browser.new_context(
        base_url=live_stack, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


def sideways_overflow(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth") - PHONE["width"]


def test_at_phone_width_the_scale_control_is_reachable_without_sideways_scrolling(
    phone, make_user, sandbox_cluster, namespace
):
    user = make_user(role="operator", cluster=sandbox_cluster)
    log_in(phone, user.username)
    wait_until_live(phone)
    screenshot(phone, "phone-overview")
    assert sideways_overflow(phone) <= 0

    phone.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    wait_until_live(phone)
    screenshot(phone, "phone-deployments")
    assert sideways_overflow(phone) <= 0
    # The navigation takes one line (or less), not a stack of wrapped links.
    nav = phone.locator("nav.mainnav").bounding_box()
    assert nav["height"] <= 48, nav
    replicas = phone.locator('tr[data-deployment="scorer"] input[name=replicas]')
    replicas.scroll_into_view_if_needed()
    box = replicas.bounding_box()
    button = phone.locator('tr[data-deployment="scorer"] button[type=submit]').bounding_box()
    assert box["x"] >= 0
    assert button["x"] + button["width"] <= PHONE["width"], button
    replicas.tap()
    replicas.fill("2")
    phone.locator('tr[data-deployment="scorer"] button[type=submit]').tap()
    row = phone.locator('tr[data-deployment="scorer"]')
    expect(row.locator("[data-action-id]")).to_have_text("succeeded")
    expect(row.locator('[data-field="ready"]')).to_have_text("2/2")
    assert sideways_overflow(phone) <= 0
    screenshot(phone, "phone-deployments-scaled")


def test_the_scale_input_refuses_a_count_above_the_servers_limit_before_sending_it(
    page, make_user, sandbox_cluster, namespace, settings
):
    user = make_user(role="operator", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    wait_until_live(page)
    replicas = page.locator('tr[data-deployment="scorer"] input[name=replicas]')
    limit = settings.DEPLOYMENT_MAX_REPLICAS  # the same environment as the server's
    expect(replicas).to_have_attribute("max", str(limit))
    replicas.fill(str(limit + 1))
    replicas.press("Enter")
    assert replicas.evaluate("input => input.validity.rangeOverflow") is True
    assert replicas.evaluate("input => input.validationMessage")
    replicas.fill("1")
    replicas.press("Enter")
    expect(page.locator('tr[data-deployment="scorer"] [data-action-id]')).to_have_text("succeeded")
    assert list(
        AuditEvent.objects.filter(name="scorer", namespace=namespace).values_list(
            "parameters", flat=True
        )
    ) == [{"replicas": 1}]


def test_every_page_loads_under_a_strict_content_security_policy_without_violations(
    page, make_user, sandbox_cluster, namespace
):
    problems = []
    page.on(
        "console",
        lambda message: message.type == "error" and problems.append(f"{page.url}: {message.text}"),
    )
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    admin = make_user(superuser=True)
    log_in(page, admin.username)
    wait_until_live(page)
    policy = page.evaluate("fetch('/').then(r => r.headers.get('Content-Security-Policy'))")
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    expect(page.locator("#section-nodes .meter").first).to_be_visible()

    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    wait_until_live(page)
    replicas = page.locator('tr[data-deployment="scorer"] input[name=replicas]')
    replicas.fill("2")
    replicas.press("Enter")
    expect(page.locator('tr[data-deployment="scorer"] [data-action-id]')).to_have_text("succeeded")
    page.goto(f"/clusters/{sandbox_cluster.name}/")
    page.click("text=Test connection")
    expect(page.locator("#test-result")).to_contain_text("Reachable.")
    for path in (
        "/clusters/",
        "/clusters/add/",
        "/audit/",
        "/watcher/",
        "/accounts/token/",
        "/accounts/grants/",
        "/api/docs/",
    ):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title").first).to_contain_text("ML control plane API")
    assert problems == []
