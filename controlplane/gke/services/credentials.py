"""GKE credentials per project: kept encrypted, audited at once, never shown again."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record, audit_invalid
from controlplane.clusters.crypto import encrypt_json

from .. import google
from ..models import CredentialKind, GkeCredential
from .checks import (
    MAX_KEY_BYTES,
    _project,
    _refuse,
)

if TYPE_CHECKING:
    from controlplane.accounts.types import User


def gke_credential_create(
    *,
    actor: User,
    project: object,
    key: object = None,
    endpoint: object = "",
    request_id: str | None = None,
) -> GkeCredential:
    """Keep a project's credentials: a service-account key (JSON text or object), or None for
    Application Default Credentials. The key is encrypted at once and never shown again."""
    target = {"actor": actor, "cluster": None, "kind": "gke-credential", "verb": "create"}
    parameters = {"project": project, "endpoint": endpoint, "key": "(uploaded)" if key else "(ADC)"}
    name = str(project)[:63]
    _refuse(
        actor=actor,
        kind="gke-credential",
        name=name,
        verb="create",
        parameters=parameters,
        request_id=request_id,
    )
    with audit_invalid(**target, name=name, parameters=parameters, request_id=request_id):
        project = _project(project)
        endpoint = _endpoint(endpoint)
        info = _key(key, project) if key not in (None, "") else None
        if GkeCredential.objects.filter(project_id=project).exists():
            raise ValidationError(
                {"project": [f"Credentials for {project!r} exist; remove them first."]}
            )
    with transaction.atomic():
        credential = GkeCredential.objects.create(
            project_id=project,
            kind=CredentialKind.SERVICE_ACCOUNT_KEY if info else CredentialKind.APPLICATION_DEFAULT,
            client_email=info["client_email"] if info else "",
            endpoint=endpoint,
            key_encrypted=encrypt_json(info) if info else "",
        )
        action_record(
            **target,
            name=project,
            parameters=parameters,
            status=ActionStatus.SUCCEEDED,
            result={"client_email": credential.client_email},
            request_id=request_id,
        )
    return credential


def _endpoint(value: object) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not re.match(r"^https?://[A-Za-z0-9.\-\[\]:]+/?$", value):
        raise ValidationError(
            {
                "endpoint": [
                    f"Must be an http(s) URL of the API, or empty for Google's; got {value!r}."
                ]
            }
        )
    return value.rstrip("/")


def _key(raw: object, project: str) -> dict:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        if len(raw) > MAX_KEY_BYTES:
            raise ValidationError(
                {"key": [f"A key file is a few KiB; this one has {len(raw)} bytes."]}
            )
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ValidationError(
                {"key": ["Must be the service-account key file (JSON)."]}
            ) from None
    problem = google.key_problem(raw)
    if problem is not None:
        raise ValidationError({"key": [problem[0].upper() + problem[1:] + "."]})
    if raw["project_id"] != project:
        raise ValidationError(
            {"key": [f"The key belongs to project {raw['project_id']!r}, not {project!r}."]}
        )
    return raw


def gke_credential_delete(
    *, actor: User, credential: GkeCredential, request_id: str | None = None
) -> None:
    parameters = {"project": credential.project_id}
    _refuse(
        actor=actor,
        kind="gke-credential",
        name=credential.project_id,
        verb="delete",
        parameters=parameters,
        request_id=request_id,
    )
    with transaction.atomic():
        action_record(
            actor=actor,
            cluster=None,
            kind="gke-credential",
            name=credential.project_id,
            verb="delete",
            parameters=parameters,
            status=ActionStatus.SUCCEEDED,
            request_id=request_id,
        )
        credential.delete()
