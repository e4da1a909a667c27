"""The websocket origin check: scheme, host and port must be the page's own.

Channels' AllowedHostsOriginValidator compares host names only, so a page served from
http://127.0.0.1:9999 (any other local program) or https://localhost could open the live
socket with the user's cookie. A browser sends the page's exact origin; it must equal the
origin of the server it connects to, or be one of CSRF_TRUSTED_ORIGINS (proxies in front).
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> str | None:
    """ "scheme://host:port" with the default port made explicit; None if malformed."""
    try:
        parts = urlsplit(origin)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope) -> bool:
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    if origin is None or host is None:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    own = normalize_origin(f"{scheme}://{host}")
    trusted = {normalize_origin(o) for o in settings.CSRF_TRUSTED_ORIGINS}
    given = normalize_origin(origin)
    return given is not None and (given == own or given in trusted)


class SameOriginValidator:
    """ASGI middleware: deny the websocket handshake unless origin_allowed(scope)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
