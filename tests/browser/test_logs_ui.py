"""The log viewer in a browser: opened from the deployment page, it follows live, filters,
and stops auto-scrolling while the reader scrolls up."""

import time
import uuid

import pytest
from playwright.sync_api import expect

from .pages import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINE_COUNT = "document.querySelectorAll('#log-root .log-line').length"


def _until(page, expression: str, timeout: float = 20.0):
    """Poll an expression in the page (wait_for_function evaluates strings, which the
    Content-Security-Policy refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


@pytest.fixture
def namespace(sandbox):
    name = f"l-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    rule = sandbox.script(
        "behaviors",
        {
            "match": {"namespace": name},
            "startupLogLines": [f"boot step {i}" for i in range(1, 80)],
            "logLines": ["GET /healthz 200", "POST /v1/models/pets:predict 200"],
            "logLinesPerSecond": 8,
        },
    )["id"]
    yield name
    sandbox.script(f"behaviors/{rule}", method="DELETE")
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


def test_a_viewer_follows_a_pods_log_filters_it_and_pauses_auto_scroll_on_scroll_up(
    page, make_user, sandbox, sandbox_cluster, namespace
):
    sandbox.kubectl(
        "create", "deployment", "pets", "--image=registry.local/pets:1", "-n", namespace, check=True
    )
    user = make_user(role="viewer", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/pets/")
    page.locator("#deployment-pods a[data-pod-logs]").first.click(timeout=30_000)
    expect(page.locator("[data-log-state]")).to_have_attribute("data-state", "ok", timeout=30_000)
    lines = page.locator("#log-root .log-line")
    expect(lines.filter(has_text="boot step 79")).to_have_count(1)
    # Follow: lines written after the page opened arrive without a reload.
    before = lines.count()
    expect(lines.filter(has_text="predict")).not_to_have_count(0)
    _until(page, f"{LINE_COUNT} > {before + 4}")
    # Filter: matches are highlighted; with "hide" only matching lines stay visible.
    page.fill("[data-log-filter]", "predict")
    expect(page.locator("#log-root mark").first).to_have_text("predict")
    page.check("[data-log-only]")
    expect(page.locator("#log-root .log-line:visible").filter(has_text="healthz")).to_have_count(0)
    expect(
        page.locator("#log-root .log-line:visible").filter(has_text="predict")
    ).not_to_have_count(0)
    screenshot(page, "logs-filtered")
    page.uncheck("[data-log-only]")
    page.fill("[data-log-filter]", "")
    # Scrolling up pauses auto-scroll: new lines arrive, the view stays where the reader is.
    page.evaluate("document.getElementById('log-root').scrollTop = 0")
    resume = page.locator("[data-log-resume]")
    expect(resume).to_be_visible()
    count = lines.count()
    _until(page, f"{LINE_COUNT} > {count + 2}")
    assert page.evaluate("document.getElementById('log-root').scrollTop") == 0
    resume.click()
    expect(resume).to_be_hidden()
    at_bottom = (
        "(r => r.scrollHeight - r.scrollTop - r.clientHeight < 30)"
        "(document.getElementById('log-root'))"
    )
    _until(page, at_bottom)
    # Timestamps on: shown before each line, and the download asks for them.
    page.check("[data-log-timestamps]")
    expect(page.locator("#log-root .log-ts").first).to_be_visible()
    assert "timestamps=true" in page.locator("[data-log-download]").get_attribute("href")
