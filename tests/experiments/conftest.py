"""Fixtures of the experiments tests: an experiment made through the API on the offline
cluster (no cluster I/O), running for two hours, and outcomes to feed it."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from controlplane.audit.models import AuditEvent
from experiments.models import Experiment, Outcome, TimelineEntry
from experiments.services.apply import experiment_record

from .helpers import body

URL = "/api/v1/clusters/offline/namespaces/team/experiments/"


@pytest.fixture
def make_experiment(offline_cluster, make_user, api_client_for):
    def make(**extra) -> Experiment:
        api = api_client_for(make_user("mle", role="engineer", cluster=offline_cluster))
        assert api.post(URL, body(**extra), format="json").status_code == 202
        experiment_record(AuditEvent.objects.get(kind="experiment", verb="create"))
        experiment = Experiment.objects.get()
        start = timezone.now() - timedelta(hours=2)
        Experiment.objects.filter(pk=experiment.pk).update(state="running", started=start)
        TimelineEntry.objects.filter(experiment=experiment).update(at=start)
        return Experiment.objects.get()

    return make


def add_conversions(experiment, variant, converted: int, total: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    flags = np.zeros(total, dtype=bool)
    flags[rng.choice(total, converted, replace=False)] = True
    base = experiment.started
    Outcome.objects.bulk_create(
        Outcome(
            experiment=experiment,
            request_id=f"{variant}-{i}",
            variant=variant,
            converted=bool(flag),
            received=base + timedelta(seconds=int(i * 7200 / total)),
        )
        for i, flag in enumerate(flags)
    )
