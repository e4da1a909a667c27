"""Failed and refused logins: counted (see throttling) and audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record

from ..oidc import (
    BAD_STATE,
    DEACTIVATED_USER,
    INVALID_TOKEN,
    PROVIDER_ERROR,
    UNKNOWN_ISSUER,
    SsoFailure,
)
from ..throttling import Failure, Lockout, login_failure_count

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


# --- Single sign-on ---------------------------------------------------------------------------
# A failed single sign-on is a failed login: counted against the client's address (never a
# username: until the ID token is verified nobody is identified, and counting a name the
# provider sent would let anyone lock out, or probe for, a local account). Failures that are
# nobody's doing (provider unreachable, sign-on not configured) are audited but not counted;
# a deactivated user is refused, with their name, by sso_login.
SSO_COUNTED = frozenset({BAD_STATE, INVALID_TOKEN, UNKNOWN_ISSUER, PROVIDER_ERROR})


def sso_failure_record(
    *,
    failure: SsoFailure,
    issuer: str,
    address: str,
    username: str = "",
    count: bool = True,
    request_id: str | None = None,
) -> Failure | None:
    """Audit a refused single sign-on (no actor: nobody proved who they are), counting it
    against the address where it is a failure someone could be guessing with (`count` off
    for a sign-in that never left for the provider)."""
    counted = None
    error = f"single sign-on refused: {failure}"
    if count and failure.reason in SSO_COUNTED:
        counted = login_failure_count(username=None, address=address)
        if counted.lockout is not None:
            error += f"; locked out for {counted.lockout.seconds} s ({counted.lockout.subject})"
        else:
            error += f" (failure {counted.failures} of {counted.limit} before a lockout)"
    action_record(
        actor=None,
        cluster=None,
        kind="user",
        name=username,
        verb="login",
        parameters={"address": address, "method": "sso", "issuer": issuer},
        status=ActionStatus.REFUSED if failure.reason == DEACTIVATED_USER else ActionStatus.FAILED,
        error=error,
        request_id=request_id,
    )
    return counted


def sso_refusal_record(
    *, issuer: str, address: str, lockout: Lockout, request_id: str | None = None
) -> None:
    """Audit a single sign-on refused because the address is locked out (nothing was asked of
    the provider)."""
    action_record(
        actor=None,
        cluster=None,
        kind="user",
        name="",
        verb="login",
        parameters={"address": address, "method": "sso", "issuer": issuer},
        status=ActionStatus.REFUSED,
        error=f"locked out for another {lockout.seconds} s ({lockout.subject})",
        request_id=request_id,
    )
