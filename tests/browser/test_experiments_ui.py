"""The experiments results page in Chromium: a product owner (viewer) reads the verdicts, the
charts and the timeline without any control; an engineer pauses the experiment from it."""

import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from experiments.models import Experiment, Outcome, TimelineEntry, Variant
from tests.fixtures.controlplane import wait_for

from .pages import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def experiment(sandbox, sandbox_cluster):
    namespace = f"x-{uuid.uuid4().hex[:8]}"
    # Pausing writes the experiment's HTTPRoute into this namespace.
    sandbox.kubectl("create", "namespace", namespace, check=True)
    start = timezone.now() - timedelta(hours=3)
    exp = Experiment.objects.create(
        cluster=sandbox_cluster,
        namespace=namespace,
        name="ranker-ab",
        hypothesis="The new ranker converts better",
        routing="weighted",
        primary_metric="conversion",
        state="running",
        started=start,
        created_by="mle",
    )
    for i, (name, control) in enumerate((("a", True), ("b", False))):
        Variant.objects.create(
            experiment=exp,
            name=name,
            deployment=f"ranker-{name}",
            service=f"ranker-{name}",
            port=80,
            weight=50,
            control=control,
            position=i,
        )
    TimelineEntry.objects.create(
        experiment=exp, at=start, kind="start", state="running", weights={"a": 50, "b": 50}
    )
    rng = np.random.default_rng(5)
    rows = []
    for variant, rate in (("a", 0.10), ("b", 0.13)):
        for i in range(1500):
            rows.append(
                Outcome(
                    experiment=exp,
                    request_id=f"{variant}{i}",
                    variant=variant,
                    converted=bool(rng.random() < rate),
                    received=start + timedelta(seconds=i * 7),
                )
            )
    Outcome.objects.bulk_create(rows)
    return exp


def results_url(exp) -> str:
    return f"/c/{exp.cluster.name}/ns/{exp.namespace}/experiments/{exp.name}/"


def test_a_viewer_reads_the_results_and_sees_no_controls(page, make_user, experiment):
    viewer = make_user(role="viewer", cluster=experiment.cluster)
    log_in(page, viewer.username)
    page.goto(results_url(experiment))
    verdict = page.locator("#verdicts .verdict").first
    expect(verdict).to_contain_text("b raises conversion by")
    expect(verdict).to_contain_text("95% CI")
    expect(page.locator("#srm")).to_contain_text("No sample ratio mismatch")
    expect(page.locator("#correction")).to_contain_text("Holm")
    expect(page.locator("#charts svg").first).to_be_visible()
    expect(page.locator("#timeline tbody tr")).to_have_count(1)
    expect(page.locator("#controls")).to_have_count(0)
    expect(page.locator("#csv-export")).to_have_attribute(
        "href", f"{results_url(experiment)}results.csv"
    )
    screenshot(page, "experiment-results-viewer")
    # The navigation's Experiments entry lists it.
    page.click("nav.mainnav >> text=Experiments")
    expect(page.locator("#experiments-all")).to_contain_text("ranker-ab")


def test_an_engineer_pauses_the_experiment_from_its_page(page, make_user, experiment):
    engineer = make_user(role="engineer", cluster=experiment.cluster)
    log_in(page, engineer.username)
    page.goto(results_url(experiment))
    expect(page.locator("#controls")).to_be_visible()
    page.click("#controls button:has-text('Pause')")
    expect(page.locator(".messages")).to_contain_text("Pause requested")

    def paused():
        page.reload()
        return page.locator("#experiment-state").inner_text() == "paused"

    wait_for(paused, timeout=60, what="the experiment to be paused")
    expect(page.locator("#timeline tbody tr")).to_have_count(2)
    expect(page.locator("#controls button:has-text('Resume')")).to_be_visible()
    screenshot(page, "experiment-results-engineer")
