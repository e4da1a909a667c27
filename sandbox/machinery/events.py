"""core/v1 Events, recorded and aggregated the way the real components' recorders do."""

from __future__ import annotations

import logging
import time
from typing import Any

from sandbox.machinery.errors import ApiError
from sandbox.machinery.util import rfc3339

log = logging.getLogger(__name__)

# (namespace, object, reason, message, type, component): what makes two events repeats
EventKey = tuple[str, str, str, str, str, str]


class EventRecorder:
    """Creates Events through the API it is given (anything with get/create/update/subscribe).

    Repeats of the same (object, reason, message) aggregate into one Event, as the client-go
    event correlator does, so a crash-looping pod does not flood the store.
    """

    def __init__(self, api: Any) -> None:
        self.api = api
        self._names: dict[EventKey, str] = {}
        self._keys: dict[tuple[str, str], EventKey] = {}
        # an expired or deleted Event is forgotten, so the index stays as small as the Events
        api.subscribe("events", self._on_event)

    def record(
        self,
        involved: dict,
        *,
        reason: str,
        message: str,
        type: str = "Normal",
        component: str,
    ) -> None:
        """Create an Event about `involved`, or bump count and lastTimestamp of its last repeat."""
        meta = involved.get("metadata", {})
        ns = meta.get("namespace") or "default"
        if self.api.get("namespaces", None, ns) is None:
            return  # the namespace is gone: nowhere to put the event (the real recorder drops it)
        ref = {
            "kind": involved.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": involved.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if not ref["namespace"]:
            ref.pop("namespace")
        # Events are named <object>.<creation time in hex nanoseconds>, as client-go names them,
        # so name order is creation order; repeats are found through the index, not the name.
        key = (ns, ref["uid"] or ref["name"], reason, message, type, component)
        name = self._names.get(key) or f"{ref['name']}.{time.time_ns():x}"
        now = rfc3339()
        existing = self.api.get("events", ns, name) if key in self._names else None
        try:
            if existing is not None:
                updated = dict(existing)
                updated["count"] = int(existing.get("count", 1)) + 1
                updated["lastTimestamp"] = now
                updated["involvedObject"] = ref
                updated["metadata"] = dict(existing["metadata"])
                updated["metadata"].pop("resourceVersion", None)
                self.api.update("events", updated)
                return
            self.api.create(
                "events",
                {
                    "metadata": {"name": name, "namespace": ns},
                    "involvedObject": ref,
                    "reason": reason,
                    "message": message,
                    "type": type,
                    "source": {"component": component},
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                    "reportingComponent": component,
                    "reportingInstance": "",
                },
            )
            self._names[key] = name
            self._keys[(ns, name)] = key
        except ApiError as err:
            # an event is best-effort in a real cluster too, but never silently lost here
            log.warning("could not record event %s for %s/%s: %s", reason, ns, ref["name"], err)

    def _on_event(self, etype: str, obj: dict, old: dict | None) -> None:
        if etype != "DELETED":
            return
        key = self._keys.pop((obj["metadata"].get("namespace", ""), obj["metadata"]["name"]), None)
        if key is not None:
            self._names.pop(key, None)
