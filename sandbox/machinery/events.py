"""core/v1 Events, recorded and aggregated the way the real components' recorders do."""

from __future__ import annotations

import logging
import time

from sandbox.machinery.errors import ApiError

log = logging.getLogger(__name__)


def _now() -> str:
    from sandbox.storage.store import now_iso

    return now_iso()


def record_event(
    store,
    involved: dict,
    *,
    reason: str,
    message: str,
    type: str = "Normal",
    component: str,
) -> None:
    """Create an Event about `involved`, or bump count/lastTimestamp of the identical last one.

    Repeats of the same (object, reason, message) aggregate into one Event, as the client-go
    event correlator does, so a crash-looping pod does not flood the store.
    """
    meta = involved.get("metadata", {})
    ns = meta.get("namespace") or "default"
    if store.get("namespaces", None, ns) is None:
        return  # the namespace is gone: nowhere to put the event (the real recorder drops it too)
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
    # so name order is creation order; repeats are found through an index, not the name.
    index: dict = store.event_index
    key = (ns, ref["uid"] or ref["name"], reason, message, type, component)
    name = index.get(key) or f"{ref['name']}.{time.time_ns():x}"
    now = _now()
    existing = store.get("events", ns, name) if key in index else None
    try:
        if existing is not None:
            updated = dict(existing)
            updated["count"] = int(existing.get("count", 1)) + 1
            updated["lastTimestamp"] = now
            updated["involvedObject"] = ref
            updated["metadata"] = dict(existing["metadata"])
            updated["metadata"].pop("resourceVersion", None)
            store.update("events", updated)
            return
        index[key] = name
        store.create(
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
    except ApiError as err:
        # an event is best-effort in a real cluster too, but never silently lost here
        log.warning("could not record event %s for %s/%s: %s", reason, ns, ref["name"], err)
