"""Fields of Kubernetes objects as the API returns them (plain dicts, camelCase keys)."""

import logging
from datetime import datetime

log = logging.getLogger(__name__)


def object_name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def object_namespace(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


def object_time(stamp: str | None, *, where: str) -> datetime | None:
    """An RFC 3339 timestamp ("2026-01-31T12:00:00Z") as an aware datetime; None if absent.

    A malformed one is logged and shown as unknown rather than failing the whole page.
    """
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        log.warning("ignoring malformed timestamp %r in %s", stamp, where)
        return None
