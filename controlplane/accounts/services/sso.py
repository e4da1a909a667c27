"""Single sign-on: who a verified ID token is, their roles from their groups, and the audit.

People are matched by (issuer, subject) only. A first sign-in creates the user (with no
usable password) and remembers the pair; a local user of the same name is never taken over,
the new one gets a free name instead. A deactivated user stays refused.

At every sign-in the grants that came from groups are recomputed from the groups in the ID
token: per cluster the strongest mapped role wins, narrowed to the union of the namespaces
of the mappings at that role (cluster-wide if any of them is). A grant given by hand is
never changed by a sign-in: on that cluster it takes precedence over the groups, whatever
their role, until an admin revokes it (break-glass grants must not depend on the provider).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record

from ..models import ExternalIdentity, GrantSource, GroupMapping, RoleGrant
from ..oidc import DEACTIVATED_USER, Identity, SsoFailure
from .logins import sso_failure_record

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

_USERNAME_BAD = re.compile(r"[^\w.@+-]")
USERNAME_MAX = 150


def _username_free(identity: Identity) -> str:
    """A new username from preferred_username, else the email, else the subject."""
    wanted = identity.preferred_username or identity.email or identity.subject
    base = _USERNAME_BAD.sub("-", wanted).strip("-.") or "user"
    base = base[: USERNAME_MAX - 8]
    users = get_user_model().objects
    candidate, number = base, 1
    # Case-insensitively free, as user_create insists ("Bob" and "bob" would be two people).
    while users.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _user_for(identity: Identity, *, request_id) -> tuple[AbstractBaseUser, bool]:
    """The user behind the identity, created on first sign-in; (user, created)."""
    found = (
        ExternalIdentity.objects.select_related("user")
        .filter(issuer=identity.issuer, subject=identity.subject)
        .first()
    )
    if found is not None:
        return found.user, False
    try:
        with transaction.atomic():
            username = _username_free(identity)
            user = get_user_model().objects.create_user(
                username=username, email=identity.email, password=None
            )
            ExternalIdentity.objects.create(
                user=user, issuer=identity.issuer, subject=identity.subject
            )
            action_record(
                actor=None,
                cluster=None,
                kind="user",
                name=username,
                verb="create",
                parameters={
                    "username": username,
                    "email": identity.email,
                    "initial_login": "single sign-on",
                    "issuer": identity.issuer,
                },
                status=ActionStatus.SUCCEEDED,
                request_id=request_id,
            )
    except IntegrityError:
        # The same person's other tab won the race (or took the name): use theirs.
        found = ExternalIdentity.objects.select_related("user").filter(
            issuer=identity.issuer, subject=identity.subject
        )
        if not found.exists():
            raise
        return found.get().user, False
    return user, True


def _wanted_grants(groups) -> dict[int, tuple]:
    """cluster id -> (cluster, role slug, namespaces, groups) that the groups give."""
    best: dict[int, tuple] = {}
    for mapping in GroupMapping.objects.filter(group__in=list(groups)).select_related("cluster"):
        role = mapping.role_enum
        current = best.get(mapping.cluster_id)
        if current is None or role > current[1]:
            best[mapping.cluster_id] = (
                mapping.cluster,
                role,
                set(mapping.namespaces),
                not mapping.namespaces,
                {mapping.group},
            )
        elif role == current[1]:
            cluster, _, namespaces, whole, via = current
            best[mapping.cluster_id] = (
                cluster,
                role,
                namespaces | set(mapping.namespaces),
                whole or not mapping.namespaces,
                via | {mapping.group},
            )
    return {
        cluster_id: (cluster, role.slug, [] if whole else sorted(namespaces), sorted(via))
        for cluster_id, (cluster, role, namespaces, whole, via) in best.items()
    }


def sso_grants_sync(*, user, groups, request_id: str | None = None) -> dict[str, str]:
    """Recompute the user's grants from groups; returns {cluster name: role} they now hold."""
    wanted = _wanted_grants(groups)
    held = {grant.cluster_id: grant for grant in RoleGrant.objects.filter(user=user)}
    for cluster_id, (cluster, role, namespaces, via) in wanted.items():
        grant = held.get(cluster_id)
        if grant is not None and grant.source == GrantSource.MANUAL:
            continue  # given by hand: takes precedence on its cluster
        if grant is not None and (grant.role, grant.namespaces) == (role, namespaces):
            continue
        RoleGrant.objects.update_or_create(
            user=user,
            cluster=cluster,
            defaults={"role": role, "namespaces": namespaces, "source": GrantSource.GROUP},
        )
        action_record(
            actor=None,
            cluster=cluster,
            kind="rolegrant",
            name=user.username,
            verb="grant",
            parameters={
                "user": user.username,
                "role": role,
                "namespaces": namespaces,
                "source": "group",
                "groups": via,
            },
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
    for cluster_id, grant in held.items():
        if grant.source != GrantSource.GROUP or cluster_id in wanted:
            continue
        action_record(
            actor=None,
            cluster=grant.cluster,
            kind="rolegrant",
            name=user.username,
            verb="revoke",
            parameters={"user": user.username, "role": grant.role, "source": "group"},
            status=ActionStatus.SUCCEEDED,
            result={"why": "no longer in a mapped group at single sign-on"},
            request_id=request_id,
        )
        grant.delete()
    return {
        grant.cluster.name: grant.role
        for grant in RoleGrant.objects.filter(user=user).select_related("cluster")
    }


def sso_login(*, identity: Identity, address: str, request_id: str | None = None):
    """The user to log in for a verified identity, their grants brought up to date and the
    sign-in audited; raises SsoFailure (audited) for a deactivated user."""
    user, created = _user_for(identity, request_id=request_id)
    if not user.is_active:
        failure = SsoFailure(DEACTIVATED_USER, f"{user.username} is deactivated")
        sso_failure_record(
            failure=failure,
            issuer=identity.issuer,
            address=address,
            username=user.username,
            request_id=request_id,
        )
        raise failure
    with transaction.atomic():
        ExternalIdentity.objects.filter(issuer=identity.issuer, subject=identity.subject).update(
            groups=list(identity.groups), last_login=timezone.now()
        )
        if identity.email and identity.email != user.email:
            user.email = identity.email
            user.save(update_fields=["email"])
        roles = sso_grants_sync(user=user, groups=identity.groups, request_id=request_id)
        action_record(
            actor=user,
            cluster=None,
            kind="user",
            name=user.username,
            verb="login",
            parameters={
                "address": address,
                "method": "sso",
                "issuer": identity.issuer,
                "groups": list(identity.groups),
            },
            status=ActionStatus.SUCCEEDED,
            result={"created": created, "roles": roles},
            request_id=request_id,
        )
    return user
