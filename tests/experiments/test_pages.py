"""The pages: the results page (sentences, SRM, guardrails, charts, timeline, CSV export),
read-only for viewers and with controls for engineers; the list with its create form."""

import csv
import io

import pytest

from controlplane.audit.models import AuditEvent
from experiments.models import Experiment, MetricBucket

from .conftest import add_conversions

pytestmark = [pytest.mark.django_db]
PAGE = "/c/offline/ns/team/experiments/"


@pytest.fixture
def logged_in(client, make_user, offline_cluster):
    def login(role):
        user = make_user(f"p-{role}", role=role, cluster=offline_cluster)
        client.force_login(user)
        return user

    return login


def with_data(make_experiment):
    experiment = make_experiment()
    add_conversions(experiment, "a", 200, 2000)
    add_conversions(experiment, "b", 300, 2000, seed=1)
    for i in range(3):
        for variant in ("a", "b"):
            MetricBucket.objects.create(
                experiment=experiment,
                variant=variant,
                start=experiment.started.replace(microsecond=0, second=i),
                requests=100,
                errors=1,
                latency_sum=5.0,
                latency_counts={"0.05": 60, "0.1": 95, "+Inf": 100},
            )
    return experiment


def test_a_viewer_reads_the_results_without_controls(client, logged_in, make_experiment):
    with_data(make_experiment)
    logged_in("viewer")
    html = client.get(f"{PAGE}ab/").content.decode()
    assert "b raises conversion by 50.0%, 95% CI" in html
    assert "No sample ratio mismatch" in html
    assert "Holm&#x27;s correction covers" in html
    assert html.count("<svg") >= 4  # the cumulative lift and three per-variant charts
    assert "Traffic timeline" in html
    assert 'id="controls"' not in html
    response = client.post(f"{PAGE}ab/pause/")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(verb="pause", status="refused").count() == 1
    assert Experiment.objects.get().state == "running"


def test_an_engineer_sees_the_controls_and_a_step_becomes_an_action(
    client, logged_in, make_experiment
):
    with_data(make_experiment)
    logged_in("engineer")
    html = client.get(f"{PAGE}ab/").content.decode()
    assert 'id="controls"' in html
    assert 'id="conclude-form"' in html
    response = client.post(f"{PAGE}ab/pause/")
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="pause")
    assert event.status == "pending"
    assert f"?action={event.id}" in response["Location"]
    response = client.post(f"{PAGE}ab/weights/", {"weight-a": "60", "weight-b": "60"}, follow=True)
    assert "The weights must sum to 100 (they sum to 120)." in response.content.decode()


def test_the_csv_export_has_one_row_per_metric_and_treatment(client, logged_in, make_experiment):
    with_data(make_experiment)
    logged_in("viewer")
    response = client.get(f"{PAGE}ab/results.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["metric"] for r in rows] == [
        "conversion",
        "error_rate",
        "latency_mean",
        "latency_p95",
        "latency_p99",
    ]
    assert float(rows[0]["rel_lift"]) == pytest.approx(0.5)
    assert rows[0]["sentence"].startswith("b raises conversion by 50.0%")


def test_the_list_page_creates_through_the_service_and_shows_what_is_wrong(
    client, logged_in, offline_cluster
):
    logged_in("engineer")
    form = {
        "name": "ab",
        "routing": "weighted",
        "primary_metric": "conversion",
        "min_samples": 100,
        "min_duration": 0,
        "control": 1,
        "v1_name": "a",
        "v1_deployment": "model-a",
        "v1_service": "model-a",
        "v1_weight": 50,
        "v2_name": "b",
        "v2_deployment": "model-b",
        "v2_service": "model-b",
        "v2_weight": 40,
    }
    response = client.post(PAGE, form)
    assert response.status_code == 400
    assert "variants: The weights must sum to 100 (they sum to 90)." in response.content.decode()
    response = client.post(PAGE, {**form, "v2_weight": 50})
    assert response.status_code == 302
    assert AuditEvent.objects.get(verb="create", status="pending").parameters["name"] == "ab"
    assert "New experiment" in client.get(PAGE).content.decode()


def test_the_experiments_index_lists_what_the_user_may_see(client, logged_in, make_experiment):
    make_experiment()
    logged_in("viewer")
    html = client.get("/experiments/").content.decode()
    assert f'href="{PAGE}ab/"' in html
