"""Rollouts and the command palette in a browser: a rollout started from the roll-out page and
followed live on the deployment page, a bad image shown stuck and rolled back in one click
(kubectl as the witness), and jumping to a deployment by typing its name."""

import re

import pytest
from playwright.sync_api import expect

from tests.fixtures.controlplane import kubectl_json, make_deployment, wait_for

from .pages import log_in, screenshot, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every value the new ReplicaSet's ready/desired cell shows, as the page changes.
RECORD_NEW_READY = """(original) => {
  window.__newReady = [];
  const note = () => {
    const row = document.querySelector('#deployment-rollout tr[data-role="new"][data-replicaset]');
    if (!row || row.dataset.replicaset === original) return;
    const text = row.querySelector('[data-field="new-ready"]').textContent.trim();
    const seen = window.__newReady;
    if (seen[seen.length - 1] !== text) seen.push(text);
  };
  note();
  new MutationObserver(note).observe(document.getElementById('content'),
    { subtree: true, childList: true, characterData: true });
}"""


def detail_url(cluster, namespace, name="web"):
    return f"/c/{cluster.name}/ns/{namespace}/deployments/{name}/"


def image_in_cluster(sandbox, namespace, name="web") -> str:
    body = kubectl_json(sandbox, "-n", namespace, "get", "deployment", name)
    return body["spec"]["template"]["spec"]["containers"][0]["image"]


def roll_out_from_the_page(page, cluster, namespace, image: str, cause: str) -> None:
    page.goto(detail_url(cluster, namespace))
    page.locator("#action-rollout").click()
    expect(page).to_have_url(detail_url(cluster, namespace) + "rollout/")
    page.fill("input[name=image-model]", image)
    page.fill("input[name=change_cause]", cause)
    page.locator("#rollout-form button[name=rollout]").click()
    expect(page).to_have_url(detail_url(cluster, namespace))
    expect(page.locator(".messages")).to_contain_text("Rolling out")


