""" "Apply YAML": the preview (a server-side dry run) and the apply (an action).

The preview calls the cluster in the request, which the rest of the app avoids: it is a dry
run (dryRun=All), so the API server validates, defaults and answers, and stores nothing;
nothing changes, so nothing is audited but a refusal. The apply is an action like any other:
role check, audit row, Celery task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from controlplane.audit.services import action_check, action_submit, audit_invalid
from controlplane.kube import apply as kube_apply
from controlplane.kube.errors import BadRequest, Conflict, Forbidden, Invalid, KubeError, NotFound
from controlplane.kube.names import validate_object_names

from ..apply import error_fields, manifests_namespace, manifests_parse, plan_entry
from ..tasks.apply import manifests_apply_task

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.audit.models import AuditEvent
    from controlplane.clusters.models import Cluster
    from controlplane.kube.connection import ClusterConnection

# Refusals of one document: reported on it, while the other documents are still previewed.
DOCUMENT_ERRORS = (Invalid, BadRequest, Conflict, Forbidden, NotFound)


def _label(body: dict) -> str:
    return f"{body['kind']} {body['metadata']['name']}"


def _target(*, actor: User, cluster: Cluster, namespace: str) -> dict:
    return {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "manifests",
        "name": "",
        "verb": "apply",
    }


def _namespace(*, text: object, namespace: object) -> str:
    """The request's namespace, else the one the documents name; checked as Kubernetes
    checks it."""
    if namespace in (None, ""):
        namespace = manifests_namespace(text=text)
    if not isinstance(namespace, str) or not namespace:
        raise ValidationError(
            {"namespace": ["Required: neither the request nor any document names a namespace."]}
        )
    validate_object_names(namespace=namespace)
    return namespace


def _checked(*, target: dict, text: object, dry_run: bool, request_id: str | None) -> list[dict]:
    # The YAML itself is not recorded: it may be large; its parsed documents are (on apply).
    raw = {"dry_run": dry_run}
    action_check(**target, permission="apply", parameters=raw, request_id=request_id)
    with audit_invalid(**target, parameters=raw, request_id=request_id):
        return manifests_parse(text=text, namespace=target["namespace"])


def document_error(*, index: int, body: dict, error: KubeError) -> dict:
    return {
        "document": index,
        "object": _label(body),
        "reason": error.reason or error.__class__.__name__,
        "message": error.message,
        "fields": error_fields(message=error.message, causes=getattr(error, "causes", [])),
    }


def document_plan(conn: ClusterConnection, *, index: int, body: dict, namespace: str) -> dict:
    """What applying `body` would do: create, change (with the diff) or nothing; or why the
    API server refuses it. Unavailable is raised: the whole preview is then unavailable."""
    entry = {
        "document": index,
        "kind": body["kind"],
        "name": body["metadata"]["name"],
        "api_version": body["apiVersion"],
    }
    identity = {
        "api_version": body["apiVersion"],
        "kind": body["kind"],
        "namespace": namespace,
        "name": body["metadata"]["name"],
    }
    try:
        try:
            live = kube_apply.object_get(conn, **identity)
        except NotFound:
            live = None
        result = kube_apply.object_apply(conn, body=body, namespace=namespace, dry_run=True)
    except DOCUMENT_ERRORS as error:
        return {
            **entry,
            "action": "error",
            "diff": "",
            "error": document_error(index=index, body=body, error=error),
        }
    return {**entry, **plan_entry(live=live, result=result), "error": None}


def manifests_preview(
    *,
    actor: User,
    cluster: Cluster,
    namespace: object,
    text: object,
    request_id: str | None = None,
) -> dict:
    """The per-document plan of applying `text` in `namespace` (or the documents' own);
    nothing changes."""
    namespace = _namespace(text=text, namespace=namespace)
    target = _target(actor=actor, cluster=cluster, namespace=namespace)
    documents = _checked(target=target, text=text, dry_run=True, request_id=request_id)
    conn = cluster.connection()
    plan = [
        document_plan(conn, index=d["document"], body=d["body"], namespace=namespace)
        for d in documents
    ]
    return {
        "namespace": namespace,
        "dry_run": True,
        "valid": all(entry["action"] != "error" for entry in plan),
        "documents": plan,
    }


def manifests_apply(
    *,
    actor: User,
    cluster: Cluster,
    namespace: object,
    text: object,
    request_id: str | None = None,
) -> AuditEvent:
    """Ask for the documents of `text` to be applied in `namespace` (or the documents' own);
    returns the pending action."""
    namespace = _namespace(text=text, namespace=namespace)
    target = _target(actor=actor, cluster=cluster, namespace=namespace)
    documents = _checked(target=target, text=text, dry_run=False, request_id=request_id)
    target["name"] = ", ".join(_label(d["body"]) for d in documents)[:253]
    return action_submit(
        **target,
        permission="apply",
        parameters={"documents": documents},
        task=manifests_apply_task,
        request_id=request_id,
    )
