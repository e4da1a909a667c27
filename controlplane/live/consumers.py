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
The origin is checked by AllowedHostsOriginValidator and the session by AuthMiddlewareStack
(controlplane/asgi.py); anonymous connections are closed with code 4401.
"""

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from controlplane.kube.watch import KINDS
from controlplane.live.broadcast import group_name

from .subscriptions import MAX_SUBSCRIPTIONS, SubscriptionRefused, subscription_authorize

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        self.subscriptions: dict[str, dict] = {}  # group -> subscription
        # Per action group: None = every namespace, else the set this user may see.
        self.action_namespaces: dict[str, set[str] | None] = {}
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code):
        for group in list(getattr(self, "subscriptions", {})):
            await self.channel_layer.group_discard(group, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data):
        # Not JSON: answered with an error below instead of dropping the connection.
        try:
            return json.loads(text_data)
        except ValueError:
            return None

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
        try:
            namespaces = await database_sync_to_async(subscription_authorize)(
                user=self.user, **subscription
            )
        except SubscriptionRefused as exc:
            await self.send_json({"type": "error", "error": str(exc), "subscription": subscription})
            return
        group = _group(subscription)
        if subscription["kind"] == "actions":
            self.action_namespaces[group] = namespaces
        self.subscriptions[group] = subscription
        await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json({"type": "subscribed", "subscription": subscription})

    async def _unsubscribe(self, request):
        try:
            subscription = _parse(request)
        except ValueError as exc:
            await self.send_json({"type": "error", "error": str(exc), "subscription": request})
            return
        group = _group(subscription)
        if self.subscriptions.pop(group, None) is not None:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.send_json({"type": "unsubscribed", "subscription": subscription})

    # Group messages --------------------------------------------------------------------------

    async def kube_event(self, message):
        await self.send_json(message)

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
    cluster = request.get("cluster")
    kind = request.get("kind")
    namespace = request.get("namespace") or None
    if not isinstance(cluster, str) or not cluster:
        raise ValueError("subscription.cluster: a cluster name is required")
    if kind != "actions" and kind not in KINDS:
        raise ValueError(
            f"subscription.kind: must be 'actions' or one of {', '.join(KINDS)}; got {kind!r}"
        )
    if namespace is not None and not isinstance(namespace, str):
        raise ValueError("subscription.namespace: must be a string or null")
    if kind == "actions":
        namespace = None
    return {"cluster": cluster, "kind": kind, "namespace": namespace}


def _group(subscription: dict) -> str:
    if subscription["kind"] == "actions":
        return group_name("actions", subscription["cluster"])
    parts = ["kube", subscription["cluster"], subscription["kind"]]
    if subscription["namespace"]:
        parts.append(subscription["namespace"])
    return group_name(*parts)
