"""Clusters whose bearer token is short-lived and minted on demand by the app that created
them (GKE: Google access tokens through google-auth), instead of stored.

The clusters app sits below the feature apps and must not import them, so such an app
registers its provider here from its AppConfig.ready(). A provider gets the cluster's stored
(decrypted) credentials and returns a token, or raises a controlplane.kube.errors.KubeError
(Unauthorized when the credentials were refused) that pages and tasks already report.
"""

from __future__ import annotations

from collections.abc import Callable

from controlplane.kube.errors import Unauthorized

_PROVIDERS: dict[str, Callable[[dict], str]] = {}


def token_provider_register(*, source: str, provider: Callable[[dict], str]) -> None:
    """Registering a source twice replaces its provider (autoreload calls ready() again)."""
    _PROVIDERS[source] = provider


def token_provider_token(*, source: str, stored: dict) -> str:
    provider = _PROVIDERS.get(source)
    if provider is None:
        raise Unauthorized(f"no token provider for {source} clusters is installed in this process")
    return provider(stored)
