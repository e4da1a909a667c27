"""Mappings from the OpenID provider's groups to roles on a cluster (admins of the cluster).

A change counts at each member's next single sign-on, when their group grants are
recomputed (services/sso.py); nobody's grant changes at the moment a mapping does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_check, action_record, audit_invalid

from ..models import GroupMapping
from ..roles import Role
from .grants import _clean_namespaces

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

GROUP_LENGTH_MAX = 255


def group_mapping_create(
    *,
    actor: User,
    cluster: Cluster,
    group: str,
    role: str,
    namespaces: list[str] | str | None = None,
    request_id: str | None = None,
) -> GroupMapping:
    """Members of `group` get `role` on `cluster` (in `namespaces`, or all of them)."""
    group = (group or "").strip()
    parameters = {"group": group, "role": role, "namespaces": namespaces or []}
    action_check(
        actor=actor,
        cluster=cluster,
        namespace=None,
        kind="groupmapping",
        name=group,
        verb="create",
        permission="manage_roles",
        parameters=parameters,
        request_id=request_id,
    )
    with audit_invalid(
        actor=actor,
        cluster=cluster,
        kind="groupmapping",
        name=group,
        verb="create",
        parameters=parameters,
        request_id=request_id,
    ):
        if not group:
            raise ValidationError({"group": ["Name the provider's group."]})
        if len(group) > GROUP_LENGTH_MAX:
            raise ValidationError({"group": [f"At most {GROUP_LENGTH_MAX} characters."]})
        if role not in {r.slug for r in Role}:
            raise ValidationError({"role": [f"Choose one of: {', '.join(r.slug for r in Role)}."]})
        cleaned = _clean_namespaces(namespaces)
        if GroupMapping.objects.filter(cluster=cluster, group=group, role=role).exists():
            raise ValidationError(
                {"group": [f"Group {group!r} is already mapped to {role} on {cluster.name}."]}
            )
    with transaction.atomic():
        mapping = GroupMapping.objects.create(
            cluster=cluster, group=group, role=role, namespaces=cleaned
        )
        action_record(
            actor=actor,
            cluster=cluster,
            kind="groupmapping",
            name=group,
            verb="create",
            parameters={**parameters, "namespaces": cleaned},
            status=ActionStatus.SUCCEEDED,
            result={"id": mapping.pk},
            request_id=request_id,
        )
    return mapping


def group_mapping_delete(
    *, actor: User, mapping: GroupMapping, request_id: str | None = None
) -> None:
    cluster = mapping.cluster
    parameters = {"group": mapping.group, "role": mapping.role, "namespaces": mapping.namespaces}
    action_check(
        actor=actor,
        cluster=cluster,
        namespace=None,
        kind="groupmapping",
        name=mapping.group,
        verb="delete",
        permission="manage_roles",
        parameters=parameters,
        request_id=request_id,
    )
    with transaction.atomic():
        action_record(
            actor=actor,
            cluster=cluster,
            kind="groupmapping",
            name=mapping.group,
            verb="delete",
            parameters=parameters,
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
        mapping.delete()
