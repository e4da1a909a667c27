"""Outcomes over the feedback API: idempotent per request id, one JSON outcome or a CSV file,
each request an audited action that the worker records."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from experiments.models import Experiment, Outcome

from .helpers import finished

pytestmark = [pytest.mark.django_db(transaction=True)]
URL = "/api/v1/clusters/offline/namespaces/team/experiments/ab/"


@pytest.fixture
def running(make_experiment):
    return make_experiment()


@pytest.fixture
def engineer(offline_cluster, make_user, api_client_for):
    return api_client_for(make_user("app", role="engineer", cluster=offline_cluster))


def test_the_same_request_id_is_recorded_once(celery_worker, running, engineer):
    outcome = {"request_id": "req-1", "variant": "b", "converted": True}
    first = finished(engineer, engineer.post(f"{URL}feedback/", outcome, format="json"))
    assert first["result"] == {"recorded": 1, "duplicates": 0}
    # A retried POST (even with another answer) does not count twice: the first one stands.
    again = {**outcome, "converted": False}
    second = finished(engineer, engineer.post(f"{URL}feedback/", again, format="json"))
    assert second["result"] == {"recorded": 0, "duplicates": 1}
    assert list(Outcome.objects.values_list("request_id", "variant", "converted")) == [
        ("req-1", "b", True)
    ]
    score = {"request_id": "req-2", "variant": "a", "value": 4.5}
    finished(engineer, engineer.post(f"{URL}feedback/", score, format="json"))
    assert Outcome.objects.get(request_id="req-2").value == 4.5


def test_a_csv_upload_records_its_rows_and_skips_known_request_ids(
    celery_worker, running, engineer
):
    Outcome.objects.create(
        experiment=Experiment.objects.get(),
        request_id="r1",
        variant="a",
        converted=True,
        received=running.started,
    )
    text = "request_id,variant,converted,value\nr1,a,yes,\nr2,b,no,\nr3,b,,2.5\nr2,b,1,\n"
    upload = SimpleUploadedFile("outcomes.csv", text.encode(), content_type="text/csv")
    response = engineer.post(f"{URL}feedback/csv/", {"file": upload}, format="multipart")
    done = finished(engineer, response)
    assert done["result"] == {"recorded": 2, "duplicates": 2}
    assert done["parameters"]["outcomes"][1] == {
        "request_id": "r2",
        "variant": "b",
        "converted": False,
        "value": None,
    }
    assert sorted(Outcome.objects.values_list("request_id", flat=True)) == ["r1", "r2", "r3"]


def test_a_bad_csv_names_the_line_and_column_and_records_nothing(running, engineer):
    text = "request_id,variant,converted\nr1,a,true\nr2,z,true\nr3,a,maybe\n"
    upload = SimpleUploadedFile("outcomes.csv", text.encode(), content_type="text/csv")
    response = engineer.post(f"{URL}feedback/csv/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    errors = response.json()
    assert errors["line 3.variant"] == ["Choose one of: a, b."]
    assert errors["line 4"] == ["Not a boolean or number: 'maybe'."]
    upload = SimpleUploadedFile("x.csv", b"id,who\n1,2\n", content_type="text/csv")
    response = engineer.post(f"{URL}feedback/csv/", {"file": upload}, format="multipart")
    assert "The header must name request_id, variant" in response.json()["file"][0]
    assert not Outcome.objects.exists()
