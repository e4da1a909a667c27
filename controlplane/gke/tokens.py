"""Bearer tokens of registered GKE clusters: Google access tokens minted through google-auth
from the project's GKE credentials, refreshed when they expire (no exec plugin)."""

from __future__ import annotations

import logging

from django.utils import timezone

from controlplane.kube.errors import Unauthorized, Unavailable

from . import google
from .errors import GkeError, GkeUnavailable
from .models import GkeCredential

log = logging.getLogger(__name__)


def cluster_token(stored: dict) -> str:
    """The token provider of `gke` clusters (controlplane.clusters.tokens)."""
    credential = GkeCredential.objects.filter(pk=stored.get("gke_credential")).first()
    if credential is None:
        raise Unauthorized("the GKE credentials this cluster was registered with were removed")
    try:
        token, _expiry = google.access_token(
            credential_id=credential.pk, fingerprint=credential.fingerprint, key=credential.key()
        )
    except GkeUnavailable as exc:
        raise Unavailable(f"GKE project {credential.project_id}: {exc.message}") from exc
    except GkeError as exc:
        credential_error_record(credential=credential, error=exc.message)
        raise Unauthorized(f"GKE project {credential.project_id}: {exc.message}") from exc
    if credential.last_error:
        GkeCredential.objects.filter(pk=credential.pk).update(last_error="", last_error_at=None)
    return token


def credential_error_record(*, credential: GkeCredential, error: str) -> None:
    """Keep what Google said about the credentials, for the GKE pages to report."""
    log.warning("GKE credentials of project %s refused: %s", credential.project_id, error)
    GkeCredential.objects.filter(pk=credential.pk).update(
        last_error=error[:2000], last_error_at=timezone.now()
    )
