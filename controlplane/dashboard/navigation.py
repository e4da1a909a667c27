"""Which cluster and namespace a page is about, remembered per session, and the nav bar."""

from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from controlplane.accounts.selectors import user_can, visible_namespaces
from controlplane.clusters.selectors import cluster_list
from controlplane.kube.objects import object_namespace
from controlplane.live.snapshot import snapshot_get

SESSION_CLUSTER = "dashboard.cluster"
SESSION_NAMESPACE = "dashboard.namespace"


def remember(request, *, cluster: str | None = None, namespace: str | None = None) -> None:
    if cluster:
        if request.session.get(SESSION_CLUSTER) != cluster:
            request.session.pop(SESSION_NAMESPACE, None)
        request.session[SESSION_CLUSTER] = cluster
    if namespace:
        request.session[SESSION_NAMESPACE] = namespace


def current_names(request) -> tuple[str | None, str | None]:
    """(cluster, namespace) named by the URL, else the ones remembered for this session."""
    kwargs = getattr(getattr(request, "resolver_match", None), "kwargs", {}) or {}
    session = getattr(request, "session", {})
    cluster = kwargs.get("cluster") or session.get(SESSION_CLUSTER)
    namespace = kwargs.get("namespace") or session.get(SESSION_NAMESPACE)
    return cluster, namespace


def _path_exists(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _reverse(name: str, **kwargs) -> str | None:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def nav_items(request, cluster: str | None, namespace: str | None) -> list[dict]:
    """The main navigation; an area whose pages don't exist yet is shown disabled.

    `namespace` is the one this page or session is about, if any: the Deployments entry
    opens it, else the deployments index picks one (namespace_to_open)."""
    current = getattr(getattr(request, "resolver_match", None), "view_name", "") or ""
    path = request.path
    items = [
        {
            "label": "Overview",
            "url": _reverse("dashboard:overview", cluster=cluster) if cluster else "/",
            "active": current.startswith("dashboard:overview"),
        },
        {
            "label": "Deployments",
            "url": (
                _reverse("deployments:list", cluster=cluster, namespace=namespace)
                if cluster and namespace
                else _reverse("deployments:index", cluster=cluster)
                if cluster
                else None
            ),
            "active": current.startswith("deployments:"),
        },
    ]
    # The URL namespace of an area whose pages also live under /c/<c>/ns/<ns>/.
    for label, prefix, app in (
        ("Training", "/training/", "trainer:"),
        ("Experiments", "/experiments/", None),
        ("Clusters", "/clusters/", None),
        ("GKE", "/gke/", None),
        ("Audit", "/audit/", None),
    ):
        if label == "GKE" and not getattr(request.user, "is_superuser", False):
            continue  # only admins manage GKE; an entry that answers 403 is noise
        items.append(
            {
                "label": label,
                "url": prefix if _path_exists(prefix) else None,
                "active": path.startswith(prefix) or bool(app and current.startswith(app)),
            }
        )
    items.append(
        {
            "label": "Watcher",
            "url": _reverse("dashboard:watcher"),
            "active": current == "dashboard:watcher",
        }
    )
    return items


def namespace_choices(*, user, cluster) -> tuple[list[str], str]:
    """Namespace names for the switcher, and a note when they could not be listed."""
    snap = snapshot_get(cluster=cluster, kind="namespaces")
    names = sorted((o.get("metadata") or {}).get("name", "") for o in snap.objects)
    visible = visible_namespaces(user=user, cluster=cluster)
    if visible is not None:
        # A narrowed grant names its namespaces even when they can't be listed right now.
        names = sorted(set(names) & visible) if snap.ok else sorted(visible)
    note = "" if snap.ok else f"namespaces unavailable: {snap.error}"
    return names, note


def namespace_to_open(*, user, cluster, remembered: str | None) -> str:
    """The namespace the Deployments entry opens: the one last used in this session, else
    the first with deployments (the cluster's default namespace first), else the default
    namespace or the first the user may see."""
    names, _note = namespace_choices(user=user, cluster=cluster)
    if remembered and remembered in names:
        return remembered
    deployments = snapshot_get(cluster=cluster, kind="deployments")
    busy = {object_namespace(o) for o in deployments.objects} & set(names)
    if busy:
        return cluster.default_namespace if cluster.default_namespace in busy else min(busy)
    if cluster.default_namespace in names:
        return cluster.default_namespace
    if names:
        return names[0]
    # Namespaces can't be listed: a narrowed grant still names its own.
    visible = visible_namespaces(user=user, cluster=cluster)
    return min(visible) if visible else cluster.default_namespace


def nav_state(request) -> dict:
    user = request.user
    if not user.is_authenticated:
        return {"authenticated": False}
    cluster_name, namespace = current_names(request)
    # What the page or the session names, before any fallback for the switcher.
    chosen_namespace = namespace
    clusters = list(cluster_list(user=user))
    cluster = next((c for c in clusters if c.name == cluster_name), None)
    if cluster is None and clusters:
        cluster = clusters[0]
    namespaces, note = ([], "")
    if cluster is not None:
        namespaces, note = namespace_choices(user=user, cluster=cluster)
        if namespace not in namespaces:
            namespace = (
                cluster.default_namespace
                if cluster.default_namespace in namespaces
                else (namespaces[0] if namespaces else None)
            )
    view_name = getattr(getattr(request, "resolver_match", None), "view_name", "") or ""
    return {
        "authenticated": True,
        "clusters": clusters,
        "cluster": cluster,
        "namespaces": namespaces,
        "namespace": namespace,
        "namespace_note": note,
        "items": nav_items(
            request,
            cluster.name if cluster else None,
            chosen_namespace if chosen_namespace in namespaces else None,
        ),
        "switch_to": "deployments" if view_name.startswith("deployments:") else "overview",
        "can_view_cluster": bool(
            cluster and user_can(user=user, permission="view", cluster=cluster)
        ),
        # Admins of any cluster they see get the link to the role grants.
        "can_manage_roles": any(
            user_can(user=user, permission="manage_roles", cluster=c) for c in clusters
        ),
    }
