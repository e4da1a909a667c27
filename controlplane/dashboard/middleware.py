"""Middleware of the pages: signed-out htmx requests go to the login page as a whole page."""

from urllib.parse import urlsplit

from django.conf import settings
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
