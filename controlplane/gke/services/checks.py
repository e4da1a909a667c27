"""What every GKE write checks first: the actor is an admin (a refusal is audited), and each
field has the right shape (a ValidationError naming it). What only Google knows (whether a
zone exists, a name is taken, a count is allowed for that resource) is left to Google, whose
message becomes the action's error verbatim."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record

if TYPE_CHECKING:
    from controlplane.accounts.types import User

MISSING = object()
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_LOCATION = re.compile(r"^[a-z]+-[a-z]+[0-9]+(-[a-z])?$")
_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
RELEASE_CHANNELS = ("", "RAPID", "REGULAR", "STABLE", "EXTENDED")
GPU_DRIVERS = ("", "DEFAULT", "LATEST", "INSTALLATION_DISABLED")
MAX_KEY_BYTES = 16 * 1024


def _refuse(*, actor: User, kind: str, name: str, verb: str, parameters: dict, request_id) -> None:
    if getattr(actor, "is_superuser", False):
        return
    who = getattr(actor, "username", "") or "anonymous"
    action_record(
        actor=actor,
        cluster=None,
        kind=kind,
        name=name,
        verb=verb,
        parameters=parameters,
        status=ActionStatus.REFUSED,
        error=f"{who} is not an admin: only admins manage GKE",
        request_id=request_id,
    )
    raise PermissionDenied("Only admins may manage GKE credentials, clusters and node pools.")


# ---- field checks ----


def _text(value: object, field: str, pattern: re.Pattern, rule: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValidationError({field: [f"{rule}; got {value!r}."]})
    return value


def _project(value: object) -> str:
    return _text(value, "project", _PROJECT, "6 to 30 lowercase letters, digits or hyphens")


def _location(value: object) -> str:
    return _text(value, "location", _LOCATION, "a zone (us-central1-a) or region (us-central1)")


def _name(value: object, field: str = "name") -> str:
    rule = "1 to 40 lowercase letters, digits or hyphens, starting with a letter"
    return _text(value, field, _NAME, rule)


def _count(value: object, field: str, *, low: int = 0, high: int = 1000) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: [f"Must be a whole number; got {value!r}."]})
    if not low <= value <= high:
        raise ValidationError({field: [f"Must be from {low} to {high}; got {value}."]})
    return value


def _choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        allowed = ", ".join(c for c in choices if c) + " or empty"
        raise ValidationError({field: [f"Must be one of {allowed}; got {value!r}."]})
    return str(value)


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError({field: [f"Must be true or false; got {value!r}."]})
    return value


def _autoscaling(value: object, field: str = "autoscaling") -> dict | None:
    """None (off) or {"min_node_count", "max_node_count"}; min 0 is allowed (scale from zero)."""
    if value is None or value is MISSING:
        return None
    if not isinstance(value, dict):
        raise ValidationError(
            {field: ["Must be an object with min_node_count and max_node_count, or null."]}
        )
    low = _count(value.get("min_node_count", 0), f"{field}.min_node_count")
    high = _count(value.get("max_node_count"), f"{field}.max_node_count", low=1)
    if low > high:
        raise ValidationError(
            {f"{field}.min_node_count": [f"Must not exceed max_node_count ({high})."]}
        )
    return {"min_node_count": low, "max_node_count": high}
