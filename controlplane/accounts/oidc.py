"""The OpenID provider: the one module that talks to it.

Discovery (OIDC_ISSUER's /.well-known/openid-configuration), the authorization request
(authorization code flow with PKCE S256, state and nonce kept in the session), the code
exchange and the ID token check. The cryptography is Authlib's: the ID token's signature is
verified against the provider's JWKS (fetched again when a key id is unknown, so key
rotation works), and its issuer, audience, expiry, nonce and at_hash are validated.

Every way this can fail raises SsoFailure with a reason from REASONS and a detail that never
carries a secret (client secret, code, tokens, PKCE verifier): they are never put in an
exception message, a log line or the audit log.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App
from django.conf import settings
from joserfc.errors import ClaimError, JoseError

# Why a single sign-on failed, as the audit log says it.
BAD_STATE = "bad state"
INVALID_TOKEN = "invalid token"  # noqa: S105 (a reason, not a secret)
UNKNOWN_ISSUER = "unknown issuer"
DEACTIVATED_USER = "deactivated user"
PROVIDER_ERROR = "provider error"
PROVIDER_UNAVAILABLE = "provider unavailable"
NOT_CONFIGURED = "not configured"
REASONS = (
    BAD_STATE,
    INVALID_TOKEN,
    UNKNOWN_ISSUER,
    DEACTIVATED_USER,
    PROVIDER_ERROR,
    PROVIDER_UNAVAILABLE,
    NOT_CONFIGURED,
)

# Discovery metadata is read again after this long (the JWKS too, and at once on an unknown
# key id); clock skew allowed on exp/iat, in seconds.
METADATA_MAX_AGE = 3600
LEEWAY = 60
# Groups beyond this many, or longer than this, are ignored (a claim is input like any other).
GROUPS_MAX = 1000
GROUP_LENGTH_MAX = 255


class SsoFailure(Exception):
    def __init__(self, reason: str, detail: str = ""):
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    provider_name: str
    groups_claim: str
    scopes: str
    timeout: float

    def __repr__(self) -> str:  # the secret stays out of any traceback or log line
        return f"OidcConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from a verified ID token."""

    issuer: str
    subject: str
    preferred_username: str
    email: str
    groups: tuple[str, ...]
    # Kept in the session for RP-initiated logout (id_token_hint); never shown or logged.
    id_token: str = field(default="", repr=False)


def oidc_config() -> OidcConfig | None:
    """The configured provider, or None when single sign-on is off."""
    issuer = getattr(settings, "OIDC_ISSUER", "")
    client_id = getattr(settings, "OIDC_CLIENT_ID", "")
    client_secret = getattr(settings, "OIDC_CLIENT_SECRET", "")
    if not (issuer and client_id and client_secret):
        return None
    return OidcConfig(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        provider_name=getattr(settings, "OIDC_PROVIDER_NAME", "") or "single sign-on",
        groups_claim=getattr(settings, "OIDC_GROUPS_CLAIM", "") or "groups",
        scopes=getattr(settings, "OIDC_SCOPES", "") or "openid",
        timeout=float(getattr(settings, "OIDC_TIMEOUT", 10)),
    )


_apps: dict[OidcConfig, DjangoOAuth2App] = {}
_apps_lock = threading.Lock()


def _app(config: OidcConfig) -> DjangoOAuth2App:
    """Authlib's client for `config`, kept per process (it caches discovery and the JWKS)."""
    with _apps_lock:
        app = _apps.get(config)
        if app is None:
            scopes = config.scopes.split()
            if "openid" not in scopes:
                scopes.insert(0, "openid")  # without it there is no ID token and no nonce
            app = DjangoOAuth2App(
                framework=DjangoIntegration("oidc"),
                name="oidc",
                client_id=config.client_id,
                client_secret=config.client_secret,
                server_metadata_url=config.issuer.rstrip("/") + "/.well-known/openid-configuration",
                client_kwargs={
                    "scope": " ".join(scopes),
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": "client_secret_basic",
                    "default_timeout": config.timeout,
                },
            )
            _apps[config] = app
        loaded = app.server_metadata.get("_loaded_at")
        if loaded is not None and time.time() - loaded > METADATA_MAX_AGE:
            app.server_metadata.clear()
        return app


def _metadata(config: OidcConfig, app: DjangoOAuth2App) -> dict:
    try:
        metadata = app.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise SsoFailure(PROVIDER_UNAVAILABLE, f"discovery failed ({type(exc).__name__})") from None
    if metadata.get("issuer") != config.issuer:
        # A discovery document for another issuer: nothing it names can be trusted.
        app.server_metadata.clear()
        raise SsoFailure(UNKNOWN_ISSUER, "the discovery document names another issuer")
    return metadata


