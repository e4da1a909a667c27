"""Writes about people: role grants, users and personal API tokens, all audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_check, action_record, audit_invalid

from .keys import key_digest, key_make
from .models import ApiToken, RoleGrant
from .passwords import PasswordLink, password_link_make
from .roles import Role
from .selectors import user_can, user_can_manage_users, user_manages
from .signals import api_token_revoked, user_deactivated
from .throttling import Failure, Lockout, login_failure_count

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
    """Write a grant whose role, user and namespaces were checked, and audit it."""
    with transaction.atomic():
        grant, _ = RoleGrant.objects.update_or_create(
            user=user, cluster=cluster, defaults={"role": role, "namespaces": namespaces}
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


# --- Users ------------------------------------------------------------------------------------
# Who may manage whom is decided in selectors (admin_cluster_ids, user_manages). Actor None
# is the system (manage.py), which may do everything. Refusals and invalid requests are
# audited like any other action, with kind "user" and no cluster.


@dataclass(frozen=True)
class UserCreated:
    user: AbstractBaseUser
    # The one-time link to set a password; None when the creator gave the password.
    password_link: PasswordLink | None


def _refuse_user_action(
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
            raise _refuse_user_action(
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
            raise _refuse_user_action(
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
        raise _refuse_user_action(
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


# --- API tokens -------------------------------------------------------------------------------
# People make tokens for themselves (the system too, for `manage.py drf_create_token`);
# owners, and whoever manages the owner (see selectors.user_manages), revoke them.


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once, to the creator; only its digest is stored

    def __repr__(self) -> str:
        return f"<IssuedToken {self.token.prefix}>"


def api_token_days_max() -> int:
    return int(getattr(settings, "API_TOKEN_MAX_DAYS", 365))


def _token_days_default() -> int:
    return min(int(getattr(settings, "API_TOKEN_DEFAULT_DAYS", 90)), api_token_days_max())


def api_token_create(
    *,
    actor: User | None,
    user,
    name: str,
    lifetime_days: int | None = None,
    request_id: str | None = None,
) -> IssuedToken:
    """A new API token for `user`, made by `user` themselves (or by the system: actor None)."""
    days = _token_days_default() if lifetime_days is None else lifetime_days
    parameters = {"user": user.username, "name": name, "lifetime_days": days}
    if actor is not None and getattr(actor, "pk", None) != user.pk:
        raise _refuse_user_action(
            actor=actor,
            name=user.username,
            verb="create",
            reason="People make API tokens only for themselves.",
            parameters=parameters,
            request_id=request_id,
            kind="apitoken",
        )
    with audit_invalid(
        actor=actor,
        cluster=None,
        kind="apitoken",
        name=user.username,
        verb="create",
        parameters=parameters,
        request_id=request_id,
    ):
        errors = {}
        if not name.strip() or len(name) > 100:
            errors["name"] = ["Give the token a name of 1 to 100 characters."]
        if not 1 <= days <= api_token_days_max():
            errors["lifetime_days"] = [f"Choose between 1 and {api_token_days_max()} days."]
        if not user.is_active:
            errors["user"] = [f"{user.username} is deactivated."]
        if errors:
            raise ValidationError(errors)
    expires = timezone.now() + timedelta(days=days)
    for _attempt in range(3):
        key, prefix = key_make()
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=user,
                    name=name.strip(),
                    prefix=prefix,
                    key_digest=key_digest(key),
                    expires=expires,
                )
                action_record(
                    actor=actor,
                    cluster=None,
                    kind="apitoken",
                    name=user.username,
                    verb="create",
                    parameters={**parameters, "prefix": prefix, "expires": expires.isoformat()},
                    status=ActionStatus.SUCCEEDED,
                    request_id=request_id,
                )
            return IssuedToken(token=token, key=key)
        except IntegrityError:  # a prefix collision (48 random bits): draw again
            continue
    raise RuntimeError("could not draw an unused token prefix")


def _announce_revoked(tokens) -> None:
    pairs = [(token.pk, token.user_id) for token in tokens]

    def send():
        for token_id, user_id in pairs:
            api_token_revoked.send_robust(sender=ApiToken, token_id=token_id, user_id=user_id)

    transaction.on_commit(send)


def api_token_revoke(*, actor: User | None, token: ApiToken, request_id: str | None = None):
    """Revoke one token, as its owner or as someone who manages its owner."""
    owner = token.user
    parameters = {"user": owner.username, "name": token.name, "prefix": token.prefix}
    if (
        actor is not None
        and getattr(actor, "pk", None) != owner.pk
        and not user_manages(actor=actor, user=owner)
    ):
        raise _refuse_user_action(
            actor=actor,
            name=owner.username,
            verb="revoke",
            reason=f"You may not revoke {owner.username}'s API tokens.",
            parameters=parameters,
            request_id=request_id,
            kind="apitoken",
        )
    with transaction.atomic():
        if token.revoked is None:
            token.revoked = timezone.now()
            token.save(update_fields=["revoked"])
            _announce_revoked([token])
        action_record(
            actor=actor,
            cluster=None,
            kind="apitoken",
            name=owner.username,
            verb="revoke",
            parameters=parameters,
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
    return token


def api_tokens_revoke_all(*, user) -> int:
    """Revoke every live token of `user` (part of a deactivation, audited there)."""
    now = timezone.now()
    live = list(ApiToken.objects.filter(user=user, revoked__isnull=True))
    ApiToken.objects.filter(pk__in=[token.pk for token in live]).update(revoked=now)
    _announce_revoked(live)
    return len(live)


# --- Logins -----------------------------------------------------------------------------------
# Failed and refused logins are audited with no actor (nobody proved who they are) and the
# username only when such a user exists: a mistyped "username" is sometimes a password.


def _login_name(username: str) -> str:
    return username if get_user_model().objects.filter(username=username).exists() else ""


def login_failure_record(*, username: str, address: str, request_id: str | None = None) -> Failure:
    """Count a failed login (maybe starting a lockout) and audit it."""
    failure = login_failure_count(username=username, address=address)
    name = _login_name(username)
    error = "wrong username or password" if name else "unknown username"
    if failure.lockout is not None:
        error += f"; locked out for {failure.lockout.seconds} s ({failure.lockout.subject})"
    else:
        error += f" (failure {failure.failures} of {failure.limit} before a lockout)"
    action_record(
        actor=None,
        cluster=None,
        kind="user",
        name=name,
        verb="login",
        parameters={"address": address},
        status=ActionStatus.FAILED,
        error=error,
        request_id=request_id,
    )
    return failure


def login_refusal_record(
    *, username: str, address: str, lockout: Lockout, request_id: str | None = None
) -> None:
    """Audit a login attempt refused because of a lockout (the password was not checked)."""
    action_record(
        actor=None,
        cluster=None,
        kind="user",
        name=_login_name(username),
        verb="login",
        parameters={"address": address},
        status=ActionStatus.REFUSED,
        error=f"locked out for another {lockout.seconds} s ({lockout.subject})",
        request_id=request_id,
    )
