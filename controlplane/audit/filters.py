"""The audit log's filters, as the page's form and the API's query parameters give them."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

from .models import ActionStatus

if TYPE_CHECKING:
    from collections.abc import Mapping

FILTERS = ("actor", "cluster", "namespace", "kind", "verb", "status", "since", "until")


def audit_filters_parse(*, params: Mapping[str, str]) -> dict:
    """Validated filter values from query parameters; errors name the parameter."""
    filters: dict = {}
    errors: dict = {}
    for key in ("actor", "cluster", "namespace", "kind", "verb"):
        if params.get(key):
            filters[key] = params[key]
    if params.get("status"):
        if params["status"] not in ActionStatus.values:
            errors["status"] = [f"Choose one of: {', '.join(ActionStatus.values)}."]
        filters["status"] = params["status"]
    for key in ("since", "until"):
        raw = params.get(key)
        if raw:
            try:
                value = parse_datetime(raw)
            except ValueError:
                value = None
            if value is None:
                errors[key] = ["Use an ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z."]
            elif timezone.is_naive(value):
                # The page's date pickers send local-less times: they are UTC, like the page.
                value = timezone.make_aware(value, UTC)
            filters[key] = value
    if errors:
        raise ValidationError(errors)
    return filters
