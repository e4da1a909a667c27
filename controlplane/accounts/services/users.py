"""Users: created, deactivated and reactivated by superusers and cluster admins (or the
system, actor None); one-time links with which people set their own password."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record, audit_invalid

from ..passwords import PasswordLink, password_link_make
from ..roles import Role
from ..selectors import user_can, user_can_manage_users, user_manages
from ..signals import user_deactivated
from .grants import _clean_namespaces, _grant_write
from .refusals import people_action_refuse
from .tokens import api_tokens_revoke_all

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

# --- Users ------------------------------------------------------------------------------------
# Who may manage whom is decided in selectors (admin_cluster_ids, user_manages). Actor None
# is the system (manage.py), which may do everything. Refusals and invalid requests are
# audited like any other action, with kind "user" and no cluster.


@dataclass(frozen=True)
class UserCreated:
    user: AbstractBaseUser
    # The one-time link to set a password; None when the creator gave the password.
    password_link: PasswordLink | None


def _clean_new_user(*, username: str, email: str, password: str | None) -> None:
    users = get_user_model()
    errors: dict[str, list[str]] = {}
    try:
        users._meta.get_field("username").run_validators(username)
        if not username:
            raise ValidationError("This field may not be blank.")
    except ValidationError as exc:
        errors["username"] = exc.messages
    else:
        # Case-insensitively unique: "Bob" and "bob" would be two people to a reader.
        if users.objects.filter(username__iexact=username).exists():
            errors["username"] = [f"A user named {username!r} already exists."]
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            errors["email"] = exc.messages
    if password is not None:
        try:
            validate_password(password, user=users(username=username, email=email))
        except ValidationError as exc:
            errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)


def user_create(
    *,
    actor: User | None,
    username: str,
    email: str = "",
    password: str | None = None,
    cluster: Cluster | None = None,
    role: str | None = None,
    namespaces: list[str] | str | None = None,
    base_url: str = "",
    request_id: str | None = None,
) -> UserCreated:
    """Create a user, optionally with a role on one cluster.

    Without `password` the user gets an unusable one and the result carries the one-time
    link (built on `base_url`) with which they set it themselves.
    """
    parameters = {
        "username": username,
        "email": email,
        "cluster": cluster.name if cluster is not None else "",
        "role": role or "",
        "namespaces": namespaces or [],
        "initial_login": "password given" if password is not None else "one-time link",
    }
    if actor is not None:
        if not user_can_manage_users(user=actor):
            raise people_action_refuse(
                actor=actor,
                name=username,
                verb="create",
                reason="Only superusers and cluster admins may create users.",
                parameters=parameters,
                request_id=request_id,
            )
        if cluster is not None and not user_can(
            user=actor, permission="manage_roles", cluster=cluster
        ):
            raise people_action_refuse(
                actor=actor,
                name=username,
                verb="create",
                reason=f"You may grant roles only on clusters you administer, not {cluster.name}.",
                parameters=parameters,
                request_id=request_id,
            )
    with audit_invalid(
        actor=actor,
        cluster=None,
        kind="user",
        name=username,
        verb="create",
        parameters=parameters,
        request_id=request_id,
    ):
        if (cluster is None) != (not role):
            field = "cluster" if cluster is None else "role"
            raise ValidationError({field: ["Give both a cluster and a role, or neither."]})
        if role and role not in {r.slug for r in Role}:
            raise ValidationError({"role": [f"Choose one of: {', '.join(r.slug for r in Role)}."]})
        cleaned = _clean_namespaces(namespaces)
        _clean_new_user(username=username, email=email, password=password)
    with transaction.atomic():
        user = get_user_model().objects.create_user(
            username=username, email=email, password=password
        )
        action_record(
            actor=actor,
            cluster=None,
            kind="user",
            name=username,
            verb="create",
            parameters={**parameters, "namespaces": cleaned},
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
        if cluster is not None:
            _grant_write(
                actor=actor,
                cluster=cluster,
                user=user,
                role=role,
                namespaces=cleaned,
                request_id=request_id,
            )
    link = password_link_make(user=user, base_url=base_url) if password is None else None
    return UserCreated(user=user, password_link=link)


def _check_manages(*, actor, user, verb: str, request_id) -> None:
    if actor is None:
        return
    reason = None
    if getattr(actor, "pk", None) == user.pk and verb == "deactivate":
        reason = "You cannot deactivate yourself."
    elif not user_manages(actor=actor, user=user):
        reason = (
            f"You may not {verb.replace('_', ' ')} {user.username}: only superusers, and admins "
            "of every cluster the user holds a role on, may."
        )
    if reason:
        raise people_action_refuse(
            actor=actor,
            name=user.username,
            verb=verb,
            reason=reason,
            parameters={"username": user.username},
            request_id=request_id,
        )


def _sessions_delete(*, user) -> int:
    """Delete the user's database sessions (Django keeps no index by user: decode each)."""
    deleted = 0
    live = Session.objects.filter(expire_date__gt=timezone.now())
    for session in live.iterator():
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            session.delete()
            deleted += 1
    return deleted


def user_deactivate(*, actor: User | None, user, request_id: str | None = None):
    """Deactivate `user`: no more logins, sessions deleted, API tokens revoked.

    After commit, `signals.user_deactivated` is sent (user_id, username) so open websockets
    can be closed.
    """
    _check_manages(actor=actor, user=user, verb="deactivate", request_id=request_id)
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        sessions = _sessions_delete(user=user)
        tokens = api_tokens_revoke_all(user=user)
        action_record(
            actor=actor,
            cluster=None,
            kind="user",
            name=user.username,
            verb="deactivate",
            parameters={"username": user.username},
            status=ActionStatus.SUCCEEDED,
            result={"sessions_ended": sessions, "api_tokens_revoked": tokens},
            request_id=request_id,
        )
        user_id, username = user.pk, user.username
        transaction.on_commit(
            lambda: user_deactivated.send_robust(
                sender=user.__class__, user_id=user_id, username=username
            )
        )
    return user


def user_reactivate(*, actor: User | None, user, request_id: str | None = None):
    """Let a deactivated user log in again (their old API tokens stay revoked)."""
    _check_manages(actor=actor, user=user, verb="reactivate", request_id=request_id)
    with transaction.atomic():
        user.is_active = True
        user.save(update_fields=["is_active"])
        action_record(
            actor=actor,
            cluster=None,
            kind="user",
            name=user.username,
            verb="reactivate",
            parameters={"username": user.username},
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
    return user


def user_password_link_issue(
    *, actor: User | None, user, base_url: str, request_id: str | None = None
) -> PasswordLink:
    """A new one-time link for `user` to set their password (audited; the link is not)."""
    _check_manages(actor=actor, user=user, verb="password_link", request_id=request_id)
    if not user.is_active:
        raise ValidationError({"is_active": ["Reactivate the user first."]})
    action_record(
        actor=actor,
        cluster=None,
        kind="user",
        name=user.username,
        verb="password_link",
        parameters={"username": user.username},
        status=ActionStatus.SUCCEEDED,
        request_id=request_id,
    )
    return password_link_make(user=user, base_url=base_url)


def user_password_set(*, user, password: str, request_id: str | None = None) -> None:
    """The person behind a one-time link chose their password (validated by the form)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        action_record(
            actor=user,
            cluster=None,
            kind="user",
            name=user.username,
            verb="set_password",
            parameters={"username": user.username},
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
