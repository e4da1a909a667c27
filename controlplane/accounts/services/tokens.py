"""Personal API tokens: made by their owner (or the system), revoked by the owner or by
whoever manages the owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record, audit_invalid

from ..keys import key_digest, key_make
from ..models import ApiToken
from ..selectors import user_manages
from ..signals import api_token_revoked
from .refusals import people_action_refuse

if TYPE_CHECKING:
    from controlplane.accounts.types import User

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
        raise people_action_refuse(
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
        raise people_action_refuse(
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
