"""Writes about people: role grants (audited) and personal API tokens."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_check, action_record, audit_invalid

from .models import RoleGrant
from .roles import Role

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _clean_namespaces(namespaces) -> list[str]:
    if namespaces is None:
        return []
    if isinstance(namespaces, str):
        namespaces = [part.strip() for part in namespaces.replace("\n", ",").split(",")]
    cleaned = sorted({ns for ns in namespaces if ns})
    bad = [ns for ns in cleaned if len(ns) > 63 or not _NAMESPACE.match(ns)]
    if bad:
        raise ValidationError({"namespaces": [f"Not a valid namespace name: {bad[0]!r}."]})
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
            raise ValidationError({"user": [f"No user named {username!r}."]})
        cleaned = _clean_namespaces(namespaces)
    with transaction.atomic():
        grant, _ = RoleGrant.objects.update_or_create(
            user=user, cluster=cluster, defaults={"role": role, "namespaces": cleaned}
        )
        action_record(
            actor=actor,
            cluster=cluster,
            kind="rolegrant",
            name=username,
            verb="grant",
            parameters={**parameters, "namespaces": cleaned},
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


def api_token_create(*, user: User) -> str:
    """A new API token for `user` (replacing the old one). The key is shown once, by the caller."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
    return token.key


def api_token_revoke(*, user: User) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
