"""What the worker does for experiment actions: the database rows and the routing object.

Each step is idempotent for a redelivered task: the timeline holds one entry per action, and
the routing object is written whole (create or replace) from the state the experiment is in.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from controlplane.audit.models import AuditEvent
from controlplane.kube import routing as kube_routing
from controlplane.kube.errors import AlreadyExists, Conflict, NotFound

from .. import routing
from ..lifecycle import TARGET_STATE, TRANSITIONS
from ..models import Experiment, State, TimelineEntry, Variant


def effective_weights(experiment: Experiment) -> dict[str, int]:
    """The share of traffic each variant gets in the experiment's present state."""
    variants = list(experiment.variants.all())
    if experiment.state == State.RUNNING or experiment.state == State.DRAFT:
        return {v.name: v.weight for v in variants}
    if experiment.state == State.CONCLUDED and experiment.promotion == "route":
        sole = experiment.winner
    else:
        # Paused, aborted, or promoted by a rollout to the control's own deployment.
        sole = next(v.name for v in variants if v.control)
    return {v.name: 100 if v.name == sole else 0 for v in variants}


def route_object(experiment: Experiment) -> dict:
    weights = effective_weights(experiment)
    backends = [
        routing.Backend(variant=v.name, service=v.service, port=v.port, weight=weights[v.name])
        for v in experiment.variants.all()
    ]
    return routing.route_object(
        routing=experiment.routing,
        name=experiment.name,
        namespace=experiment.namespace,
        backends=backends,
    )


def route_apply(experiment: Experiment) -> dict:
    written = kube_routing.route_put(experiment.cluster.connection(), body=route_object(experiment))
    meta = written.get("metadata") or {}
    return {
        "routing_object": f"{written.get('kind')}/{meta.get('name')}",
        "resource_version": meta.get("resourceVersion"),
    }


def _experiment(event: AuditEvent) -> Experiment:
    experiment = (
        Experiment.objects.filter(cluster=event.cluster, namespace=event.namespace, name=event.name)
        .prefetch_related("variants")
        .first()
    )
    if experiment is None:
        raise NotFound(f'experiment "{event.name}" not found in namespace {event.namespace}')
    return experiment


def _timeline(experiment: Experiment, *, event: AuditEvent, kind: str, detail: str = "") -> None:
    try:
        with transaction.atomic():
            TimelineEntry.objects.create(
                experiment=experiment,
                at=timezone.now(),
                kind=kind,
                state=experiment.state,
                weights=effective_weights(experiment),
                detail=detail,
                actor=event.actor_name or "system",
                action_id=event.id,
            )
    except IntegrityError:
        pass  # recorded by an earlier run of the same action


def _create(event: AuditEvent) -> Experiment:
    p = event.parameters
    with transaction.atomic():
        experiment = Experiment.objects.create(
            cluster=event.cluster,
            namespace=event.namespace,
            name=p["name"],
            hypothesis=p["hypothesis"],
            routing=p["routing"],
            primary_metric=p["primary_metric"],
            guardrails=p["guardrails"],
            min_samples=p["min_samples"],
            min_duration=p["min_duration"],
            created_by=event.actor_name,
        )
        Variant.objects.bulk_create(
            Variant(
                experiment=experiment,
                name=v["name"],
                deployment=v["deployment"],
                service=v["service"],
                port=v["port"],
                weight=v["weight"],
                control=v["control"],
                position=i,
            )
            for i, v in enumerate(p["variants"])
        )
        _timeline(experiment, event=event, kind="created")
    return experiment


def experiment_record(event: AuditEvent) -> dict:
    """Create the draft experiment the action describes."""
    p = event.parameters
    existing = Experiment.objects.filter(
        cluster=event.cluster, namespace=event.namespace, name=p["name"]
    ).first()
    if existing is not None:
        if existing.timeline.filter(action_id=event.id).exists():
            return {"experiment": existing.name, "state": existing.state}
        raise AlreadyExists(
            f'experiment "{p["name"]}" already exists in namespace {event.namespace}'
        )
    try:
        experiment = _create(event)
    except IntegrityError:
        # The same action's other delivery (a redelivered task) created it a moment ago.
        existing = Experiment.objects.get(
            cluster=event.cluster, namespace=event.namespace, name=p["name"]
        )
        if existing.timeline.filter(action_id=event.id).exists():
            return {"experiment": existing.name, "state": existing.state}
        raise AlreadyExists(
            f'experiment "{p["name"]}" already exists in namespace {event.namespace}'
        ) from None
    return {"experiment": experiment.name, "state": experiment.state}


def experiment_transition(event: AuditEvent) -> dict:
    """start, resume, pause, conclude, abort: check, move the state, rewrite the routing."""
    experiment = _experiment(event)
    verb = event.verb
    already = experiment.timeline.filter(action_id=event.id).exists()
    if not already and experiment.state not in TRANSITIONS[verb]:
        raise Conflict(
            f"cannot {verb} the experiment: it is {experiment.state} now "
            f"(changed since the request)"
        )
    now = timezone.now()
    if not already:
        experiment.state = TARGET_STATE[verb]
        if verb == "start":
            experiment.started = now
        if verb == "conclude":
            experiment.winner = event.parameters["winner"]
            experiment.promotion = event.parameters["promotion"]
        if verb in ("conclude", "abort"):
            experiment.ended = now
        detail = event.parameters.get("reason", "")
        if verb == "conclude":
            detail = f"winner {experiment.winner}, promoted by {experiment.promotion}"
    result: dict = {}
    if verb != "abort" or experiment.started is not None:
        # A draft never had a routing object: aborting it writes none.
        result = route_apply(experiment)
    if not already:
        with transaction.atomic():
            experiment.save()
            _timeline(experiment, event=event, kind=verb, detail=detail)
    return {**result, "state": experiment.state, "weights": effective_weights(experiment)}


def experiment_weights_apply(event: AuditEvent) -> dict:
    experiment = _experiment(event)
    if experiment.state not in TRANSITIONS["set_weights"]:
        raise Conflict(f"cannot change the weights: the experiment is {experiment.state}")
    weights = event.parameters["weights"]
    with transaction.atomic():
        for variant in experiment.variants.all():
            variant.weight = weights[variant.name]
            variant.save(update_fields=["weight"])
    experiment = _experiment(event)
    result = route_apply(experiment) if experiment.state == State.RUNNING else {}
    _timeline(
        experiment,
        event=event,
        kind="weights",
        detail=", ".join(f"{k} {v}%" for k, v in weights.items()),
    )
    return {**result, "weights": weights, "applied": experiment.state == State.RUNNING}


def experiment_remove(event: AuditEvent) -> dict:
    kind = routing.route_kind(event.parameters["routing"])
    removed = kube_routing.route_delete(
        event.cluster.connection(), kind=kind, namespace=event.namespace, name=event.name
    )
    deleted, _ = Experiment.objects.filter(
        cluster=event.cluster, namespace=event.namespace, name=event.name
    ).delete()
    return {"routing_object_deleted": removed, "experiment_deleted": bool(deleted)}