def authorization_url(*, request, redirect_uri: str) -> str:
    """Start a sign-in: keep state, nonce and PKCE verifier in the session; the URL to go to."""
    config = oidc_config()
    if config is None:
        raise SsoFailure(NOT_CONFIGURED)
    app = _app(config)
    metadata = _metadata(config, app)
    # The code comes back in the fragment, never sent to a server, so no access log holds it.
    modes = metadata.get("response_modes_supported") or ["query", "fragment"]
    extra = {"response_mode": "fragment"} if "fragment" in modes else {}
    try:
        found = app.create_authorization_url(redirect_uri, **extra)
    except requests.RequestException as exc:
        raise SsoFailure(PROVIDER_UNAVAILABLE, type(exc).__name__) from None
    app.save_authorize_data(request, redirect_uri=redirect_uri, **found)
    return found["url"]


def _text(value, limit: int = 200) -> str:
    return str(value or "")[:limit]


def _groups(claims, name: str) -> tuple[str, ...]:
    value = claims.get(name)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    groups = {g for g in value if isinstance(g, str) and g and len(g) <= GROUP_LENGTH_MAX}
    return tuple(sorted(groups)[:GROUPS_MAX])


def authorization_finish(*, request) -> Identity:
    """Finish a sign-in from the provider's answer (posted by the callback page from the
    fragment, or in the query string): check the state, exchange the code (with the PKCE
    verifier), verify the ID token. Raises SsoFailure."""
    config = oidc_config()
    if config is None:
        raise SsoFailure(NOT_CONFIGURED)
    app = _app(config)
    params = request.POST if request.method == "POST" else request.GET
    state = params.get("state") or ""
    saved = app.framework.get_state_data(request.session, state) if state else None
    if state:
        app.framework.clear_state_data(request.session, state)  # one use only
    if not saved or "nonce" not in saved:
        raise SsoFailure(BAD_STATE, "no sign-in was started with this state in this session")
    if params.get("error"):
        raise SsoFailure(PROVIDER_ERROR, _text(params.get("error"), 100))
    metadata = _metadata(config, app)
    # RFC 9207: the provider names itself in the redirect, so a mix-up is caught here.
    issuer = params.get("iss")
    if issuer and issuer != config.issuer:
        raise SsoFailure(UNKNOWN_ISSUER, "the redirect names another issuer")
    if metadata.get("authorization_response_iss_parameter_supported") and not issuer:
        raise SsoFailure(UNKNOWN_ISSUER, "the redirect names no issuer")
    code = params.get("code")
    if not code:
        raise SsoFailure(PROVIDER_ERROR, "no authorization code")
    try:
        token = app.fetch_access_token(
            code=code,
            redirect_uri=saved.get("redirect_uri"),
            code_verifier=saved.get("code_verifier"),
        )
    except OAuthError as exc:
        detail = f"the token endpoint refused the code ({exc.error})"
        raise SsoFailure(INVALID_TOKEN, detail) from None
    except (requests.RequestException, ValueError) as exc:
        raise SsoFailure(
            PROVIDER_UNAVAILABLE, f"token endpoint failed ({type(exc).__name__})"
        ) from None
    if not token.get("id_token"):
        raise SsoFailure(INVALID_TOKEN, "the token response holds no ID token")
    claims = id_token_verify(config=config, token=token, nonce=saved["nonce"])
    return Identity(
        issuer=claims["iss"],
        subject=_text(claims["sub"], 255),
        preferred_username=_text(claims.get("preferred_username"), 150),
        email=_text(claims.get("email"), 254),
        groups=_groups(claims, config.groups_claim),
        id_token=token["id_token"],
    )


def id_token_verify(*, config: OidcConfig, token: dict, nonce: str) -> dict:
    """The ID token's claims once its signature (JWKS), issuer, audience, expiry, nonce and
    at_hash are checked; raises SsoFailure otherwise."""
    app = _app(config)
    _metadata(config, app)
    options = {
        "iss": {"essential": True, "value": config.issuer},
        "aud": {"essential": True, "value": config.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
    }
    try:
        claims = app.parse_id_token(token, nonce=nonce, claims_options=options, leeway=LEEWAY)
    except ClaimError as exc:
        reason = UNKNOWN_ISSUER if exc.claim == "iss" else INVALID_TOKEN
        raise SsoFailure(reason, f"{exc.error}: {exc.claim}") from None
    except JoseError as exc:
        raise SsoFailure(INVALID_TOKEN, exc.error) from None
    except requests.RequestException as exc:
        raise SsoFailure(
            PROVIDER_UNAVAILABLE, f"JWKS fetch failed ({type(exc).__name__})"
        ) from None
    except ValueError as exc:
        raise SsoFailure(INVALID_TOKEN, f"unreadable ID token ({type(exc).__name__})") from None
    return dict(claims)


def logout_at_provider_enabled() -> bool:
    return oidc_config() is not None and bool(getattr(settings, "OIDC_LOGOUT_AT_PROVIDER", True))


def end_session_url(*, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """Where to send the browser so the provider ends its session too (OpenID Connect
    RP-Initiated Logout 1.0), or None when sign-on or this is off or the provider publishes
    no end_session_endpoint. Raises SsoFailure when discovery fails."""
    config = oidc_config()
    if config is None or not logout_at_provider_enabled():
        return None
    endpoint = _metadata(config, _app(config)).get("end_session_endpoint")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in {"http", "https"}:
        return None
    parts = urlsplit(endpoint)
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "client_id": config.client_id,
        }
    )
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))
