"""Writes of the cluster registry: add (from a kubeconfig, the pod's service account or the
sandbox), edit, remove, test. Every change is audited; credentials never leave encrypted."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from controlplane.accounts.selectors import user_can
from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_check, action_record, audit_invalid
from controlplane.kube import resources
from controlplane.kube.errors import KubeError
from controlplane.kube.names import dns1123_label_problem

from .crypto import CredentialsUnreadable, decrypt_json, encrypt_json
from .kubeconfig import KubeconfigError, parse_kubeconfig
from .models import Cluster, ClusterSource
from .selectors import in_cluster_available

if TYPE_CHECKING:
    from controlplane.accounts.types import User

log = logging.getLogger(__name__)

# Names that would collide with fixed URL segments (/clusters/add/, /api/v1/clusters/preview/).
RESERVED_NAMES = {"add", "preview"}

# An uploaded kubeconfig waits (encrypted, in the preview form) at most this long for "save".
STAGE_TTL_SECONDS = 3600

# What "Test connection" asks the API server about (resource, group, subresource, verbs).
_ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
ACCESS_CHECKS = (
    ("deployments", "apps", None, _ALL_VERBS),
    ("pods", "", None, _ALL_VERBS),
    ("pods/log", "", "log", ("get",)),
    ("jobs", "batch", None, _ALL_VERBS),
    ("horizontalpodautoscalers", "autoscaling", None, _ALL_VERBS),
    ("secrets", "", None, _ALL_VERBS),
)


def kubeconfig_stage(*, raw: bytes | str) -> str:
    """Validate an upload and wrap it encrypted, to be carried from preview to save."""
    parse_kubeconfig(raw)
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return encrypt_json({"kubeconfig": text})


def kubeconfig_unstage(*, staged: str) -> str:
    try:
        return decrypt_json(staged, ttl=STAGE_TTL_SECONDS)["kubeconfig"]
    except (CredentialsUnreadable, KeyError, TypeError) as exc:
        raise KubeconfigError(
            "kubeconfig", "the upload has expired or is damaged; upload the file again"
        ) from exc


def cluster_add_check(*, actor: User, name: str) -> None:
    """Only superusers add clusters; a refusal is audited and raised as PermissionDenied."""
    if not getattr(actor, "is_superuser", False):
        action_record(
            actor=actor,
            cluster=None,
            kind="cluster",
            name=name,
            verb="create",
            status=ActionStatus.REFUSED,
            error=f"{getattr(actor, 'username', 'anonymous')} is not a superuser",
        )
        raise PermissionDenied("Only superusers may add clusters.")


class ClusterNameTaken(ValidationError):
    """The name belongs to a registered cluster: a conflict (409), never a replacement."""


def _validate_name(name: str) -> str:
    """The one check of a new cluster's name, whatever its source."""
    if (problem := dns1123_label_problem(name)) is not None:
        raise ValidationError({"name": [f"{problem} (cluster names appear in URLs and paths)."]})
    if name in RESERVED_NAMES:
        raise ValidationError({"name": [f"{name!r} is reserved; choose another name."]})
    if Cluster.objects.filter(name=name).exists():
        raise ClusterNameTaken({"name": [f"A cluster named {name!r} already exists."]})
    return name


def _credentials_from_kubeconfig(raw: bytes | str, context: str | None) -> dict:
    return parse_kubeconfig(raw).credentials(context)


