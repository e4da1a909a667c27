""".../deployments/{name}/rollout/, rollback/ and revisions/: roll out, follow, pause, resume,
restart, roll back (actions: 202 + the action's URL) and the revision history with diffs.

    GET  rollout/                      where the rollout stands (state, counts, pods, reasons)
    POST rollout/                      {"image"} or {"containers": {name: image}}, "change_cause"
    POST rollout/pause/ | resume/ | restart/
    POST rollback/                     {"revision"} (absent or 0: the previous revision)
    GET  revisions/                    kept revisions, newest first
    GET  revisions/{a}/diff/{b}/       what changed in the pod template from revision a to b
"""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from controlplane.api.responses import accepted_response, request_object
from controlplane.api.views import KubeObjectAPIView
from controlplane.audit.serializers import AcceptedSerializer
from controlplane.clusters.selectors import cluster_get

from .. import selectors_rollout as selectors
from ..serializers_rollout import (
    RevisionDiffSerializer,
    RevisionSerializer,
    RollbackRequestSerializer,
    RolloutRequestSerializer,
    RolloutStatusSerializer,
)
from ..services import MISSING
from ..services import rollout as services

_ACCEPTED = {202: AcceptedSerializer}


class DeploymentRolloutView(KubeObjectAPIView):
    @extend_schema(
        responses=RolloutStatusSerializer,
        description=(
            "Where the rollout stands, read from the cluster now: state, the new and old "
            "ReplicaSets' counts, surge and unavailable pods, every pod with its waiting reason, "
            "and when stuck the pod-level reasons (ImagePullBackOff, CrashLoopBackOff, "
            "Unschedulable, ProgressDeadlineExceeded)."
        ),
    )
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        state = selectors.rollout_status_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
        return Response(RolloutStatusSerializer(state).data)

    @extend_schema(
        request=RolloutRequestSerializer,
        responses=_ACCEPTED,
        description=(
            "Roll out new images: `image` for a deployment with one container, or `containers` "
            "(name -> image); `change_cause` becomes the new revision's "
            "kubernetes.io/change-cause. Needs the engineer role."
        ),
    )
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        data = request_object(request)
        event = services.deployment_rollout(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            image=data.get("image", MISSING),
            containers=data.get("containers", MISSING),
            change_cause=data.get("change_cause", MISSING),
            request_id=request.request_id,
        )
        return accepted_response(event)


class _PauseView(KubeObjectAPIView):
    paused: bool

    @extend_schema(request=None, responses=_ACCEPTED)
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event = services.deployment_pause_set(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            paused=self.paused,
            request_id=request.request_id,
        )
        return accepted_response(event)


class DeploymentRolloutPauseView(_PauseView):
    paused = True


class DeploymentRolloutResumeView(_PauseView):
    paused = False


class DeploymentRolloutRestartView(KubeObjectAPIView):
    @extend_schema(request=None, responses=_ACCEPTED)
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event = services.deployment_restart(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            request_id=request.request_id,
        )
        return accepted_response(event)


class DeploymentRollbackView(KubeObjectAPIView):
    @extend_schema(
        request=RollbackRequestSerializer,
        responses=_ACCEPTED,
        description=(
            "Roll back as `kubectl rollout undo --to-revision` does (the revision's template "
            "and change-cause); no revision: the previous one. Needs the operator role."
        ),
    )
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event = services.deployment_rollback(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            revision=request_object(request).get("revision", MISSING),
            request_id=request.request_id,
        )
        return accepted_response(event)


class DeploymentRevisionListView(KubeObjectAPIView):
    @extend_schema(
        responses=RevisionSerializer(many=True),
        description=(
            "The kept revisions, newest first: images, change-cause, when, and the action "
            "(who, which verb) when the revision was made here. Compare two with "
            "revisions/{left}/diff/{right}/."
        ),
    )
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        rows = selectors.revision_list_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
        return Response(RevisionSerializer(rows, many=True).data)


class DeploymentRevisionDiffView(KubeObjectAPIView):
    @extend_schema(
        responses=RevisionDiffSerializer,
        description=(
            "The pod template's changes from revision `left` to revision `right`, one per "
            "field (containers, env and ports keyed by name); 404 when either is not kept."
        ),
    )
    def get(self, request, cluster, namespace, name, left, right):
        obj = cluster_get(name=cluster, user=request.user)
        diff = selectors.revision_diff_get(
            user=request.user, cluster=obj, namespace=namespace, name=name, left=left, right=right
        )
        return Response(RevisionDiffSerializer(diff).data)
