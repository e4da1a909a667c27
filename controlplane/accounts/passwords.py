"""One-time links with which a person sets their own password.

The token is Django's password-reset token: an HMAC over the user's id, password hash, last
login and the time, so it expires after settings.PASSWORD_RESET_TIMEOUT and stops working
as soon as the password is set (or the person logs in). Nothing about it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


@dataclass(frozen=True)
class PasswordLink:
    url: str
    expires: datetime

    def __repr__(self) -> str:  # the URL holds the token: keep it out of reprs and logs
        return f"<PasswordLink expires={self.expires.isoformat()}>"


def password_link_make(*, user, base_url: str) -> PasswordLink:
    path = reverse(
        "password-set",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    expires = timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    return PasswordLink(url=base_url.rstrip("/") + path, expires=expires)