def _save_new(*, actor, name, display_name, source, creds: dict, request_id) -> Cluster:
    with transaction.atomic():
        cluster = Cluster.objects.create(
            name=name,
            display_name=display_name or "",
            server=creds["server"],
            source=source,
            context=creds.get("context", ""),
            default_namespace=creds.get("namespace") or "default",
            credentials_encrypted=encrypt_json(_secret_part(creds)) if creds else "",
        )
        action_record(
            actor=actor,
            cluster=cluster,
            kind="cluster",
            name=name,
            verb="create",
            parameters={"source": source, "server": cluster.server, "context": cluster.context},
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
    log.info("cluster %s added (%s, %s)", name, source, cluster.server)
    return cluster


def _secret_part(creds: dict) -> dict:
    keys = ("ca_data", "token", "client_cert_data", "client_key_data", "insecure")
    # The TLS server name is no secret, but it belongs with the CA it is checked against.
    found = {key: creds.get(key) for key in keys}
    if creds.get("tls_server_name"):
        found["tls_server_name"] = creds["tls_server_name"]
    return found


def _create(
    *,
    actor: User,
    name: str,
    display_name: str,
    source: str,
    parameters: dict,
    credentials: Callable[[], dict],
    request_id: str | None,
) -> Cluster:
    """The one path of every new cluster: superuser check, name checks, credentials, save;
    each refusal audited. `credentials()` reads and checks the source's credentials (raising
    ValidationError or KubeconfigError naming the field)."""
    cluster_add_check(actor=actor, name=name)
    with audit_invalid(
        actor=actor,
        cluster=None,
        kind="cluster",
        name=name,
        verb="create",
        parameters={"source": source, **parameters},
        request_id=request_id,
    ):
        _validate_name(name)
        creds = credentials()
    return _save_new(
        actor=actor,
        name=name,
        display_name=display_name,
        source=source,
        creds=creds,
        request_id=request_id,
    )


def cluster_create_from_kubeconfig(
    *,
    actor: User,
    name: str,
    kubeconfig: bytes | str,
    context: str | None = None,
    display_name: str = "",
    request_id: str | None = None,
) -> Cluster:
    return _create(
        actor=actor,
        name=name,
        display_name=display_name,
        source=ClusterSource.KUBECONFIG,
        parameters={"context": context},
        credentials=lambda: _credentials_from_kubeconfig(kubeconfig, context),
        request_id=request_id,
    )


def _in_cluster_credentials() -> dict:
    if not in_cluster_available():
        raise ValidationError(
            {"source": ["No service account is mounted: this process does not run in a pod."]}
        )
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    host = f"[{host}]" if ":" in host else host
    # The token and CA are read from the mounted files on every connection (they rotate).
    return {"server": f"https://{host}:{port}", "context": "in-cluster"}


def cluster_create_in_cluster(
    *, actor: User, name: str, display_name: str = "", request_id: str | None = None
) -> Cluster:
    return _create(
        actor=actor,
        name=name,
        display_name=display_name,
        source=ClusterSource.IN_CLUSTER,
        parameters={},
        credentials=_in_cluster_credentials,
        request_id=request_id,
    )


def _sandbox_credentials() -> dict:
    if not settings.SANDBOX_KUBECONFIG.is_file():
        raise ValidationError({"source": ["No sandbox is running for this control plane."]})
    return _credentials_from_kubeconfig(settings.SANDBOX_KUBECONFIG.read_bytes(), None)


def cluster_create_sandbox(
    *, actor: User, name: str, display_name: str = "", request_id: str | None = None
) -> Cluster:
    """Add the local sandbox under a new name, checked like every other new cluster."""
    return _create(
        actor=actor,
        name=name,
        display_name=display_name,
        source=ClusterSource.SANDBOX,
        parameters={},
        credentials=_sandbox_credentials,
        request_id=request_id,
    )


def cluster_register_sandbox(
    *,
    actor: User | None = None,
    name: str = "sandbox",
    path: str | Path | None = None,
    display_name: str = "Local sandbox",
) -> Cluster:
    """Register (or refresh the credentials of) the sandbox from its kubeconfig file.

    Idempotent: `make run` calls it on every start, since the sandbox may hand out new
    credentials when it restarts.
    """
    raw = Path(path or settings.SANDBOX_KUBECONFIG).read_bytes()
    creds = _credentials_from_kubeconfig(raw, None)
    existing = Cluster.objects.filter(name=name).first()
    if existing is None:
        return _save_new(
            actor=actor,
            name=name,
            display_name=display_name,
            source=ClusterSource.SANDBOX,
            creds=creds,
            request_id=None,
        )
    try:
        before = existing.connection().key
    except CredentialsUnreadable:
        # Stored under a key no longer configured: they are being replaced, so it changed.
        before = None
    with transaction.atomic():
        existing.server = creds["server"]
        existing.context = creds.get("context", "")
        existing.credentials_encrypted = encrypt_json(_secret_part(creds))
        existing.save()
        if existing.connection().key != before:
            # A restarted sandbox hands out new credentials: a change like any other, audited.
            action_record(
                actor=actor,
                cluster=existing,
                kind="cluster",
                name=name,
                verb="update",
                parameters={"server": existing.server, "kubeconfig": "(refreshed credentials)"},
                status=ActionStatus.SUCCEEDED,
            )
    return existing


def cluster_update(
    *,
    actor: User,
    cluster: Cluster,
    display_name: str | None = None,
    kubeconfig: bytes | str | None = None,
    context: str | None = None,
    logs_for_viewers: bool | None = None,
    request_id: str | None = None,
) -> Cluster:
    changes: dict = {}
    if display_name is not None:
        changes["display_name"] = display_name
    if logs_for_viewers is not None:
        changes["logs_for_viewers"] = logs_for_viewers
    if kubeconfig is not None:
        changes["kubeconfig"] = "(new credentials)"
    action_check(
        actor=actor,
        cluster=cluster,
        namespace=None,
        kind="cluster",
        name=cluster.name,
        verb="update",
        permission="manage_cluster",
        parameters=changes,
        request_id=request_id,
    )
    with (
        audit_invalid(
            actor=actor,
            cluster=cluster,
            kind="cluster",
            name=cluster.name,
            verb="update",
            parameters=changes,
            request_id=request_id,
        ),
        transaction.atomic(),
    ):
        if display_name is not None:
            cluster.display_name = display_name
        if logs_for_viewers is not None:
            cluster.logs_for_viewers = logs_for_viewers
        if kubeconfig is not None:
            if cluster.source == ClusterSource.IN_CLUSTER:
                raise ValidationError(
                    {"kubeconfig": ["This cluster uses the pod's service account."]}
                )
            if cluster.source == ClusterSource.GKE:
                raise ValidationError(
                    {
                        "kubeconfig": [
                            "This cluster gets Google access tokens from its GKE credentials."
                        ]
                    }
                )
            creds = _credentials_from_kubeconfig(kubeconfig, context)
            cluster.server = creds["server"]
            cluster.context = creds.get("context", "")
            cluster.default_namespace = creds.get("namespace") or "default"
            cluster.credentials_encrypted = encrypt_json(_secret_part(creds))
        cluster.save()
        action_record(
            actor=actor,
            cluster=cluster,
            kind="cluster",
            name=cluster.name,
            verb="update",
            parameters={**changes, "server": cluster.server},
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
    return cluster


def cluster_delete(*, actor: User, cluster: Cluster, request_id: str | None = None) -> None:
    action_check(
        actor=actor,
        cluster=cluster,
        namespace=None,
        kind="cluster",
        name=cluster.name,
        verb="delete",
        permission="manage_cluster",
        parameters={},
        request_id=request_id,
    )
    with transaction.atomic():
        action_record(
            actor=actor,
            cluster=cluster,
            kind="cluster",
            name=cluster.name,
            verb="delete",
            parameters={"server": cluster.server},
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
        cluster.delete()
    log.info("cluster %s removed", cluster.name)


def _access_matrix(conn) -> list[dict]:
    checks = [
        (resource, group, sub, verb)
        for resource, group, sub, verbs in ACCESS_CHECKS
        for verb in verbs
    ]

    def review(check):
        resource, group, sub, verb = check
        base = resource.split("/")[0]
        return resources.access_review(conn, verb=verb, resource=base, group=group, subresource=sub)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(review, checks))
    matrix: dict[str, dict] = {}
    for (resource, group, _sub, verb), allowed in zip(checks, answers, strict=True):
        row = matrix.setdefault(resource, {"resource": resource, "group": group, "verbs": {}})
        row["verbs"][verb] = allowed
    return list(matrix.values())


def cluster_test(*, actor: User, cluster: Cluster) -> dict:
    """Reachability, server version and what the stored credentials may do."""
    if not user_can(user=actor, permission="manage_cluster", cluster=cluster):
        raise PermissionDenied("Only admins of this cluster may test its connection.")
    report: dict = {
        "server": cluster.server,
        "reachable": False,
        "version": None,
        "error": "",
        "access": [],
        "access_error": "",
    }
    try:
        conn = cluster.connection()
    except (CredentialsUnreadable, OSError) as exc:
        report["error"] = str(exc)
        return report
    try:
        report["version"] = resources.version(conn).get("gitVersion")
        report["reachable"] = True
    except KubeError as exc:
        report["error"] = f"{exc.__class__.__name__}: {exc}"
        return report
    try:
        report["access"] = _access_matrix(conn)
    except KubeError as exc:
        report["access_error"] = f"{exc.__class__.__name__}: {exc}"
    return report
