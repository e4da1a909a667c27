"""Refusals of changes to people (users, API tokens): audited with kind, no cluster."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record


def people_action_refuse(
    *, actor, name: str, verb: str, reason: str, parameters, request_id, kind: str = "user"
):
    action_record(
        actor=actor,
        cluster=None,
        kind=kind,
        name=name,
        verb=verb,
        parameters=parameters,
        status=ActionStatus.REFUSED,
        error=f"{getattr(actor, 'username', '') or 'anonymous'}: {reason}",
        request_id=request_id,
    )
    return PermissionDenied(reason)
