"""/api/v1/actions/{id}/ and /api/v1/audit/ (filters: actor, cluster, namespace, kind, verb,
status, since, until)."""

from datetime import UTC

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.serializers import ActionSerializer

from .models import ActionStatus
from .selectors import action_get, audit_list
from .serialization import action_serialize

FILTERS = ("actor", "cluster", "namespace", "kind", "verb", "status", "since", "until")


def parse_audit_filters(params) -> dict:
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


class ActionDetailView(APIView):
    @extend_schema(responses=ActionSerializer)
    def get(self, request, pk):
        return Response(action_serialize(action_get(user=request.user, action_id=pk)))


class AuditListView(GenericAPIView):
    serializer_class = ActionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(key, OpenApiTypes.DATETIME if key in ("since", "until") else str)
            for key in FILTERS
        ],
        responses=ActionSerializer(many=True),
    )
    def get(self, request):
        events = audit_list(user=request.user, **parse_audit_filters(request.query_params))
        page = self.paginate_queryset(events)
        return self.get_paginated_response([action_serialize(event) for event in page])
