"""Ending live streams the moment access ends: grants revoked or narrowed, users deactivated,
sessions logged out.

Every live connection joins its user's control group. Changes to grants and users are
announced there after they commit; each connection then re-checks its subscriptions (and
its user) against the database, so nothing keeps streaming on a decision that was undone.
Logouts name the session by digest, never by its key, so only that session's sockets close.
"""

import hashlib
import logging

from django.contrib.auth import get_user_model
from django.db import transaction

from controlplane.broadcast import broadcast, group_name

log = logging.getLogger(__name__)


def user_group(user_id) -> str:
    return group_name("user", str(user_id))


def session_digest(session_key: str) -> str:
    return hashlib.sha256(f"live-session:{session_key}".encode()).hexdigest()


def user_is_active(*, user_id) -> bool:
    return get_user_model().objects.filter(pk=user_id, is_active=True).exists()


def _announce(user_id, message: dict) -> None:
    def send():
        try:
            broadcast(group=user_group(user_id), message=message)
        except Exception:
            # Redis is down, so no stream is flowing either; the next connect re-checks.
            log.exception("could not announce an access change to user %s", user_id)

    transaction.on_commit(send)


def access_changed(*, user_id) -> None:
    """Tell the user's live connections to re-check what they may see (after commit)."""
    _announce(user_id, {"type": "access.changed"})


def session_ended(*, user_id, session_key: str) -> None:
    _announce(user_id, {"type": "session.ended", "session": session_digest(session_key)})


# Signal receivers (connected in LiveConfig.ready) ------------------------------------------


def on_grant_changed(sender, instance, **kwargs) -> None:
    access_changed(user_id=instance.user_id)


def on_user_saved(sender, instance, created=False, update_fields=None, **kwargs) -> None:
    # Every login saves last_login alone; only a save that may touch is_active matters here.
    if created or (update_fields is not None and "is_active" not in update_fields):
        return
    access_changed(user_id=instance.pk)


def on_logged_out(sender, request, user, **kwargs) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        session_ended(user_id=user.pk, session_key=session_key)
