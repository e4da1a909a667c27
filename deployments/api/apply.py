"""POST /api/v1/clusters/{cluster}/apply/ {"yaml", "namespace", "dry_run"}: "Apply YAML".

`dry_run: true` answers the plan at once (200; a server-side dry run, nothing changes);
otherwise the documents are applied by an action (202 + the action's URL).
"""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.responses import accepted_response
from controlplane.audit.serializers import AcceptedSerializer
from controlplane.clusters.selectors import cluster_get

from ..services.apply import manifests_apply, manifests_preview


class ApplyRequestSerializer(serializers.Serializer):
    yaml = serializers.CharField(
        trim_whitespace=False,
        help_text="one or more YAML documents separated by ---: Deployment, Service, "
        "HorizontalPodAutoscaler, Job, Ingress, HTTPRoute, ConfigMap; no anchors or aliases",
    )
    namespace = serializers.CharField(
        required=False, help_text="where to apply; default: the namespace the documents name"
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="true: preview only (server-side dry run)"
    )


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class DocumentErrorSerializer(serializers.Serializer):
    document = serializers.IntegerField()
    object = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    message = serializers.CharField()
    fields = FieldErrorSerializer(many=True)


class DocumentPlanSerializer(serializers.Serializer):
    document = serializers.IntegerField(help_text="0-based index in the YAML")
    api_version = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField()
    action = serializers.ChoiceField(choices=["create", "change", "unchanged", "error"])
    diff = serializers.CharField(allow_blank=True, help_text="unified diff, live -> applied")
    error = DocumentErrorSerializer(allow_null=True)


class ApplyPlanSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    dry_run = serializers.BooleanField()
    valid = serializers.BooleanField(help_text="false: some document was refused")
    documents = DocumentPlanSerializer(many=True)


def _fields(data: object) -> tuple[object, object, bool]:
    if not isinstance(data, dict):
        return None, None, False
    dry_run = data.get("dry_run")
    if dry_run is None:
        return data.get("yaml"), data.get("namespace"), False
    try:
        # As the serializer reads it: true/false, and "true"/"1"/"on"... from a form post.
        dry_run = serializers.BooleanField().to_internal_value(dry_run)
    except serializers.ValidationError:
        raise ValidationError({"dry_run": ["Must be a boolean."]}) from None
    return data.get("yaml"), data.get("namespace"), dry_run


class ApplyView(APIView):
    @extend_schema(
        request=ApplyRequestSerializer,
        responses={200: ApplyPlanSerializer, 202: AcceptedSerializer},
        description="Apply YAML manifests. With `dry_run: true` the answer (200) is the plan "
        "per document: create, change (with a diff) or unchanged, or the API server's reason "
        "naming the field; nothing changes. Otherwise an action applies them (202).",
    )
    def post(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        text, namespace, dry_run = _fields(request.data)
        common = {
            "actor": request.user,
            "cluster": obj,
            "namespace": namespace,
            "text": text,
            "request_id": request.request_id,
        }
        if dry_run:
            return Response(ApplyPlanSerializer(manifests_preview(**common)).data)
        event = manifests_apply(**common)
        return accepted_response(event)
