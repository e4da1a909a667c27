"""HTTP: the container v1 REST paths the official client's REST transport calls, the OAuth2
token endpoint, and /sandbox/v1/keys to mint and revoke service-account keys."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from aiohttp import web

from .auth import AuthError, TokenService
from .engine import Engine
from .errors import GoogleError

log = logging.getLogger(__name__)

ENGINE: web.AppKey = web.AppKey("gke.engine", Engine)
TOKENS: web.AppKey = web.AppKey("gke.tokens", TokenService)

_SEE = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_SEG = r"([^/:]+)"
_LOC = rf"^/v1/projects/{_SEG}/locations/{_SEG}"
# (method, pattern, handler name): the name= / parent= forms of container v1.
ROUTES: list[tuple[str, re.Pattern, str]] = [
    ("GET", re.compile(_LOC + r"/clusters$"), "list_clusters"),
    ("POST", re.compile(_LOC + r"/clusters$"), "create_cluster"),
    ("GET", re.compile(_LOC + rf"/clusters/{_SEG}$"), "get_cluster"),
    ("DELETE", re.compile(_LOC + rf"/clusters/{_SEG}$"), "delete_cluster"),
    ("GET", re.compile(_LOC + rf"/clusters/{_SEG}/nodePools$"), "list_pools"),
    ("POST", re.compile(_LOC + rf"/clusters/{_SEG}/nodePools$"), "create_pool"),
    ("GET", re.compile(_LOC + rf"/clusters/{_SEG}/nodePools/{_SEG}$"), "get_pool"),
    ("DELETE", re.compile(_LOC + rf"/clusters/{_SEG}/nodePools/{_SEG}$"), "delete_pool"),
    ("POST", re.compile(_LOC + rf"/clusters/{_SEG}/nodePools/{_SEG}:setSize$"), "set_size"),
    (
        "POST",
        re.compile(_LOC + rf"/clusters/{_SEG}/nodePools/{_SEG}:setAutoscaling$"),
        "set_autoscaling",
    ),
    ("GET", re.compile(_LOC + r"/operations$"), "list_operations"),
    ("GET", re.compile(_LOC + rf"/operations/{_SEG}$"), "get_operation"),
]
_WITH_BODY = {"create_cluster", "create_pool", "set_size", "set_autoscaling"}


def _error(exc: GoogleError) -> web.Response:
    return web.json_response(exc.body(), status=exc.http_code)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def _principal(request: web.Request) -> str:
    bearer = _bearer(request)
    if not bearer:
        raise GoogleError(
            "UNAUTHENTICATED", f"Request is missing required authentication credential. {_SEE}"
        )
    who = request.app[TOKENS].principal(bearer)
    if who is None:
        raise GoogleError(
            "UNAUTHENTICATED", f"Request had invalid authentication credentials. {_SEE}"
        )
    return who


async def api(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    try:
        who = _principal(request)
        for method, pattern, name in ROUTES:
            match = pattern.match(request.path)
            if match is None or method != request.method:
                continue
            project = match.group(1)
            if not who.endswith(f"@{project}.iam.gserviceaccount.com"):
                raise GoogleError(
                    "PERMISSION_DENIED",
                    f"Permission 'container.clusters.list' denied on resource "
                    f"'projects/{project}' (or it may not exist).",
                )
            args = list(match.groups())
            if name in _WITH_BODY:
                args.append(await _json_body(request))
            handler: Callable = getattr(engine, name)
            return web.json_response(handler(*args))
        raise GoogleError("NOT_FOUND", f"The requested URL {request.path} was not found.")
    except GoogleError as exc:
        return _error(exc)


async def _json_body(request: web.Request) -> dict:
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise GoogleError("INVALID_ARGUMENT", "Invalid JSON payload received.") from None
    if not isinstance(body, dict):
        raise GoogleError("INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
    return body


async def token(request: web.Request) -> web.Response:
    form = await request.post()
    # google-auth sets the JWT audience to the key's token_uri: this endpoint's address.
    audience = token_uri(request.app)
    try:
        answer = request.app[TOKENS].grant(
            grant_type=str(form.get("grant_type", "")),
            assertion=str(form.get("assertion", "")),
            audience=audience,
        )
    except AuthError as exc:
        return web.json_response(
            {"error": exc.error, "error_description": exc.description}, status=400
        )
    request.app[ENGINE].save()
    return web.json_response(answer)


async def key_create(request: web.Request) -> web.Response:
    try:
        _principal(request)
        body = await _json_body(request)
    except GoogleError as exc:
        return _error(exc)
    project = str(body.get("project_id") or "sandbox-project")
    account = str(body.get("account") or "controlplane")
    key = request.app[TOKENS].make_key(
        project_id=project, account=account, token_uri=token_uri(request.app)
    )
    request.app[ENGINE].save()
    return web.json_response(key, status=201)


async def key_revoke(request: web.Request) -> web.Response:
    try:
        _principal(request)
    except GoogleError as exc:
        return _error(exc)
    if not request.app[TOKENS].revoke_key(request.match_info["key_id"]):
        return _error(GoogleError("NOT_FOUND", "Not found: key."))
    request.app[ENGINE].save()
    return web.json_response({})


def token_uri(app: web.Application) -> str:
    return f"{app[ENGINE].base_url}/token"


def make_app(engine: Engine, tokens: TokenService) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[ENGINE] = engine
    app[TOKENS] = tokens
    app.router.add_post("/token", token)
    app.router.add_post("/sandbox/v1/keys", key_create)
    app.router.add_delete("/sandbox/v1/keys/{key_id}", key_revoke)
    app.router.add_route("*", "/v1/{tail:.*}", api)
    return app
