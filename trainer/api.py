"""/api/v1/clusters/{cluster}/namespaces/{ns}/trainingruns/...: reads from the kept runs and the
watcher's cache; launch, rerun, cancel and deploy through the action pipeline (202 + the
action's URL)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from controlplane.api.responses import accepted_response
from controlplane.api.views import KubeObjectAPIView
from controlplane.audit.serializers import AcceptedSerializer
from controlplane.clusters.selectors import cluster_get

from . import selectors
from .serializers import (
    CancelRequestSerializer,
    LaunchRequestSerializer,
    RerunRequestSerializer,
    RunAcceptedSerializer,
    RunDeployRequestSerializer,
    RunDetailSerializer,
    RunSerializer,
)
from .services import trainingrun_cancel, trainingrun_launch, trainingrun_rerun
from .services.deploy import trainingrun_deploy


def _body(request):
    data = request.data
    if hasattr(data, "dict"):  # a QueryDict: form-encoded or no body at all
        data = data.dict()
    return data


def _accepted(event, run=None) -> Response:
    if run is None:
        return accepted_response(event)
    url = reverse(
        "api-trainingrun-detail",
        kwargs={"cluster": run.cluster.name, "namespace": run.namespace, "run_id": run.id},
    )
    return accepted_response(event, run=run.id, run_url=url)


class TrainingRunListView(KubeObjectAPIView):
    @extend_schema(responses=RunSerializer(many=True))
    def get(self, request, cluster, namespace):
        obj = cluster_get(name=cluster, user=request.user)
        runs = selectors.trainingrun_list(user=request.user, cluster=obj, namespace=namespace)
        return Response([RunSerializer(selectors.run_summary(run)).data for run in runs])

    @extend_schema(
        request=LaunchRequestSerializer,
        responses={202: RunAcceptedSerializer},
        description=(
            "Launch a training Job: records a training run and creates a batch/v1 Job "
            "(backoffLimit in the Job spec; GPUs as nvidia.com/gpu limits with GKE's "
            "accelerator node selector and the nvidia.com/gpu toleration)."
        ),
    )
    def post(self, request, cluster, namespace):
        obj = cluster_get(name=cluster, user=request.user)
        run, event = trainingrun_launch(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            spec=request.data,
            request_id=request.request_id,
        )
        return _accepted(event, run)


class TrainingRunDetailView(KubeObjectAPIView):
    @extend_schema(responses=RunDetailSerializer)
    def get(self, request, cluster, namespace, run_id):
        obj = cluster_get(name=cluster, user=request.user)
        detail = selectors.trainingrun_detail(
            user=request.user, cluster=obj, namespace=namespace, run_id=run_id
        )
        return Response(RunDetailSerializer(detail).data)


class TrainingRunCancelView(KubeObjectAPIView):
    @extend_schema(request=CancelRequestSerializer, responses={202: AcceptedSerializer})
    def post(self, request, cluster, namespace, run_id):
        obj = cluster_get(name=cluster, user=request.user)
        event = trainingrun_cancel(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            run_id=run_id,
            options=_body(request),
            request_id=request.request_id,
        )
        return _accepted(event)


class TrainingRunRerunView(KubeObjectAPIView):
    @extend_schema(
        request=RerunRequestSerializer,
        responses={202: RunAcceptedSerializer},
        description="A new run with this run's parameters, recorded as its child.",
    )
    def post(self, request, cluster, namespace, run_id):
        obj = cluster_get(name=cluster, user=request.user)
        run, event = trainingrun_rerun(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            run_id=run_id,
            options=_body(request),
            request_id=request.request_id,
        )
        return _accepted(event, run)


class TrainingRunDeployView(KubeObjectAPIView):
    @extend_schema(
        request=RunDeployRequestSerializer,
        responses={202: AcceptedSerializer},
        description=(
            "Deploy this model: roll a succeeded run's export out to an existing deployment "
            "(deployment), or create a model deployment and its Service serving it (create, "
            "the body of POST .../deployments/); MODEL_URI, the model version and the run's "
            "lineage are set on the Deployment."
        ),
    )
    def post(self, request, cluster, namespace, run_id):
        obj = cluster_get(name=cluster, user=request.user)
        event = trainingrun_deploy(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            run_id=run_id,
            body=_body(request),
            request_id=request.request_id,
        )
        return _accepted(event)
