"""Limits on guessing and on load: login lockouts per user and per address, and API request
rates per token (or per signed-in session).

Counters live in the Django cache (Redis, under the checkout's key prefix). Login failures
are counted per username and per client address within LOGIN_FAILURE_WINDOW seconds; when
either reaches its limit, that user or address is locked out for LOGIN_LOCKOUT_SECONDS, and
each further lockout doubles the time, up to LOGIN_LOCKOUT_MAX_SECONDS. A successful login
clears the user's counters (not the address's: one good account must not whitewash guesses
at others). Failed single sign-ons count against the address only, and a locked-out address
may start none. Usernames are hashed before they become cache keys, since people sometimes type
a password into the username field.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from .models import ApiToken


def _setting(name: str, default):
    return getattr(settings, name, default)


def _now() -> float:  # one clock for the whole module, so tests can move it
    return time.time()


def client_address(request) -> str:
    """The client's address, trusting REST_FRAMEWORK's NUM_PROXIES proxies in front."""
    return BaseThrottle().get_ident(request) or "unknown"


def _subjects(*, username: str | None, address: str) -> list[tuple[str, str, int]]:
    """(cache key part, what it is, failure limit) for each counter a login attempt feeds.

    With no username (a single sign-on that failed before anyone was identified) only the
    address counts: a name the provider may or may not have sent is no one's to lock out.
    """
    found = []
    if username is not None:
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        found.append((f"user:{digest}", "this user", int(_setting("LOGIN_FAILURES_PER_USER", 5))))
    found.append(
        (f"addr:{address}", "this address", int(_setting("LOGIN_FAILURES_PER_ADDRESS", 20)))
    )
    return found


@dataclass(frozen=True)
class Lockout:
    subject: str  # "this user" or "this address"
    seconds: int  # until it lifts

    @property
    def message(self) -> str:
        return (
            f"Too many failed logins for {self.subject}. "
            f"Try again in {self.seconds} second{'s' if self.seconds != 1 else ''}."
        )


def login_lockout(*, username: str | None, address: str) -> Lockout | None:
    """The lockout in force for this username or address, if any (the longer one)."""
    now = _now()
    found = None
    for key, subject, _limit in _subjects(username=username, address=address):
        until = cache.get(f"login:lock:{key}")
        if until is not None and until > now:
            seconds = math.ceil(until - now)
            if found is None or seconds > found.seconds:
                found = Lockout(subject=subject, seconds=seconds)
    return found


@dataclass(frozen=True)
class Failure:
    failures: int  # counted for the user within the window
    limit: int
    lockout: Lockout | None  # the lockout this failure started, if any


def login_failure_count(*, username: str | None, address: str) -> Failure:
    """Count a failed login; start a lockout (with back-off) where a limit is reached.

    `failures` and `limit` are the user's, or the address's when no username is given."""
    window = int(_setting("LOGIN_FAILURE_WINDOW", 900))
    base = int(_setting("LOGIN_LOCKOUT_SECONDS", 60))
    ceiling = int(_setting("LOGIN_LOCKOUT_MAX_SECONDS", 3600))
    user_count = user_limit = 0
    started = None
    for key, subject, limit in _subjects(username=username, address=address):
        count_key = f"login:fail:{key}"
        cache.add(count_key, 0, timeout=window)
        count = cache.incr(count_key)
        if subject == "this user" or username is None:
            user_count, user_limit = count, limit
        if count < limit:
            continue
        level_key = f"login:level:{key}"
        cache.add(level_key, 0, timeout=max(window, ceiling) * 4)
        level = cache.incr(level_key)
        seconds = min(base * 2 ** (level - 1), ceiling)
        cache.set(f"login:lock:{key}", _now() + seconds, timeout=seconds + 1)
        cache.delete(count_key)
        if started is None or seconds > started.seconds:
            started = Lockout(subject=subject, seconds=seconds)
    return Failure(failures=user_count, limit=user_limit, lockout=started)


def login_success_clear(*, username: str) -> None:
    key = _subjects(username=username, address="")[0][0]
    cache.delete_many([f"login:fail:{key}", f"login:level:{key}", f"login:lock:{key}"])


class ApiRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests (e.g. "600/min") per token, or per session for browsers.

    Over the limit, DRF answers 429 with Retry-After. Keys use the token's random prefix
    and the session key, never database ids, which a fresh database hands out again.
    """

    scope = "api"

    def get_rate(self):
        return _setting("API_RATE_LIMIT", "600/min") or None

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.prefix}"
        elif request.user.is_authenticated and getattr(request, "session", None) is not None:
            ident = f"session:{request.session.session_key or request.user.pk}"
        else:
            return None
        return f"throttle:api:{ident}"
