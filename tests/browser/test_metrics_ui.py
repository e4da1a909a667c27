"""The deployment's metrics page in a browser: charts drawn from the stored series, a new
sample appended live (no reload, no full redraw), exact values and time on hover."""

import uuid

import pytest
from playwright.sync_api import expect

from deployments.metrics.sampling import metrics_sample
from tests.controlplane.metrics_support import clear_metrics, sample_deployment

from .pages import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def namespace(sandbox):
    name = f"m-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


def test_a_viewer_sees_a_new_sample_arrive_on_the_deployments_charts(
    page, make_user, sandbox, sandbox_cluster, namespace, tmp_path
):
    sample_deployment(sandbox, sandbox_cluster, namespace, tmp_path, cpu="250m")
    user = make_user(role="viewer", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/model/")
    page.get_by_role("link", name="Metrics: CPU and memory per pod").click()
    expect(page).to_have_url(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/model/metrics/")
    cpu = page.locator('[data-chart="cpu"]')
    # Two samples of two pods and their total.
    expect(cpu).to_have_attribute("data-points", "6")
    page.wait_for_selector("[data-metrics-live][data-state=live]")
    draws = page.evaluate("window.metricsPage.charts.cpu.stats.fullDraws")
    page.evaluate("window.__notReloaded = true")

    assert metrics_sample(cluster=sandbox_cluster).status == "ok"

    expect(cpu).to_have_attribute("data-points", "9", timeout=15_000)
    stats = page.evaluate("window.metricsPage.charts.cpu.stats")
    assert stats["appends"] == 3
    assert stats["fullDraws"] == draws
    assert page.evaluate("window.__notReloaded") is True

    box = cpu.locator("canvas.chart-overlay").bounding_box()
    # Over the newest sample (the axis runs a tenth of the window past it).
    newest_x = page.evaluate(
        "(() => { const c = window.metricsPage.charts.cpu, s = c.series[0];"
        " return c.x(s.times[s.n - 1]); })()"
    )
    page.mouse.move(box["x"] + newest_x, box["y"] + box["height"] / 2)
    tip = cpu.locator(".chart-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("UTC")
    expect(tip).to_contain_text("total: 500.0m cores")
    screenshot(page, "deployment-metrics")
    clear_metrics(sandbox_cluster.name)
