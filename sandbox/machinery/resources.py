"""The registry of resource kinds the sandbox serves.

Each ResourceType names one REST resource: where it lives in the URL space, its kind, scope,
verbs, short names and subresources, and which model class of the official client describes
its schema (used for OpenAPI, unknown-field detection and strategic-merge keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field

READ_VERBS = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    group: str = ""
    version: str = "v1"
    verbs: tuple[str, ...] = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceType:
    plural: str
    singular: str
    kind: str
    group: str
    versions: tuple[str, ...]  # served versions, preferred first; the first is the storage one
    namespaced: bool
    model: str | None  # official-client model class name for the storage version
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    has_status: bool = True
    # kinds whose spec changes bump metadata.generation
    generation: bool = False
    # models for other served versions, by version
    version_models: dict[str, str] = field(default_factory=dict)
    stored: bool = True  # False for virtual resources (metrics, access reviews)

    @property
    def key(self) -> str:
        return self.plural if not self.group else f"{self.plural}.{self.group}"

    @property
    def storage_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        version = version or self.storage_version
        return version if not self.group else f"{self.group}/{version}"

    def model_for(self, version: str) -> str | None:
        return self.version_models.get(version, self.model if version == self.versions[0] else None)

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


_STATUS = Subresource("status", "")  # kind filled per resource (same as parent)
_SCALE = Subresource("scale", "Scale", "autoscaling", "v1")
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "namespaces",
        "namespace",
        "Namespace",
        "",
        ("v1",),
        False,
        "V1Namespace",
        ("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=(_STATUS, Subresource("finalize", "", verbs=("update",))),
    ),
    ResourceType(
        "nodes", "node", "Node", "", ("v1",), False, "V1Node", ("no",), subresources=(_STATUS,)
    ),
    ResourceType(
        "pods",
        "pod",
        "Pod",
        "",
        ("v1",),
        True,
        "V1Pod",
        ("po",),
        ("all",),
        subresources=(
            _STATUS,
            Subresource("log", "Pod", verbs=("get",)),
            Subresource("eviction", "Eviction", "policy", "v1", verbs=("create",)),
            Subresource("proxy", "PodProxyOptions", verbs=_PROXY_VERBS),
        ),
        generation=True,
    ),
    ResourceType(
        "services",
        "service",
        "Service",
        "",
        ("v1",),
        True,
        "V1Service",
        ("svc",),
        ("all",),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
        subresources=(_STATUS, Subresource("proxy", "ServiceProxyOptions", verbs=_PROXY_VERBS)),
    ),
    ResourceType(
        "endpoints",
        "endpoints",
        "Endpoints",
        "",
        ("v1",),
        True,
        "V1Endpoints",
        ("ep",),
        has_status=False,
    ),
    ResourceType(
        "events", "event", "Event", "", ("v1",), True, "CoreV1Event", ("ev",), has_status=False
    ),
    ResourceType(
        "configmaps",
        "configmap",
        "ConfigMap",
        "",
        ("v1",),
        True,
        "V1ConfigMap",
        ("cm",),
        has_status=False,
    ),
    ResourceType("secrets", "secret", "Secret", "", ("v1",), True, "V1Secret", has_status=False),
    ResourceType(
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        "",
        ("v1",),
        True,
        "V1ServiceAccount",
        ("sa",),
        has_status=False,
    ),
    ResourceType(
        "deployments",
        "deployment",
        "Deployment",
        "apps",
        ("v1",),
        True,
        "V1Deployment",
        ("deploy",),
        ("all",),
        subresources=(_STATUS, _SCALE),
        generation=True,
    ),
    ResourceType(
        "replicasets",
        "replicaset",
        "ReplicaSet",
        "apps",
        ("v1",),
        True,
        "V1ReplicaSet",
        ("rs",),
        ("all",),
        subresources=(_STATUS, _SCALE),
        generation=True,
    ),
    ResourceType(
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        "autoscaling",
        ("v2", "v1"),
        True,
        "V2HorizontalPodAutoscaler",
        ("hpa",),
        ("all",),
        subresources=(_STATUS,),
        generation=True,
        version_models={"v1": "V1HorizontalPodAutoscaler"},
    ),
    ResourceType(
        "jobs",
        "job",
        "Job",
        "batch",
        ("v1",),
        True,
        "V1Job",
        (),
        ("all",),
        subresources=(_STATUS,),
        generation=True,
    ),
    ResourceType(
        "ingresses",
        "ingress",
        "Ingress",
        "networking.k8s.io",
        ("v1",),
        True,
        "V1Ingress",
        ("ing",),
        subresources=(_STATUS,),
        generation=True,
    ),
    ResourceType(
        "ingressclasses",
        "ingressclass",
        "IngressClass",
        "networking.k8s.io",
        ("v1",),
        False,
        "V1IngressClass",
        has_status=False,
    ),
    ResourceType(
        "httproutes",
        "httproute",
        "HTTPRoute",
        "gateway.networking.k8s.io",
        ("v1",),
        True,
        None,
        (),
        ("gateway-api",),
        subresources=(_STATUS,),
        generation=True,
    ),
    ResourceType(
        "gateways",
        "gateway",
        "Gateway",
        "gateway.networking.k8s.io",
        ("v1",),
        True,
        None,
        ("gtw",),
        ("gateway-api",),
        subresources=(_STATUS,),
        generation=True,
    ),
    # RBAC objects are stored and served (so manifests that carry them apply), not enforced:
    # the sandbox authorizes by token (admin or read-only) alone.
    ResourceType(
        "roles",
        "role",
        "Role",
        "rbac.authorization.k8s.io",
        ("v1",),
        True,
        "V1Role",
        has_status=False,
    ),
    ResourceType(
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        "rbac.authorization.k8s.io",
        ("v1",),
        True,
        "V1RoleBinding",
        has_status=False,
    ),
    ResourceType(
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        "rbac.authorization.k8s.io",
        ("v1",),
        False,
        "V1ClusterRole",
        has_status=False,
    ),
    ResourceType(
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io",
        ("v1",),
        False,
        "V1ClusterRoleBinding",
        has_status=False,
    ),
    # virtual resources: served, never stored
    ResourceType(
        "pods",
        "",
        "PodMetrics",
        "metrics.k8s.io",
        ("v1beta1",),
        True,
        None,
        verbs=("get", "list"),
        has_status=False,
        stored=False,
    ),
    ResourceType(
        "nodes",
        "",
        "NodeMetrics",
        "metrics.k8s.io",
        ("v1beta1",),
        False,
        None,
        verbs=("get", "list"),
        has_status=False,
        stored=False,
    ),
    ResourceType(
        "selfsubjectaccessreviews",
        "",
        "SelfSubjectAccessReview",
        "authorization.k8s.io",
        ("v1",),
        False,
        "V1SelfSubjectAccessReview",
        verbs=("create",),
        has_status=False,
        stored=False,
    ),
    # derived from Endpoints on each read (kubectl describe reads EndpointSlices)
    ResourceType(
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        "discovery.k8s.io",
        ("v1",),
        True,
        "V1EndpointSlice",
        verbs=("get", "list"),
        has_status=False,
        stored=False,
    ),
    ResourceType(
        "selfsubjectreviews",
        "",
        "SelfSubjectReview",
        "authentication.k8s.io",
        ("v1",),
        False,
        "V1SelfSubjectReview",
        verbs=("create",),
        has_status=False,
        stored=False,
    ),
)

BY_KEY: dict[str, ResourceType] = {rt.key: rt for rt in RESOURCES}
STORED: tuple[ResourceType, ...] = tuple(rt for rt in RESOURCES if rt.stored)
# (group, version, plural) -> ResourceType
BY_PATH: dict[tuple[str, str, str], ResourceType] = {
    (rt.group, v, rt.plural): rt for rt in RESOURCES for v in rt.versions
}
BY_KIND: dict[tuple[str, str], ResourceType] = {(rt.group, rt.kind): rt for rt in STORED}


def groups() -> dict[str, list[str]]:
    """Every served API group with its versions, preferred first, in a stable order."""
    out: dict[str, list[str]] = {}
    for rt in RESOURCES:
        versions = out.setdefault(rt.group, [])
        for v in rt.versions:
            if v not in versions:
                versions.append(v)
    return out


def resolve(key: str) -> ResourceType:
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown resource {key!r}; known: {sorted(BY_KEY)}") from None


def for_api_version(api_version: str, kind: str) -> ResourceType | None:
    group = api_version.rpartition("/")[0]
    return BY_KIND.get((group, kind))
