"""The websocket endpoint of live pages: authenticate, authorize each subscription, forward.

Protocol (JSON):
  -> {"subscribe": {"cluster": "c", "kind": "pods", "namespace": "ns" | null}}
  -> {"subscribe": {"cluster": "c", "kind": "actions"}}
  -> {"unsubscribe": {...same...}}
  <- {"type": "subscribed" | "unsubscribed", "subscription": {...}}
  <- {"type": "error", "error": "...", "subscription": {...}}
  <- {"type": "kube.event", "cluster", "kind", "event": ADDED|MODIFIED|DELETED|SYNCED, "key",
      "object"}
  <- {"type": "action.update", "action": {...}}
  <- {"type": "unsubscribed", "subscription": {...}, "reason": "..."}  (access was revoked)
Feature apps add kinds of their own (pod logs, metrics) through controlplane/live/streams.py;
their subscriptions carry the fields each kind documents, and their messages arrive as the
kind's own payloads.
The origin is checked by SameOriginValidator and the session by AuthMiddlewareStack
(controlplane/asgi.py); anonymous connections are closed with code 4401, and so is a
connection whose session ends (logout); a deactivated user's with 4403. A revoked or narrowed
grant ends the subscriptions it no longer allows at once (see controlplane/live/access.py).
"""

import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from controlplane.broadcast import group_name
from controlplane.kube.watch import KINDS

from .access import session_digest, user_group, user_is_active
from .streams import stream_kind_get, stream_kind_names
from .subscriptions import MAX_SUBSCRIPTIONS, SubscriptionRefused, subscription_authorize

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_DEACTIVATED = 4403
# A subscription message is a few hundred bytes; anything this large is not one.
MAX_MESSAGE_BYTES = 16 * 1024
# Refused subscriptions per connection and minute before further ones are refused unchecked.
MAX_REFUSALS_PER_MINUTE = 10


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        self.subscriptions: dict[str, dict] = {}  # group -> subscription
        # Per action group: None = every namespace, else the set this user may see.
        self.action_namespaces: dict[str, set[str] | None] = {}
        self.refusals: list[float] = []
        self.control_group = None
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session")
        self.session = session_digest(getattr(session, "session_key", None) or "")
        # Grants, deactivation and logout are announced here (controlplane/live/access.py).
        self.control_group = user_group(self.user.pk)
        await self.channel_layer.group_add(self.control_group, self.channel_name)

    async def disconnect(self, code):
        groups = list(getattr(self, "subscriptions", {}))
        if getattr(self, "control_group", None):
            groups.append(self.control_group)
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        for subscription in getattr(self, "subscriptions", {}).values():
            await self._left(subscription)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # Every bad frame gets an error message; none of them closes the connection (1011).
        if text_data is None:
            await self._error("binary frames are not accepted: send JSON text")
            return
        if len(text_data) > MAX_MESSAGE_BYTES:
            await self._error(f"message too large: at most {MAX_MESSAGE_BYTES} bytes")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("messages must be JSON objects")
            return
        await self.receive_json(content, **kwargs)

    async def _error(self, error: str, **extra) -> None:
        await self.send_json({"type": "error", "error": error, **extra})

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "error": "messages must be JSON objects"})
            return
        if "subscribe" in content:
            await self._subscribe(content["subscribe"])
        elif "unsubscribe" in content:
            await self._unsubscribe(content["unsubscribe"])
        else:
            await self.send_json(
                {"type": "error", "error": "expected a 'subscribe' or 'unsubscribe' message"}
            )

    async def _subscribe(self, request):
        try:
            subscription = _parse(request)
        except ValueError as exc:
            await self.send_json({"type": "error", "error": str(exc), "subscription": request})
            return
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            await self.send_json(
                {
                    "type": "error",
                    "error": f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection",
                    "subscription": subscription,
                }
            )
            return
        now = time.monotonic()
        self.refusals = [t for t in self.refusals if now - t < 60]
        if len(self.refusals) >= MAX_REFUSALS_PER_MINUTE:
            await self._error(
                f"too many refused subscriptions (over {MAX_REFUSALS_PER_MINUTE} a minute); "
                "wait before subscribing again",
                subscription=subscription,
            )
            return
        try:
            namespaces = await database_sync_to_async(_authorize)(
                user=self.user, subscription=subscription, audit=True
            )
        except SubscriptionRefused as exc:
            self.refusals.append(now)
            await self.send_json({"type": "error", "error": str(exc), "subscription": subscription})
            return
        group = _group(subscription)
        if subscription["kind"] == "actions":
            self.action_namespaces[group] = namespaces
        self.subscriptions[group] = subscription
        await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json({"type": "subscribed", "subscription": subscription})
        spec = stream_kind_get(subscription["kind"])
        if spec is not None and spec.joined is not None:
            await spec.joined(
                subscription=subscription, channel_name=self.channel_name, send=self.send_json
            )

    async def _left(self, subscription: dict) -> None:
        spec = stream_kind_get(subscription["kind"])
        if spec is not None and spec.left is not None:
            try:
                await spec.left(subscription=subscription, channel_name=self.channel_name)
            except Exception:
                # One kind's cleanup failing must not keep the others' from running.
                log.exception("leaving a %s subscription failed", subscription["kind"])

    async def _unsubscribe(self, request):
        try:
            subscription = _parse(request)
        except ValueError as exc:
            await self.send_json({"type": "error", "error": str(exc), "subscription": request})
            return
        group = _group(subscription)
        if self.subscriptions.pop(group, None) is not None:
            await self.channel_layer.group_discard(group, self.channel_name)
            await self._left(subscription)
        await self.send_json({"type": "unsubscribed", "subscription": subscription})

    # Group messages --------------------------------------------------------------------------

    async def access_changed(self, message):
        """The user's grants or account changed: keep only what they may still see."""
        if not await database_sync_to_async(user_is_active)(user_id=self.user.pk):
            await self.close(code=CLOSE_DEACTIVATED)
            return
        for group, subscription in list(self.subscriptions.items()):
            try:
                namespaces = await database_sync_to_async(_authorize)(
                    user=self.user, subscription=subscription, audit=False
                )
            except SubscriptionRefused as exc:
                self.subscriptions.pop(group, None)
                self.action_namespaces.pop(group, None)
                await self.channel_layer.group_discard(group, self.channel_name)
                await self._left(subscription)
                await self.send_json(
                    {"type": "unsubscribed", "subscription": subscription, "reason": str(exc)}
                )
                continue
            if subscription["kind"] == "actions":
                self.action_namespaces[group] = namespaces

    async def session_ended(self, message):
        if message.get("session") == self.session:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def kube_event(self, message):
        await self.send_json(message)

    async def stream_message(self, message):
        await self.send_json(message["payload"])

    async def action_update(self, message):
        action = message.get("action") or {}
        group = group_name("actions", action.get("cluster", ""))
        allowed = self.action_namespaces.get(group)
        if allowed is not None and action.get("namespace") not in allowed:
            return
        await self.send_json({"type": "action.update", "action": action})


