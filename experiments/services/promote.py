"""Promote a winner by rolling its image out to the control's deployment: a rollout action of
the deployments app (its role check, validation, audit and ordering), requested by the same
person who concluded the experiment."""

from __future__ import annotations

from deployments import selectors as deployment_selectors
from deployments.services.rollout import deployment_rollout

from ..models import Experiment


def promotion_submit(*, actor, experiment: Experiment, winner: str, request_id) -> str:
    """Request the rollout; returns its action id (the conclude action records it)."""
    variants = {v.name: v for v in experiment.variants.all()}
    control = next(v for v in variants.values() if v.control)
    source = deployment_selectors.deployment_get(
        user=actor,
        cluster=experiment.cluster,
        namespace=experiment.namespace,
        name=variants[winner].deployment,
    )
    containers = {c["name"]: c["image"] for c in source["spec"]["template"]["spec"]["containers"]}
    event = deployment_rollout(
        actor=actor,
        cluster=experiment.cluster,
        namespace=experiment.namespace,
        name=control.deployment,
        containers=containers,
        change_cause=f"experiment {experiment.name}: promote {winner}",
        request_id=request_id,
    )
    return str(event.id)
