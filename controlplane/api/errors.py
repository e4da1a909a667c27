"""API error responses: kube errors, Django validation errors and refusals mapped to HTTP."""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from controlplane.audit.serializers import action_serialize
from controlplane.audit.services import ActionNotQueued
from controlplane.clusters.crypto import CredentialsUnreadable
from controlplane.clusters.kubeconfig import KubeconfigError
from controlplane.clusters.services import ClusterNameTaken
from controlplane.kube.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    KubeError,
    NotFound,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger(__name__)

# Seconds a client should wait before asking again when the task queue is down.
NOT_QUEUED_RETRY_AFTER = 5


def _kube_response(exc: KubeError) -> Response:
    if isinstance(exc, NotFound):
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, AlreadyExists | Conflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Invalid):
        body = {"detail": str(exc)}
        for cause in exc.causes:
            body.setdefault(cause["field"] or "non_field_errors", []).append(cause["message"])
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, BadRequest):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Unavailable):
        return Response(
            {"detail": f"The cluster is unavailable: {exc}"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if isinstance(exc, Forbidden | Unauthorized):
        # The user may do this; the cluster refused the control plane's own credentials.
        return Response(
            {"detail": f"The cluster refused the control plane's credentials: {exc}"},
            status=status.HTTP_502_BAD_GATEWAY,
        )
    return Response({"detail": f"Cluster error: {exc}"}, status=status.HTTP_502_BAD_GATEWAY)


def exception_handler(exc, context):
    if isinstance(exc, ActionNotQueued):
        # Recorded as failed; a 202 would promise work that nothing will ever do.
        body = {
            "detail": f"The action could not be queued; try again shortly. {exc.reason}",
            "action": action_serialize(exc.event),
        }
        return Response(
            body,
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(NOT_QUEUED_RETRY_AFTER)},
        )
    if isinstance(exc, KubeError):
        return _kube_response(exc)
    if isinstance(exc, KubeconfigError):
        # The chosen context is a request field of its own; everything else is in the file.
        if exc.field == "context":
            return Response({"context": [exc.message]}, status=400)
        return Response({"kubeconfig": [str(exc)], "field": exc.field}, status=400)
    if isinstance(exc, ClusterNameTaken):
        return Response(exc.message_dict, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, CredentialsUnreadable):
        log.error("cluster credentials unreadable: %s", exc)
        return Response({"detail": str(exc)}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return drf_exception_handler(exc, context)
