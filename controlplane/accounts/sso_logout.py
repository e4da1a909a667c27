"""Logging out of a single sign-on session at the provider too (RP-initiated logout).

The local session ends first, whatever the provider does. The browser then has to be sent
to the provider's end_session_endpoint, but not by the logout form's own answer: the pages'
Content-Security-Policy (form-action 'self') stops a form whose answer redirects to another
site. So the logout answers with a page of this site that moves on at once (a Refresh
header, no script) to `sso_logout_continue`, which redirects to the provider. The ID token
travels as id_token_hint in that redirect only: in between it waits in the fresh, anonymous
session, never in a page.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .oidc import SsoFailure, end_session_url, logout_at_provider_enabled, oidc_config

log = logging.getLogger(__name__)

# Session keys: the ID token of a single sign-on (while signed in), and the one waiting to be
# handed to the provider (after the local logout).
SSO_ID_TOKEN = "sso_id_token"  # noqa: S105 (a session key, not a secret)
_PENDING = "sso_logout_id_token"


def _post_logout_redirect_uri(request) -> str:
    configured = getattr(settings, "OIDC_POST_LOGOUT_REDIRECT_URI", "")
    return configured or request.build_absolute_uri(reverse("login"))


def _provider_url(request, id_token: str) -> str | None:
    try:
        return end_session_url(
            id_token=id_token, post_logout_redirect_uri=_post_logout_redirect_uri(request)
        )
    except SsoFailure as failure:
        log.warning("logout at the provider skipped: %s", failure)
        config = oidc_config()
        name = config.provider_name if config else "the provider"
        messages.warning(
            request,
            f"You are logged out here, but {name} could not be reached to end your session "
            "there; log out there yourself on a shared computer.",
        )
        return None


def sso_logout_after_local(request, *, id_token: str, response):
    """Called once the local session has ended: the page that moves on to the provider, or
    `response` (the ordinary logout answer) when there is nowhere to go."""
    if not id_token or not logout_at_provider_enabled():
        return response
    if _provider_url(request, id_token) is None:
        return response
    request.session[_PENDING] = id_token
    config = oidc_config()
    page = render(
        request,
        "registration/sso_logout.html",
        {"sso_name": config.provider_name if config else "single sign-on"},
    )
    page["Refresh"] = f"0; url={reverse('sso-logout')}"
    return page


@never_cache
@require_GET
def sso_logout_continue(request):
    """Off to the provider's end_session_endpoint, once, right after a local logout."""
    id_token = request.session.pop(_PENDING, "")
    if not id_token or request.user.is_authenticated:
        return redirect("login")
    url = _provider_url(request, id_token)
    return redirect(url) if url else redirect("login")
