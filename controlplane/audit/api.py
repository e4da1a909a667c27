"""/api/v1/actions/{id}/ and /api/v1/audit/ (filters: actor, cluster, namespace, kind, verb,
status, since, until)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from .filters import FILTERS, audit_filters_parse
from .models import SYSTEM_ACTOR
from .selectors import action_get, audit_list
from .serializers import ActionSerializer, action_serialize

_DESCRIPTIONS = {"actor": f"a username, or {SYSTEM_ACTOR} for actions the system took"}


class ActionDetailView(APIView):
    @extend_schema(responses=ActionSerializer)
    def get(self, request, pk):
        return Response(action_serialize(action_get(user=request.user, action_id=pk)))


class AuditListView(GenericAPIView):
    serializer_class = ActionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                key,
                OpenApiTypes.DATETIME if key in ("since", "until") else str,
                description=_DESCRIPTIONS.get(key, ""),
            )
            for key in FILTERS
        ],
        responses=ActionSerializer(many=True),
    )
    def get(self, request):
        events = audit_list(user=request.user, **audit_filters_parse(params=request.query_params))
        page = self.paginate_queryset(events)
        return self.get_paginated_response([action_serialize(event) for event in page])
