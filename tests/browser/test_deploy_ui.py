"""Deploying a model from the browser: check first (warnings, nothing created), then deploy;
the new deployment appears live on the deployments page with its model labels."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.fixtures.controlplane import kubectl_json, wait_for

from .pages import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def namespace(sandbox):
    name = f"d-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


def test_an_engineer_checks_then_deploys_a_model_from_the_form(
    page, make_user, sandbox, sandbox_cluster, namespace
):
    engineer = make_user(role="engineer", cluster=sandbox_cluster)
    log_in(page, engineer.username)
    page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    page.get_by_role("link", name="Deploy a model").click()
    expect(page.locator("h1")).to_contain_text("Deploy a model")

    page.fill("input[name=name]", "iris")
    page.fill("input[name=model_name]", "iris")
    page.fill("input[name=model_version]", "v1")
    page.fill("input[name=image]", "example/iris-model:latest")
    page.fill("input[name=container_port]", "8501")
    page.fill("input[name=cpu_request]", "100m")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("[data-field=warnings]")).to_contain_text("is tagged latest")
    screenshot(page, "deploy-check")
    assert kubectl_json(sandbox, "-n", namespace, "get", "deployments")["items"] == []

    page.fill("input[name=image]", "example/iris-model:1.0")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("[data-field=warnings]")).to_have_text("No warnings.")
    page.get_by_role("button", name="Deploy", exact=True).click()
    page.wait_for_url(f"**/c/{sandbox_cluster.name}/ns/{namespace}/deployments/")
    expect(page.get_by_text("action")).not_to_have_count(0)
    row = page.locator('tr[data-deployment="iris"]')
    expect(row).to_contain_text("model.mlcp.io/version", timeout=30_000)
    screenshot(page, "deploy-done")
    wait_for(
        lambda: sandbox.kubectl("-n", namespace, "get", "service", "iris").returncode == 0,
        what="the Service",
    )
