"""Middleware of the pages: signed-out htmx requests go to the login page as a whole page;
every response carries a strict Content-Security-Policy."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import QueryDict
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session has ended (logged out in another tab, expired) would
    follow the login redirect inside the XHR and swap the login page into a card. Instead the
    browser is sent to the login page, with `next` the page it is on (HX-Current-URL, same
    origin only), so signing in brings the person back to it.

    Must come after AuthenticationMiddleware and django-htmx's HtmxMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code not in (301, 302, 303, 307, 308):
            return response
        if request.user.is_authenticated:
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        back = htmx.current_url_abs_path  # None unless the page is on this site
        if not back:
            return HttpResponseClientRedirect(login)
        query = QueryDict(mutable=True)
        query["next"] = back
        return HttpResponseClientRedirect(f"{login}?{query.urlencode(safe='/')}")


# Everything the pages load comes from this site: htmx from django-htmx's static files, the
# project's own JS and CSS, no inline scripts, styles or handlers. Websockets go back to the
# same host (ws:/wss: are named explicitly: older browsers don't count them as 'self').
CONTENT_SECURITY_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self' {websockets}",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
# The API docs page is drf-spectacular's Swagger UI (from the installed sidecar package): its
# template has an inline <style> and <script>, and Swagger UI sets style attributes.
RELAXED_PREFIXES = {
    "/api/docs/": (
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
    ),
}


def content_security_policy(request) -> str:
    try:
        host = request.get_host()
    except DisallowedHost:
        websockets = ""
    else:
        websockets = f"ws://{host} wss://{host}"
    directives = {d.split(" ", 1)[0]: d for d in CONTENT_SECURITY_POLICY}
    for prefix, relaxed in RELAXED_PREFIXES.items():
        if request.path.startswith(prefix):
            directives.update({d.split(" ", 1)[0]: d for d in relaxed})
    return "; ".join(directives.values()).format(websockets=websockets).replace("  ", " ")


class ContentSecurityPolicyMiddleware:
    """Sends the Content-Security-Policy above with every response (a view that sets its
    own keeps it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(request)
        return response
