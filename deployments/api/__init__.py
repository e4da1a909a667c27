"""/api/v1/clusters/{cluster}/namespaces/{ns}/deployments/...: read through the kube layer;
deploy, delete (api/deploy.py) and scale through the action pipeline (202 + the action's URL)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from controlplane.api.pagination import CheckedLimitOffsetPagination
from controlplane.api.responses import accepted_response, request_object
from controlplane.api.views import KubeObjectAPIView
from controlplane.clusters.selectors import cluster_get

from .. import selectors, services
from ..selectors_detail import SORT_KEYS, rows_filter_sort
from ..serializers import DeploymentSerializer, ScaleRequestSerializer, deployment_summarize
from ..serializers_autoscale import ScaleAcceptedSerializer
from ..services.autoscale import deployment_scale_warnings
from .deploy import DeleteMixin, DeployMixin

_FIELDS = tuple(DeploymentSerializer().fields)
# The autoscaler column needs the HPAs: the pages sort by it, the API does not.
_API_SORT_KEYS = sorted(k for k in SORT_KEYS if k != "autoscaler")
_LIST_PARAMETERS = [
    OpenApiParameter(
        "q", OpenApiTypes.STR, description="text in the name, an image or a model label"
    ),
    OpenApiParameter(
        "labels", OpenApiTypes.STR, description="label selector: key=value,key!=value,key"
    ),
    OpenApiParameter(
        "sort",
        OpenApiTypes.STR,
        enum=_API_SORT_KEYS + [f"-{k}" for k in _API_SORT_KEYS],
        description="column to sort by; a leading - sorts descending (default: by name)",
    ),
    OpenApiParameter(
        "limit",
        OpenApiTypes.INT,
        description="at most this many (1 to 1000; absent: all). The body stays a list; "
        "X-Total-Count says how many matched and Link gives the next and previous pages",
    ),
    OpenApiParameter("offset", OpenApiTypes.INT, description="skip this many (with limit)"),
]


def _list_query(request) -> dict:
    params = request.query_params
    sort = params.get("sort", "")
    if sort and sort.lstrip("-") not in _API_SORT_KEYS:
        raise ValidationError(
            {"sort": [f"Must be one of {', '.join(_API_SORT_KEYS)} (- for descending)."]}
        )
    paginator = CheckedLimitOffsetPagination()
    paginator.default_limit = None
    return {
        "text": params.get("q", ""),
        "labels": params.get("labels", ""),
        "sort": sort,
        "limit": paginator.get_limit(request),
        "offset": paginator.get_offset(request),
    }


class DeploymentListView(DeployMixin, KubeObjectAPIView):
    @extend_schema(parameters=_LIST_PARAMETERS, responses=DeploymentSerializer(many=True))
    def get(self, request, cluster, namespace):
        obj = cluster_get(name=cluster, user=request.user)
        # Listed first: the role check comes before anything is said about the query.
        rows = selectors.deployment_list(user=request.user, cluster=obj, namespace=namespace)
        return _list_response(request, rows)


class DeploymentAllListView(KubeObjectAPIView):
    """GET /api/v1/clusters/{c}/deployments/: every namespace the caller's grant covers."""

    @extend_schema(parameters=_LIST_PARAMETERS, responses=DeploymentSerializer(many=True))
    def get(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        rows = selectors.deployment_list_all(user=request.user, cluster=obj)
        return _list_response(request, rows)


def _list_response(request, rows: list[dict]) -> Response:
    """`rows` (deployment_rows) filtered, sorted and paged as the query asks."""
    query = _list_query(request)
    chosen = rows_filter_sort(
        rows,
        text=query["text"],
        labels=query["labels"],
        sort=query["sort"],
    )
    if chosen["filter_error"]:
        raise ValidationError({"labels": [chosen["filter_error"]]})
    rows = chosen["rows"]
    headers = {"X-Total-Count": str(len(rows))}
    limit, offset = query["limit"], query["offset"]
    if limit is not None:
        headers.update(_page_links(request, total=len(rows), limit=limit, offset=offset))
        rows = rows[offset : offset + limit]
    return Response([{k: row[k] for k in _FIELDS} for row in rows], headers=headers)


def _page_links(request, *, total: int, limit: int, offset: int) -> dict:
    url = request.build_absolute_uri()
    links = []
    if offset + limit < total:
        links.append((replace_query_param(url, "offset", offset + limit), "next"))
    if offset > 0:
        previous = max(0, offset - limit)
        links.append(
            (
                replace_query_param(url, "offset", previous)
                if previous
                else remove_query_param(url, "offset"),
                "prev",
            )
        )
    return {"Link": ", ".join(f'<{u}>; rel="{rel}"' for u, rel in links)} if links else {}


class DeploymentDetailView(DeleteMixin, KubeObjectAPIView):
    @extend_schema(responses=DeploymentSerializer)
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        item = selectors.deployment_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
        return Response(deployment_summarize(deployment=item))


class DeploymentScaleView(KubeObjectAPIView):
    @extend_schema(request=ScaleRequestSerializer, responses={202: ScaleAcceptedSerializer})
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        # Absent is refused as "required" (and audited), like any other bad value.
        data = request_object(request)
        replicas = data.get("replicas", services.MISSING)
        event = services.deployment_scale(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            replicas=replicas,
            request_id=request.request_id,
        )
        # An autoscaler managing the deployment will override this count: say so.
        warnings = deployment_scale_warnings(cluster=obj, namespace=namespace, name=name)
        return accepted_response(event, warnings=warnings)