def _parse(request) -> dict:
    if not isinstance(request, dict):
        raise ValueError("subscription must be an object with cluster, kind and namespace")
    spec = stream_kind_get(request.get("kind"))
    if spec is not None:
        return spec.parse(request)
    cluster = request.get("cluster")
    kind = request.get("kind")
    namespace = request.get("namespace") or None
    if not isinstance(cluster, str) or not cluster:
        raise ValueError("subscription.cluster: a cluster name is required")
    if kind != "actions" and kind not in KINDS:
        allowed = ", ".join([*KINDS, *stream_kind_names()])
        raise ValueError(f"subscription.kind: must be 'actions' or one of {allowed}; got {kind!r}")
    if namespace is not None and not isinstance(namespace, str):
        raise ValueError("subscription.namespace: must be a string or null")
    if kind == "actions":
        namespace = None
    return {"cluster": cluster, "kind": kind, "namespace": namespace}


def _authorize(*, user, subscription: dict, audit: bool) -> set[str] | None:
    spec = stream_kind_get(subscription["kind"])
    if spec is not None:
        spec.authorize(user=user, subscription=subscription, audit=audit)
        return None
    return subscription_authorize(user=user, audit=audit, **subscription)


def _group(subscription: dict) -> str:
    spec = stream_kind_get(subscription["kind"])
    if spec is not None:
        return spec.group(subscription)
    if subscription["kind"] == "actions":
        return group_name("actions", subscription["cluster"])
    parts = ["kube", subscription["cluster"], subscription["kind"]]
    if subscription["namespace"]:
        parts.append(subscription["namespace"])
    return group_name(*parts)
