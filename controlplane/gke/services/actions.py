"""What every GKE change shares: the admin check and input check (each refusal audited),
then an action (202 + a Celery task that starts Google's operation and follows it to DONE,
controlplane/gke/operations.py)."""

from __future__ import annotations

from controlplane.audit.models import AuditEvent
from controlplane.audit.services import action_submit, audit_invalid

from ..live import gke_action_broadcast
from ..models import GkeCredential
from .checks import _refuse


def _submit(
    *,
    actor,
    credential: GkeCredential,
    location: str,
    kind: str,
    name: str,
    verb: str,
    parameters: dict,
    task,
    request_id,
) -> AuditEvent:
    cluster = parameters["cluster"]
    event = action_submit(
        actor=actor,
        cluster=None,
        namespace=None,
        kind=kind,
        name=name,
        verb=verb,
        permission="manage_cluster",
        parameters=parameters,
        task=task,
        # One state per GKE cluster: the sweep queues a lost follower again (it resumes
        # following the same operation) instead of failing a long create.
        state_key=f"gke/{credential.project_id}/{location}/{cluster}",
        request_id=request_id,
    )
    gke_action_broadcast(event=event)
    return event


def _checked(*, actor, kind, name, verb, parameters, request_id, check):
    _refuse(
        actor=actor, kind=kind, name=name, verb=verb, parameters=parameters, request_id=request_id
    )
    with audit_invalid(
        actor=actor,
        cluster=None,
        kind=kind,
        name=name,
        verb=verb,
        parameters=parameters,
        request_id=request_id,
    ):
        return check()


def gke_action(*, actor, credential: GkeCredential, kind, name, verb, parameters, check, task,
               request_id) -> AuditEvent:  # fmt: skip
    """Refuse (audited) a non-admin or bad input, else submit the action with what `check`
    returned: the parameters as the task will use them (they carry the location)."""
    clean = _checked(
        actor=actor,
        kind=kind,
        name=name,
        verb=verb,
        parameters=parameters,
        request_id=request_id,
        check=check,
    )
    return _submit(
        actor=actor,
        credential=credential,
        location=clean["location"],
        kind=kind,
        name=name,
        verb=verb,
        parameters=clean,
        task=task,
        request_id=request_id,
    )
