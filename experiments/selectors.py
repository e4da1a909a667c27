"""Reads of experiments: lists, one experiment with its timeline, role-checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can
from controlplane.kube.errors import NotFound
from controlplane.kube.names import validate_object_names

from .models import Experiment
from .routing import route_kind
from .services.apply import effective_weights

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


def require_view(*, user: User, cluster: Cluster, namespace: str) -> None:
    if not user_can(user=user, permission="view", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You may not view namespace {namespace} on cluster {cluster.name}.")


def experiment_list(*, user: User, cluster: Cluster, namespace: str) -> list[Experiment]:
    validate_object_names(namespace=namespace)
    require_view(user=user, cluster=cluster, namespace=namespace)
    return list(
        Experiment.objects.filter(cluster=cluster, namespace=namespace).prefetch_related("variants")
    )


def experiment_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> Experiment:
    validate_object_names(namespace=namespace, name=name)
    require_view(user=user, cluster=cluster, namespace=namespace)
    experiment = (
        Experiment.objects.filter(cluster=cluster, namespace=namespace, name=name)
        .select_related("cluster")
        .prefetch_related("variants", "timeline")
        .first()
    )
    if experiment is None:
        raise NotFound(f'experiment "{name}" not found in namespace {namespace}')
    return experiment


def experiment_summary(experiment: Experiment) -> dict:
    """The experiment as the API and pages show it."""
    return {
        "name": experiment.name,
        "cluster": experiment.cluster.name,
        "namespace": experiment.namespace,
        "hypothesis": experiment.hypothesis,
        "routing": experiment.routing,
        "routing_object": f"{route_kind(experiment.routing)}/{experiment.name}",
        "state": experiment.state,
        "primary_metric": experiment.primary_metric,
        "guardrails": experiment.guardrails,
        "min_samples": experiment.min_samples,
        "min_duration": experiment.min_duration,
        "winner": experiment.winner,
        "promotion": experiment.promotion,
        "variants": [
            {
                "name": v.name,
                "deployment": v.deployment,
                "service": v.service,
                "port": v.port,
                "weight": v.weight,
                "control": v.control,
            }
            for v in experiment.variants.all()
        ],
        "traffic": effective_weights(experiment),
        "guardrail_status": experiment.guardrail_status,
        "timeline": [
            {
                "at": t.at,
                "kind": t.kind,
                "state": t.state,
                "weights": t.weights,
                "detail": t.detail,
                "actor": t.actor,
                "action_id": t.action_id,
            }
            for t in experiment.timeline.all()
        ],
        "created_by": experiment.created_by,
        "created": experiment.created,
        "started": experiment.started,
        "ended": experiment.ended,
        "last_collected": experiment.last_collected,
        "collection_error": experiment.collection_error,
    }


def experiment_results_get(*, user: User, cluster: Cluster, namespace: str, name: str) -> dict:
    from .results import experiment_results

    experiment = experiment_get(user=user, cluster=cluster, namespace=namespace, name=name)
    return experiment_results(experiment)
