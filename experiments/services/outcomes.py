"""The worker's side of feedback: store outcomes once per request id."""

from __future__ import annotations

from controlplane.audit.models import AuditEvent
from controlplane.kube.errors import NotFound

from ..models import Experiment, Outcome


def outcomes_record(event: AuditEvent) -> dict:
    experiment = Experiment.objects.filter(
        cluster=event.cluster, namespace=event.namespace, name=event.name
    ).first()
    if experiment is None:
        raise NotFound(f'experiment "{event.name}" not found in namespace {event.namespace}')
    outcomes = event.parameters["outcomes"]
    ids = [o["request_id"] for o in outcomes]
    known = set(
        Outcome.objects.filter(experiment=experiment, request_id__in=ids).values_list(
            "request_id", flat=True
        )
    )
    fresh: dict[str, Outcome] = {}
    for o in outcomes:
        if o["request_id"] in known or o["request_id"] in fresh:
            continue
        fresh[o["request_id"]] = Outcome(
            experiment=experiment,
            request_id=o["request_id"],
            variant=o["variant"],
            converted=o["converted"],
            value=o["value"],
            # The time it was reported, so a redelivered task stores the same row.
            received=event.created,
        )
    # A concurrent action with the same request id may land first: the database keeps one.
    Outcome.objects.bulk_create(fresh.values(), ignore_conflicts=True)
    return {"recorded": len(fresh), "duplicates": len(outcomes) - len(fresh)}
