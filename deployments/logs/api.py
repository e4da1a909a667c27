"""GET /api/v1/clusters/{c}/namespaces/{ns}/pods/{name}/log/: the log as text/plain, streamed
as the API server sends it (with `timestamps` it is byte for byte `kubectl logs --timestamps`;
with `follow` it stays open). A pod the cluster no longer has answers with its kept lines."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer

from controlplane.api.views import KubeObjectAPIView
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.errors import NotFound
from controlplane.kube.logs import LogOptions, LogStream

from .options import LogQuerySerializer
from .selectors import pod_log_kept, pod_log_stream


class PlainTextRenderer(BaseRenderer):
    """Lets clients ask for text/plain; errors are then written as text too."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return str(data).encode()


_END = object()


async def _copy(stream: LogStream):
    """The response body: each chunk as it arrives, the blocking read in a worker thread."""
    chunks = stream.chunks()
    step = sync_to_async(lambda: next(chunks, _END), thread_sensitive=False)
    try:
        while (chunk := await step()) is not _END:
            yield chunk
    finally:
        # The client went away (or the log ended): end the upstream request too.
        stream.close()


def _filename(pod: str, container: str | None, previous: bool) -> str:
    parts = [pod, *([container] if container else []), *(["previous"] if previous else [])]
    return "_".join(parts) + ".log"


class PodLogView(KubeObjectAPIView):
    renderer_classes = [JSONRenderer, PlainTextRenderer]

    @extend_schema(
        parameters=[LogQuerySerializer],
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="The log, streamed (kept lines of a deleted pod)."
            )
        },
        description=(
            "A container's log as text/plain, streamed as the API server sends it, with "
            "Content-Disposition for saving it. With `timestamps` each line starts with its "
            "RFC 3339 timestamp exactly as `kubectl logs --timestamps` prints it; `follow` keeps "
            "the response open. A pod that is gone answers with the lines kept of it "
            "(LOGS_RETENTION_SECONDS). Needs the view role in the namespace, or operator where "
            "the cluster keeps logs from viewers."
        ),
    )
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        query = LogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        options = LogOptions(
            container=data.get("container") or None,
            previous=data["previous"],
            follow=data["follow"],
            timestamps=data["timestamps"],
            tail_lines=data.get("tail_lines"),
            since_seconds=data.get("since_seconds"),
        )
        disposition = (
            f'attachment; filename="{_filename(name, options.container, options.previous)}"'
        )
        try:
            stream = pod_log_stream(
                user=request.user,
                cluster=obj,
                namespace=namespace,
                pod=name,
                options=options,
                request_id=request.request_id,
            )
        except NotFound:
            if not options.container or options.previous:
                raise
            body = pod_log_kept(
                user=request.user,
                cluster=obj,
                namespace=namespace,
                pod=name,
                container=options.container,
                timestamps=options.timestamps,
            )
            response = HttpResponse(body, content_type="text/plain; charset=utf-8")
            response["Content-Disposition"] = disposition
            response["X-Log-Source"] = "kept"
            return response
        response = StreamingHttpResponse(_copy(stream), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = disposition
        # Proxies must pass a followed log on as it comes.
        response["X-Accel-Buffering"] = "no"
        response["Cache-Control"] = "no-store"
        return response
