"""Subscription kinds that feature apps add to the live websocket (pod logs, metrics).

The live layer sits below the feature apps and must not import them, yet one websocket per
page carries everything: so an app describes its kind here, from its AppConfig.ready(), and
the consumer parses, authorizes, groups and forwards it like its own kinds. Messages reach
subscribers through the channel group as {"type": "stream.message", "payload": {...}}; the
payload is sent to the browser unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Send = Callable[[dict], Awaitable[None]]


@dataclass(frozen=True)
class StreamKind:
    """One subscription kind.

    parse(request) -> the canonical subscription (a dict with at least "cluster" and "kind");
        raises ValueError naming the field ("subscription.pod: ...") for a bad request.
    authorize(user=, subscription=, audit=) -> None, or raises SubscriptionRefused; runs in a
        thread (it may read the database), again whenever the user's access changes.
    group(subscription) -> the channel group its messages are sent to.
    joined(subscription=, channel_name=, send=) -> awaited once the socket is in the group:
        the place to send history and to start or keep alive an upstream source.
    left(subscription=, channel_name=) -> awaited on unsubscribe, revocation and disconnect.
    """

    name: str
    parse: Callable[[Any], dict]
    authorize: Callable[..., None]
    group: Callable[[dict], str]
    joined: Callable[..., Awaitable[None]] | None = None
    left: Callable[..., Awaitable[None]] | None = None


_KINDS: dict[str, StreamKind] = {}


def stream_kind_register(kind: StreamKind) -> None:
    """Add a kind; registering a name twice replaces it (autoreload calls ready() again)."""
    _KINDS[kind.name] = kind


def stream_kind_get(name: object) -> StreamKind | None:
    return _KINDS.get(name) if isinstance(name, str) else None


def stream_kind_names() -> list[str]:
    return sorted(_KINDS)
