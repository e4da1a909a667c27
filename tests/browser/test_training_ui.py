"""Launching a training Job from the form and following it: the run page fills in its
progress (epoch i of N, the loss chart) and its end without a reload. The periodic sync that
Celery beat runs in production is run here by a thread of the test."""

import json
import threading
import uuid

import pytest
from django.db import connection
from playwright.sync_api import expect

from tests.fixtures.controlplane import kubectl_json
from trainer.sync import trainingrun_sync_active

from .pages import log_in, screenshot, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def progress(event, **fields):
    return "TRAINING_PROGRESS " + json.dumps({"event": event, **fields})


@pytest.fixture
def namespace(sandbox):
    name = f"tr-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("create", "namespace", name, check=True)
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def beat():
    """The sync task's work, every half second, until the test ends."""
    stop = threading.Event()

    def loop():
        try:
            while not stop.wait(0.5):
                trainingrun_sync_active()
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name="training-sync", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


def test_an_engineer_launches_a_job_from_the_form_and_follows_its_progress(
    page, make_user, sandbox, sandbox_cluster, namespace, beat
):
    epoch = {"epochs": 2, "val_loss": 1.1, "val_mean_iou": 0.2, "epoch_seconds": 1.0}
    rule = sandbox.script(
        "behaviors",
        {
            "match": {"namespace": namespace},
            "runSeconds": 22,
            "startupLogLines": [
                progress("start", epochs=2, start_epoch=1, resumed=False),
                progress("epoch", epoch=1, loss=1.4, mean_iou=0.1, **epoch),
            ],
            "logLines": [
                progress("epoch", epoch=2, loss=0.8, mean_iou=0.3, **epoch),
                progress("end", status="succeeded", epochs=2, export="/output/x/model"),
            ],
            "logLinesPerSecond": 0.1,
        },
    )
    try:
        engineer = make_user(role="engineer", cluster=sandbox_cluster)
        log_in(page, engineer.username)
        page.goto(f"/c/{sandbox_cluster.name}/ns/{namespace}/training/")
        page.get_by_role("link", name="Launch a training Job").click()
        page.fill("input[name=name]", "pets")
        page.fill("input[name=image]", "example/pet-unet-trainer:1.0")
        page.fill("input[name=data_uri]", "gs://example-data/pets")
        page.fill("input[name=epochs]", "2")
        page.fill("input[name=backoff_limit]", "1")
        page.get_by_role("button", name="Launch").click()
        page.wait_for_url("**/training/*/")
        wait_until_live(page)

        expect(page.locator("#run-progress [data-field=progress]")).to_contain_text(
            "epoch 1 of 2", timeout=30_000
        )
        expect(page.locator('figure[data-chart="Loss"]')).to_be_visible()
        screenshot(page, "training-progress")
        expect(page.locator("#run-summary [data-field=status]")).to_have_text(
            "succeeded", timeout=60_000
        )
        expect(page.locator("#run-progress [data-field=progress]")).to_contain_text("epoch 2 of 2")
        expect(page.locator("[data-field=attempts]")).to_contain_text("of backoffLimit 1")
        expect(page.get_by_role("button", name="Deploy this model")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
        screenshot(page, "training-succeeded")
    finally:
        sandbox.script(f"behaviors/{rule['id']}", method="DELETE")
    job = kubectl_json(sandbox, "-n", namespace, "get", "job", "pets")
    assert job["spec"]["backoffLimit"] == 1
    assert "backoffLimit" not in job["spec"]["template"]["spec"]
