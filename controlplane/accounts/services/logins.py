"""Failed and refused logins: counted (see throttling) and audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record

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
