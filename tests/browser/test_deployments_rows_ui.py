"""The deployments list in Chromium: a live change to one deployment re-renders its row alone,
never the whole list (at 2,000 deployments the list is megabytes)."""

import json
import uuid

import pytest
from playwright.sync_api import expect

from .pages import log_in, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def namespace(sandbox):
    name = f"r-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


def test_a_live_change_to_one_deployment_re_renders_only_its_row(
    page, make_user, sandbox, sandbox_cluster, namespace
):
    for name in ("alpha", "beta", "gamma"):
        sandbox.kubectl(
            "create", "deployment", name, "--image=busybox", "-n", namespace, check=True
        )
    user = make_user(role="viewer", cluster=sandbox_cluster)
    log_in(page, user.username)
    frames: list[dict] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda payload: (
                frames.append(json.loads(payload)) if isinstance(payload, str) else None
            ),
        ),
    )
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    wait_until_live(page)
    for name in ("alpha", "beta", "gamma"):
        expect(page.locator(f'tr[data-deployment="{name}"] [data-field="ready"]')).to_have_text(
            "1/1", timeout=30_000
        )
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    heard = len(frames)
    page.evaluate("window.__notReloaded = true")
    sandbox.kubectl("scale", "deployment/beta", "--replicas=2", "-n", namespace, check=True)
    beta = page.locator('tr[data-deployment="beta"]')
    expect(beta.locator('[data-field="ready"]')).to_have_text("2/2", timeout=30_000)
    assert page.evaluate("window.__notReloaded") is True
    assert any("/deployments/_row/beta/" in url for url in fetched)
    # Only what a row cannot show (a deployment added or deleted, a relist after a lost
    # watch) refreshes the table; a change to one deployment never does.
    whole = [
        f
        for f in frames[heard:]
        if f.get("type") == "kube.event"
        and f.get("kind") == "deployments"
        and f.get("event") != "MODIFIED"
    ]
    tables = [url for url in fetched if "/deployments/_table/" in url]
    assert not tables or whole, [
        (f.get("kind"), f.get("event"), f.get("key")) for f in frames[heard:]
    ]
    expect(page.locator("tr[data-deployment]")).to_have_count(3)
