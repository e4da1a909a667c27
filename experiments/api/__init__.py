"""/api/v1/clusters/{c}/namespaces/{ns}/experiments/...: thin views over the services
(writes, each answered 202 with its action) and the selectors (reads)."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from controlplane.api.responses import accepted_response, request_object
from controlplane.api.views import KubeObjectAPIView
from controlplane.audit.serializers import AcceptedSerializer
from controlplane.clusters.selectors import cluster_get

from .. import selectors, services
from ..serializers import (
    ConcludeSerializer,
    ExperimentRequestSerializer,
    ExperimentSerializer,
    FeedbackCsvSerializer,
    FeedbackSerializer,
    ResultsSerializer,
    WeightsSerializer,
)
from ..services import feedback
from ..validation import MISSING

_ACCEPTED = {202: AcceptedSerializer}


class ExperimentListView(KubeObjectAPIView):
    @extend_schema(responses=ExperimentSerializer(many=True))
    def get(self, request, cluster, namespace):
        obj = cluster_get(name=cluster, user=request.user)
        rows = selectors.experiment_list(user=request.user, cluster=obj, namespace=namespace)
        return Response(
            ExperimentSerializer([selectors.experiment_summary(e) for e in rows], many=True).data
        )

    @extend_schema(
        request=ExperimentRequestSerializer,
        responses=_ACCEPTED,
        description=(
            "Create a draft experiment. Variants name existing deployments and Services; "
            "weights are whole percents summing to 100; exactly one variant is the control. "
            "Needs the engineer role."
        ),
    )
    def post(self, request, cluster, namespace):
        obj = cluster_get(name=cluster, user=request.user)
        event = services.experiment_create(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            body=request.data,
            request_id=request.request_id,
        )
        return accepted_response(event)


class ExperimentDetailView(KubeObjectAPIView):
    @extend_schema(responses=ExperimentSerializer)
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        experiment = selectors.experiment_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
        return Response(ExperimentSerializer(selectors.experiment_summary(experiment)).data)

    @extend_schema(
        request=WeightsSerializer,
        responses=_ACCEPTED,
        description="Change the traffic weights (recorded on the timeline; applied at once "
        "while running, on resume while paused).",
    )
    def patch(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event = services.experiment_weights_set(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            weights=request_object(request).get("weights", MISSING),
            request_id=request.request_id,
        )
        return accepted_response(event)

    @extend_schema(
        request=None,
        responses=_ACCEPTED,
        description="Delete the routing object and the experiment with its data.",
    )
    def delete(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event = services.experiment_delete(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            request_id=request.request_id,
        )
        return accepted_response(event)


class _StepView(KubeObjectAPIView):
    step = staticmethod(services.experiment_start)

    @extend_schema(request=None, responses=_ACCEPTED)
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event = self.step(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            request_id=request.request_id,
        )
        return accepted_response(event)


class ExperimentStartView(_StepView):
    """Start a draft (its routing object is created), or resume a paused experiment."""

    step = staticmethod(services.experiment_start)


class ExperimentPauseView(_StepView):
    """All traffic to the control; the data collected so far is kept."""

    step = staticmethod(services.experiment_pause)


class ExperimentAbortView(_StepView):
    """All traffic back to the control, for good."""

    step = staticmethod(services.experiment_abort)


class ExperimentConcludeView(KubeObjectAPIView):
    @extend_schema(request=ConcludeSerializer, responses=_ACCEPTED)
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        data = request_object(request)
        event = services.experiment_conclude(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            winner=data.get("winner", MISSING),
            promotion=data.get("promotion", MISSING),
            request_id=request.request_id,
        )
        return accepted_response(event)


class ExperimentFeedbackView(KubeObjectAPIView):
    @extend_schema(
        request=FeedbackSerializer,
        responses=_ACCEPTED,
        description="One outcome: converted (true/false) or a numeric value, for the variant "
        "that served the request. Idempotent per request_id: a repeat is counted as duplicate.",
    )
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event = feedback.experiment_feedback(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            body=request.data,
            request_id=request.request_id,
        )
        return accepted_response(event)


class ExperimentFeedbackCsvView(KubeObjectAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": FeedbackCsvSerializer},
        responses=_ACCEPTED,
        description="Many outcomes as a CSV file (header request_id,variant,converted,value).",
    )
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        upload = request.FILES.get("file")
        text: object = MISSING
        if upload is not None:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError({"file": ["The file is not UTF-8 text."]}) from None
        event = feedback.experiment_feedback_csv(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            text=text,
            request_id=request.request_id,
        )
        return accepted_response(event)


class ExperimentResultsView(KubeObjectAPIView):
    @extend_schema(
        responses=ResultsSerializer,
        description=(
            "Per metric and treatment: lift with its 95% interval, p-value, Holm-adjusted "
            "p-value, always-valid sequential p-value, the minimum-data gate; the sample-ratio "
            "check and the guardrails with their measured values and thresholds."
        ),
    )
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        results = selectors.experiment_results_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
        return Response(ResultsSerializer(results).data)