def test_an_engineer_rolls_out_and_watches_the_new_replica_set_fill_up_live(
    page, celery_worker, make_user, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    # The new pods take a while to become ready, so the rollout has steps a person can see.
    sandbox.script(
        "behaviors",
        {"match": {"namespace": kube_namespace, "image": "*:2"}, "readinessDelaySeconds": 3},
    )
    make_deployment(sandbox, kube_namespace, tmp_path, replicas=3)
    user = make_user(role="engineer", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto(detail_url(sandbox_cluster, kube_namespace))
    rollout = page.locator("#deployment-rollout")
    expect(rollout.locator('[data-field="new-ready"]')).to_have_text("3/3", timeout=30_000)
    original = rollout.locator('tr[data-role="new"]').get_attribute("data-replicaset")

    roll_out_from_the_page(page, sandbox_cluster, kube_namespace, "example/model:2", "model v2")
    wait_until_live(page)
    page.evaluate("window.__notReloaded = true")
    page.evaluate(RECORD_NEW_READY, original)
    # The new ReplicaSet fills up and the old one empties, without a reload.
    new_row = rollout.locator('tr[data-role="new"]')
    expect(new_row).to_contain_text("example/model:2", timeout=30_000)
    expect(new_row.locator('[data-field="new-ready"]')).to_have_text("3/3", timeout=90_000)
    expect(rollout.locator('[data-field="rollout-state"]')).to_have_text("complete")
    expect(rollout.locator('tr[data-role="old"]')).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True
    seen = page.evaluate("window.__newReady")
    ready = [int(text.split("/")[0]) for text in seen]
    assert ready == sorted(ready), seen  # it only ever rises
    assert any(0 < count < 3 for count in ready), seen  # and it was seen part way
    expect(page.locator("#deployment-pods tbody tr[data-pod]")).to_have_count(3)
    expect(page.locator("#deployment-pods tbody tr[data-pod] .pill.ok")).to_have_count(3)
    expect(page.locator("#deployment-revisions")).to_contain_text("model v2")
    expect(page.locator("#revision-diff")).to_contain_text("example/model:2")
    screenshot(page, "rollout-followed-live")
    # `b` opens the roll back confirmation, which has followed the rollout to revision 2.
    page.keyboard.press("b")
    rollback = page.locator("#action-rollback")
    expect(rollback).to_have_attribute("open", "")
    expect(rollback).to_contain_text("from revision 2 to revision 1")
    expect(rollback.locator("button[type=submit]")).to_be_focused()
    page.keyboard.press("Escape")
    expect(rollback).not_to_have_attribute("open", re.compile(".*"))


def test_a_bad_image_is_shown_stuck_and_rolled_back_in_one_click(
    page, celery_worker, make_user, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    sandbox.script("registry", {"missingImages": ["registry.invalid/*"]})
    make_deployment(sandbox, kube_namespace, tmp_path, replicas=2)
    user = make_user(role="engineer", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto(detail_url(sandbox_cluster, kube_namespace))
    expect(page.locator('#deployment-rollout [data-field="new-ready"]')).to_have_text(
        "2/2", timeout=30_000
    )

    roll_out_from_the_page(
        page, sandbox_cluster, kube_namespace, "registry.invalid/model:2", "broken build"
    )
    wait_until_live(page)
    stuck = page.locator("#deployment-stuck")
    expect(stuck).to_contain_text("ImagePullBackOff", timeout=60_000)
    expect(stuck).to_contain_text("Rollout stuck")
    # The old pods keep serving meanwhile.
    expect(page.locator('#deployment-rollout [data-field="old-ready"]')).to_have_text("2/2")
    screenshot(page, "rollout-stuck")

    stuck.locator("#stuck-rollback").click()
    expect(page.locator(".messages")).to_contain_text("Rollback")
    wait_for(
        lambda: image_in_cluster(sandbox, kube_namespace) == "example/model:1",
        timeout=60,
        what="kubectl to show the old image again",
    )
    wait_until_live(page)
    expect(page.locator('#deployment-rollout [data-field="rollout-state"]')).to_have_text(
        "complete", timeout=60_000
    )
    expect(page.locator("#deployment-stuck")).to_have_count(0)
    expect(page.locator("#deployment-audit")).to_contain_text("rollback")


def test_slash_opens_the_palette_and_enter_jumps_to_the_deployment(
    page, make_user, sandbox, sandbox_cluster, kube_namespace, tmp_path
):
    make_deployment(sandbox, kube_namespace, tmp_path, name="haystack")
    make_deployment(sandbox, kube_namespace, tmp_path, name="needle-finder")
    user = make_user(role="operator", cluster=sandbox_cluster)
    log_in(page, user.username)
    page.goto(detail_url(sandbox_cluster, kube_namespace, "haystack"))
    search = f"/c/{sandbox_cluster.name}/search/?q=needle"
    wait_for(
        lambda: "needle-finder" in page.request.get(search).text(),
        timeout=30,
        what="the watcher's cache to hold the deployment",
    )
    palette = page.locator("dialog#palette")
    page.keyboard.press("/")
    expect(palette).to_be_visible()
    expect(page.locator("#palette-input")).to_be_focused()
    # Escape closes it and nothing was typed anywhere.
    page.keyboard.press("Escape")
    expect(palette).to_be_hidden()

    page.keyboard.press("/")
    page.keyboard.type("needle-fi")
    option = page.locator("#palette-results [role=option][aria-selected=true]")
    expect(option).to_contain_text("needle-finder")
    expect(option).to_contain_text(kube_namespace)
    page.keyboard.press("Enter")
    expect(page).to_have_url(detail_url(sandbox_cluster, kube_namespace, "needle-finder"))

    # On the deployment page one key opens an action's confirmation, and keys typed into
    # its field are just typing.
    wait_until_live(page)
    page.keyboard.press("s")
    scale = page.locator("#action-scale")
    expect(scale).to_have_attribute("open", "")
    replicas = scale.locator("input[name=replicas]")
    expect(replicas).to_be_focused()
    page.keyboard.press("r")
    expect(page.locator("#action-restart")).not_to_have_attribute("open", re.compile(".*"))
    page.keyboard.press("Escape")
    expect(scale).not_to_have_attribute("open", re.compile(".*"))
    page.keyboard.press("Control+k")
    expect(palette).to_be_visible()
