"""Role grants: who holds which role on a cluster (admins of the cluster change them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_check, action_record, audit_invalid
from controlplane.kube.names import dns1123_label_problem

from ..models import GrantSource, RoleGrant
from ..roles import Role

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

# A grant narrowed to more namespaces than a live page may subscribe to (the websocket's
# MAX_SUBSCRIPTIONS) could not be watched anyway; a wider reach is a cluster-wide grant.
GRANT_NAMESPACES_MAX = 256


def _clean_namespaces(namespaces) -> list[str]:
    if namespaces is None:
        return []
    if isinstance(namespaces, str):
        namespaces = [part.strip() for part in namespaces.replace("\n", ",").split(",")]
    cleaned = sorted({ns for ns in namespaces if ns})
    if len(cleaned) > GRANT_NAMESPACES_MAX:
        raise ValidationError(
            {
                "namespaces": [
                    f"At most {GRANT_NAMESPACES_MAX} namespaces per grant (got {len(cleaned)}); "
                    "leave namespaces empty to grant the role on the whole cluster."
                ]
            }
        )
    for ns in cleaned:
        if problem := dns1123_label_problem(ns):
            raise ValidationError(
                {"namespaces": [f"Not a valid namespace name: {ns!r}: {problem}."]}
            )
    return cleaned


def role_grant_set(
    *,
    actor: User,
    cluster: Cluster,
    username: str,
    role: str,
    namespaces: list[str] | str | None = None,
    request_id: str | None = None,
) -> RoleGrant:
    """Give `username` a role on `cluster` (replacing any earlier grant there)."""
    parameters = {"user": username, "role": role, "namespaces": namespaces or []}
    action_check(
        actor=actor,
        cluster=cluster,
        namespace=None,
        kind="rolegrant",
        name=username,
        verb="grant",
        permission="manage_roles",
        parameters=parameters,
        request_id=request_id,
    )
    with audit_invalid(
        actor=actor,
        cluster=cluster,
        kind="rolegrant",
        name=username,
        verb="grant",
        parameters=parameters,
        request_id=request_id,
    ):
        if role not in {r.slug for r in Role}:
            choices = ", ".join(r.slug for r in Role)
            raise ValidationError({"role": [f"Choose one of: {choices}."]})
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError(
                {
                    "user": [
                        f"No user named {username!r}: create the user first "
                        "(the Users page, POST /api/v1/users/ or manage.py user_create)."
                    ]
                }
            )
        cleaned = _clean_namespaces(namespaces)
    return _grant_write(
        actor=actor,
        cluster=cluster,
        user=user,
        role=role,
        namespaces=cleaned,
        request_id=request_id,
    )


def _grant_write(*, actor, cluster, user, role, namespaces, request_id) -> RoleGrant:
    """Write a grant whose role, user and namespaces were checked, and audit it.

    A grant given by hand replaces one that came from groups (and is kept by sign-ins)."""
    with transaction.atomic():
        grant, _ = RoleGrant.objects.update_or_create(
            user=user,
            cluster=cluster,
            defaults={"role": role, "namespaces": namespaces, "source": GrantSource.MANUAL},
        )
        action_record(
            actor=actor,
            cluster=cluster,
            kind="rolegrant",
            name=user.username,
            verb="grant",
            parameters={"user": user.username, "role": role, "namespaces": namespaces},
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
    return grant


def role_grant_delete(*, actor: User, grant: RoleGrant, request_id: str | None = None) -> None:
    cluster = grant.cluster
    username = grant.user.username
    action_check(
        actor=actor,
        cluster=cluster,
        namespace=None,
        kind="rolegrant",
        name=username,
        verb="revoke",
        permission="manage_roles",
        parameters={"user": username},
        request_id=request_id,
    )
    with transaction.atomic():
        action_record(
            actor=actor,
            cluster=cluster,
            kind="rolegrant",
            name=username,
            verb="revoke",
            parameters={"user": username, "role": grant.role},
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
        grant.delete()
