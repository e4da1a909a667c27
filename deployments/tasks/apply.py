"""Applying pasted manifests in the worker: every document is dry-run first, so one refused
document leaves the cluster as it was; then each is server-side applied, never forced."""

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import action_task
from controlplane.kube import apply as kube_apply
from controlplane.kube.errors import BadRequest, Conflict, Invalid, KubeError, NotFound

# Errors whose message is rewritten to name the document (others pass through unchanged).
_RENAMED = (BadRequest, Conflict, NotFound)


def _naming(index: int, body: dict, error: KubeError) -> KubeError:
    """The same error, its message prefixed with the document it is about."""
    label = f"document {index} ({body['kind']} {body['metadata']['name']})"
    message = f"{label}: {error.message}"
    if isinstance(error, Invalid):
        return Invalid(message, causes=error.causes, reason=error.reason)
    return type(error)(message, reason=error.reason) if type(error) in _RENAMED else error


def _apply_all(conn, documents: list[dict], namespace: str, *, dry_run: bool) -> list[dict]:
    results = []
    for entry in documents:
        index, body = entry["document"], entry["body"]
        identity = {
            "api_version": body["apiVersion"],
            "kind": body["kind"],
            "namespace": namespace,
            "name": body["metadata"]["name"],
        }
        try:
            existed = True
            if not dry_run:
                try:
                    kube_apply.object_get(conn, **identity)
                except NotFound:
                    existed = False
            kube_apply.object_apply(conn, body=body, namespace=namespace, dry_run=dry_run)
        except (Invalid, BadRequest, Conflict, NotFound) as error:
            raise _naming(index, body, error) from error
        results.append(
            {
                "document": index,
                "kind": body["kind"],
                "name": identity["name"],
                "action": "configured" if existed else "created",
            }
        )
    return results


@action_task
def manifests_apply_task(event: AuditEvent) -> dict:
    conn = event.cluster.connection()
    documents = event.parameters["documents"]
    _apply_all(conn, documents, event.namespace, dry_run=True)
    return {"documents": _apply_all(conn, documents, event.namespace, dry_run=False)}
